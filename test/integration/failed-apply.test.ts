/**
 * Defect 4: a failed apply must keep every port's policy. Here the apply fails in the kernel's
 * verifier (VNF_BPF_OBJECTS points at a copy of build/bpf whose firewall object is rejected)
 * after it has already changed the kernel (a changed entry object loads first and is pinned),
 * together with a policy change in the file: the firewalled port still enforces its old policy,
 * ports without a firewall are untouched, the error carries the verifier log, and a plain apply
 * afterwards converges.
 */
import t from 'tap';
import { appendFileSync, copyFileSync, cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp } from '../helpers/lab.js';
import { ping } from '../helpers/netns.js';
import { ROOT, testObject } from '../helpers/paths.js';
import { getTopology, tcpConnect, tcpListen } from '../helpers/vnf.js';
import { progsDir } from '../../src/model/names.js';

const topology = (icmpFrom: string, tcpPorts: string): string => `
apiVersion: vnf/v1
name: NAME
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.65.1.10/24 } } }
  db: { interfaces: { eth0: { network: back, ip: 10.65.2.10/24 } } }
  other: { interfaces: { eth0: { network: back, ip: 10.65.2.20/24 } } }
networks:
  front: { subnet: 10.65.1.0/24 }
  back: { subnet: 10.65.2.0/24 }
routers:
  r: { ports: { front: 10.65.1.1/24, back: 10.65.2.1/24 } }
firewalls:
  web-in:
    attach: [web/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: tcp, from: 10.65.2.0/24, ports: [${tcpPorts}] }
        - { action: allow, proto: icmp, icmp-type: echo-request, from: ${icmpFrom} }
    egress:
      default: allow
`;
const OLD = topology('10.65.2.10/32', '80');
const NEW = topology('10.65.2.0/24', '80, 22');

type Ops = Array<{ kind: string }>;
const planOps = (file: string): Ops => (JSON.parse(vnfctl(['plan', '-f', file, '-o', 'json']).stdout) as { ops: Ops }).ops;

if (requirePrivileges(t)) {
  t.test('an apply rejected by the verifier keeps the old policy on the firewalled port and touches no other port', async (t) => {
    const lab = labUp(t, OLD, ['web', 'db', 'other']);
    const objects = mkdtempSync(join(tmpdir(), 'vnf-objs-'));
    t.teardown(() => rmSync(objects, { recursive: true, force: true }));
    cpSync(join(ROOT, 'build', 'bpf'), objects, { recursive: true });
    copyFileSync(testObject('firewall_rejected'), join(objects, 'firewall.bpf.o'));
    // A different entry build (the same program, one byte more in the file): it loads and is pinned
    // before the firewall object fails, so the failure comes after the apply changed the kernel.
    appendFileSync(join(objects, 'entry.bpf.o'), Buffer.alloc(1));

    await tcpListen(t, lab.ns('web'), 80);
    await tcpListen(t, lab.ns('web'), 22);
    const oldPolicy = (when: string): void => {
      t.equal(ping(lab.ns('db'), '10.65.1.10', 2), 2, `${when}: db pings web (allowed)`);
      t.equal(ping(lab.ns('other'), '10.65.1.10', 2), 0, `${when}: other cannot ping web (old policy: echo from db only)`);
      t.equal(tcpConnect(lab.ns('db'), '10.65.1.10', 80), 0, `${when}: db connects to web:80 (allowed)`);
      t.not(tcpConnect(lab.ns('db'), '10.65.1.10', 22), 0, `${when}: db cannot connect to web:22 (old policy: default drop)`);
      t.equal(ping(lab.ns('db'), '10.65.2.20', 2), 2, `${when}: db and other (no firewall) still talk`);
    };
    oldPolicy('before');
    const before = getTopology(lab.name).interfaces;
    const entryPins = readdirSync(progsDir(lab.name)).filter((p) => p.startsWith('vnf_entry_in@'));

    writeFileSync(lab.file, NEW.replaceAll('NAME', lab.name));
    const r = vnfctl(['apply', '-f', lab.file], { env: { ...process.env, VNF_BPF_OBJECTS: objects } });
    t.equal(r.status, 1, 'apply fails (exit 1)');
    t.match(r.stderr, /bpf_object__load failed: EACCES.*firewall\.bpf\.o/, 'the failure is the load of the firewall object');
    t.match(r.stderr, /verifier log:\n[\s\S]*invalid access to packet/, 'stderr carries the verifier log');
    t.equal(readdirSync(progsDir(lab.name)).filter((p) => p.startsWith('vnf_entry_in@')).length, entryPins.length + 1,
      'the apply had changed the kernel before it failed (a new entry build is pinned)');

    oldPolicy('after the failed apply');
    t.same(getTopology(lab.name).interfaces, before, 'every port keeps its chains and links');
    const left = planOps(lab.file).filter((o) => o.kind !== 'load');
    t.ok(left.some((o) => o.kind === 'group-write'), 'the new rule set was never written (the plan still has it)');

    const fix = vnfctl(['apply', '-f', lab.file]);
    t.equal(fix.status, 0, `a plain apply converges: ${fix.stderr}`);
    t.same(planOps(lab.file), [], 'plan shows nothing after it');
    t.match(vnfctl(['plan', '-f', lab.file]).stdout, /no changes/);
    t.equal(readdirSync(progsDir(lab.name)).filter((p) => p.startsWith('vnf_entry_in@')).length, 1, "the failed apply's entry build is unpinned");
    t.equal(ping(lab.ns('other'), '10.65.1.10', 2), 2, 'the new policy is in force: other pings web');
    t.equal(tcpConnect(lab.ns('db'), '10.65.1.10', 22), 0, 'and db connects to web:22');
    t.equal(ping(lab.ns('db'), '10.65.2.20', 2), 2, 'ports without a firewall still talk');
  });
}
