/**
 * The vnf CNI plugin driven the way the CNI spec describes (1.0.0 and 1.1.0): every command with
 * good and bad input, checking exit codes and the JSON on stdout, and what the kernel holds
 * afterwards. ADD's attachment is proven with real packets: identity (a forged source address
 * goes nowhere), the firewall the configuration names or the network's default, the router.
 * Concurrent ADDs serialise and lose nothing; DEL is idempotent, also when the namespace is gone;
 * GC removes what the runtime no longer knows; delegated IPAM (host-local) and a chained portmap
 * work. Nothing of a refused ADD is left behind.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, type Lab } from '../helpers/lab.js';
import { createNetns, netnsPath, nsExec, nsRun, ping } from '../helpers/netns.js';
import { cni, cniAsync, cniHostLinks, type CniEnv } from '../helpers/cni.js';
import { run } from '../helpers/sh.js';
import { getTopology } from '../helpers/vnf.js';
import { cniHostVeth } from '../../src/cni/names.js';

const FILE = `
apiVersion: vnf/v1
name: NAME
containers:
  a: { interfaces: { eth0: { network: front, ip: 10.63.1.10/24 } } }
  srv: { interfaces: { eth0: { network: back, ip: 10.63.2.10/24 } } }
networks:
  front: { subnet: 10.63.1.0/24 }
  back: { subnet: 10.63.2.0/24 }
routers:
  r:
    ports: { front: 10.63.1.1/24, back: 10.63.2.1/24 }
    routes: [{ to: 10.99.0.0/16, via: 10.63.2.2 }]
firewalls:
  guard:
    attach: [a/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: icmp, from: 10.63.2.0/24 }
`;

const conf = (lab: Lab, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ cniVersion: '1.0.0', name: `${lab.name}-net`, type: 'vnf', topology: lab.name, network: 'front', firewall: 'guard', ...extra });

const attached = (lab: Lab): Array<{ ifname: string; ip: string; chainIn: string[] }> =>
  getTopology(lab.name).interfaces.filter((i) => i.owner === 'attached').map((i) => ({ ifname: i.ifname, ip: i.ip, chainIn: i.chainIn }));

/** A container: a bare namespace the runtime made, and the CNI environment for it. */
function container(t: Test, id: string): { ns: string; env: CniEnv } {
  const ns = createNetns(t, 'vc');
  const cid = `${id}-${ns}`;
  t.teardown(() => { run('ip', ['link', 'del', cniHostVeth(cid, 'eth0')]); });
  return { ns, env: { CNI_CONTAINERID: cid, CNI_NETNS: netnsPath(ns), CNI_IFNAME: 'eth0' } };
}

/** Host interfaces the plugin made for a container (their alias names it): other tests' are not ours to count. */
if (requirePrivileges(t)) {
  t.test('ADD attaches with identity and the named firewall; CHECK agrees; apply keeps it; DEL is idempotent', async (t) => {
    const lab = labUp(t, FILE, ['a', 'srv']);
    const c = container(t, 'c1');
    const add = cni({ ...c.env, CNI_COMMAND: 'ADD' }, conf(lab));
    t.equal(add.status, 0, `ADD exit 0 ${add.stdout}`);
    const r = add.json;
    t.equal(r.cniVersion, '1.0.0', 'the result speaks the configuration\'s version');
    const addr: string = r.ips[0].address;
    t.match(addr, /^10\.63\.1\.\d+\/24$/, `an address of network front (${addr})`);
    t.not(addr, '10.63.1.1/24', 'not the router\'s');
    t.not(addr, '10.63.1.10/24', 'not container a\'s');
    t.same(r.interfaces[1], { name: 'eth0', mac: r.interfaces[1].mac, sandbox: netnsPath(c.ns) }, 'the container interface, in its sandbox');
    t.equal(r.ips[0].interface, 1, 'the address belongs to the sandbox interface');
    t.same(r.routes, [{ dst: '0.0.0.0/0', gw: '10.63.1.1' }], 'default route via the router');
    t.equal(r.interfaces[0].name, cniHostVeth(c.env.CNI_CONTAINERID!, 'eth0'));
    const ip = addr.split('/')[0]!;

    t.equal(ping(c.ns, '10.63.2.10', 2), 2, 'the container reaches srv across the router');
    t.equal(ping(lab.ns('srv'), ip, 2), 2, 'srv (back) reaches it: guard allows ICMP from back');
    t.equal(ping(lab.ns('a'), ip, 2), 0, 'a (front) does not: guard drops it');
    // The tenant forges another source address: the port's identity check drops it.
    nsExec(c.ns, ['ip', 'addr', 'add', '10.63.1.99/24', 'dev', 'eth0']);
    t.equal(ping(c.ns, '10.63.2.10', 2, ['-I', '10.63.1.99']), 0, 'a forged source address goes nowhere');
    nsExec(c.ns, ['ip', 'addr', 'del', '10.63.1.99/24', 'dev', 'eth0']);

    const port = attached(lab).find((p) => p.ifname === r.interfaces[0].name);
    t.equal(port?.ip, addr, 'vnf-ctl get shows the attachment with its address');
    t.ok(port?.chainIn.includes('firewall'), 'and its chain runs the firewall');
    t.equal(vnfctl(['apply', '-f', lab.file]).status, 0, 'apply of the file');
    t.match(vnfctl(['plan', '-f', lab.file]).stdout, /no changes/i, 'plan after apply: no changes');
    t.same(attached(lab).map((p) => p.ip), [addr], 'the attachment survives apply of the file');
    t.equal(ping(lab.ns('a'), ip, 1), 0, 'and keeps its firewall');

    const check = cni({ ...c.env, CNI_COMMAND: 'CHECK' }, conf(lab, { prevResult: r }));
    t.equal(check.status, 0, `CHECK against ADD's result: exit 0 ${check.stdout}`);
    const wrong = cni({ ...c.env, CNI_COMMAND: 'CHECK' }, conf(lab, { prevResult: { ...r, ips: [{ address: '10.63.1.200/24', interface: 1 }] } }));
    t.equal(wrong.status, 1, 'CHECK against another address fails');
    t.equal(wrong.json?.code, 106);
    t.match(wrong.json?.msg, /not 10\.63\.1\.200\/24/);

    const dup = cni({ ...c.env, CNI_COMMAND: 'ADD' }, conf(lab));
    t.equal(dup.json?.code, 105, `a second ADD is refused: ${dup.json?.msg}`);
    t.equal(ping(c.ns, '10.63.2.10', 1), 1, 'and leaves the first one working');

    const del = cni({ ...c.env, CNI_COMMAND: 'DEL' }, conf(lab, { prevResult: r }));
    t.equal(del.status, 0, `DEL exit 0 ${del.stdout}`);
    t.equal(del.stdout, '', 'DEL prints nothing');
    t.same(attached(lab), [], 'the attachment is gone');
    t.notOk(existsSync(`/sys/class/net/${r.interfaces[0].name}`), 'the host veth is gone');
    t.equal(nsRun(c.ns, ['ip', 'link', 'show', 'eth0']).status, 1, 'the container interface is gone');
    t.equal(cni({ ...c.env, CNI_COMMAND: 'DEL' }, conf(lab)).status, 0, 'DEL again: exit 0');
  });

  t.test('bad input: the spec\'s error codes, one readable message, nothing changed', async (t) => {
    const lab = labUp(t, FILE, ['a', 'srv']);
    const c = container(t, 'bad');
    const add: CniEnv = { ...c.env, CNI_COMMAND: 'ADD' };
    const cases: Array<[string, CniEnv, unknown, number, RegExp]> = [
      ['no CNI_COMMAND', { ...c.env }, conf(lab), 4, /CNI_COMMAND is not set/],
      ['an unknown command', { ...c.env, CNI_COMMAND: 'PWN' }, conf(lab), 4, /unknown CNI_COMMAND/],
      ['ADD without CNI_NETNS', { ...add, CNI_NETNS: undefined }, conf(lab), 4, /ADD needs CNI_NETNS/],
      ['a relative CNI_NETNS', { ...add, CNI_NETNS: 'run/netns/x' }, conf(lab), 4, /not an absolute path/],
      ['a hostile CNI_IFNAME', { ...add, CNI_IFNAME: '../eth0' }, conf(lab), 4, /not an interface name/],
      ['a too long CNI_IFNAME', { ...add, CNI_IFNAME: 'e'.repeat(16) }, conf(lab), 4, /not an interface name/],
      ['a hostile CNI_CONTAINERID', { ...add, CNI_CONTAINERID: '../../etc' }, conf(lab), 4, /not a container id/],
      ['stdin that is not JSON', add, '{"cniVersion": "1.0.0",', 6, /not JSON/],
      ['an unsupported cniVersion', add, conf(lab, { cniVersion: '0.4.0' }), 1, /supports CNI versions 1\.0\.0, 1\.1\.0/],
      ['no topology', add, { ...conf(lab), topology: undefined }, 7, /topology/],
      ['another plugin type', add, conf(lab, { type: 'bridge' }), 7, /type "bridge"/],
      ['a bad mtu', add, conf(lab, { mtu: 70000 }), 7, /mtu/],
      ['an unknown topology', add, conf(lab, { topology: 'nosuch' }), 100, /no applied topology named nosuch/],
      ['a hostile topology name', add, conf(lab, { topology: '../../etc' }), 100, /topology name/],
      ['an unknown network', add, conf(lab, { network: 'nosuch' }), 101, /has no network nosuch/],
      ['a namespace that does not exist', { ...add, CNI_NETNS: '/run/netns/vnf-nosuch' }, conf(lab), 3, /does not exist/],
      ['an unknown firewall', add, conf(lab, { firewall: 'gaurd' }), 102, /has no firewall gaurd.*guard/],
      ['no firewall on a protected network', add, conf(lab, { firewall: undefined }), 102, /protected by firewall guard/],
      ['an interface name the container has', { ...add, CNI_IFNAME: 'lo' }, conf(lab), 102, /an interface of that name exists there/],
      ['an interface name ip -batch would split', { ...add, CNI_IFNAME: 'x#y' }, conf(lab), 4, /not an interface name/],
      ['a container id too long for the alias', { ...add, CNI_CONTAINERID: 'c'.repeat(300) }, conf(lab), 4, /at most 128/],
      ['the host\'s own namespace', { ...add, CNI_NETNS: `/proc/${process.pid}/ns/net` }, conf(lab), 4, /host's own network namespace/],
      ['vnf as its own IPAM (DEL would recurse)', add, conf(lab, { ipam: { type: 'vnf' } }), 7, /not an IPAM plugin/],
      ['a network name too long for the alias', { ...add, CNI_CONTAINERID: `bad-${'c'.repeat(120)}` }, conf(lab, { name: 'n'.repeat(140) }), 7, /too long together/],
    ];
    for (const [what, env, config, code, msg] of cases) {
      const r = cni(env, config);
      t.equal(r.status, 1, `${what}: exit 1`);
      t.equal(r.json?.code, code, `${what}: code ${code} (${r.stdout.trim()})`);
      t.match(r.json?.msg, msg, `${what}: says why`);
      t.equal(r.stdout.trim().split('\n').length, 1, `${what}: one JSON object`);
    }
    t.same(attached(lab), [], 'nothing attached');
    t.same(cniHostLinks({ container: 'bad-' }), [], 'no host interface left behind');
    t.same(nsExec(c.ns, ['ip', '-o', 'link', 'show']).trim().split('\n').length, 1, 'the container has only lo');
  });

  t.test('VERSION and STATUS', async (t) => {
    for (const v of ['1.0.0', '1.1.0']) {
      // As podman asks: the variables VERSION does not use hold placeholders.
      const r = cni({ CNI_COMMAND: 'VERSION', CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy', CNI_PATH: 'dummy', CNI_CONTAINERID: '' }, { cniVersion: v });
      t.same(r.json, { cniVersion: v, supportedVersions: ['1.0.0', '1.1.0'] }, `VERSION for ${v}`);
      // The installed wrapper answers VERSION without node (podman asks before every command).
      const w = cni({ CNI_COMMAND: 'VERSION', CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy' }, { cniVersion: v }, '/usr/lib/cni/vnf');
      t.same(w.json, r.json, `the installed wrapper's VERSION for ${v} is the plugin's (make test-setup installs it)`);
    }
    const odd = cni({ CNI_COMMAND: 'VERSION' }, { cniVersion: '0.4.0' }, '/usr/lib/cni/vnf');
    t.same(odd.json, cni({ CNI_COMMAND: 'VERSION' }, { cniVersion: '0.4.0' }).json, 'and for a version it does not speak');
    const lab = labUp(t, FILE, ['a', 'srv']);
    t.equal(cni({ CNI_COMMAND: 'STATUS' }, conf(lab, { cniVersion: '1.1.0' })).status, 0, 'STATUS: ready when the topology is applied');
    const missing = cni({ CNI_COMMAND: 'STATUS' }, conf(lab, { cniVersion: '1.1.0', network: 'nosuch' }));
    t.equal(missing.json?.code, 50, 'STATUS for a network the topology lacks: 50');
    t.equal(vnfctl(['lab', 'down', '-f', lab.file]).status, 0);
    const gone = cni({ CNI_COMMAND: 'STATUS' }, conf(lab, { cniVersion: '1.1.0' }));
    t.equal(gone.status, 1);
    t.equal(gone.json?.code, 50, `STATUS once the topology is gone: 50 (${gone.json?.msg})`);
  });

  t.test('concurrent ADDs serialise and lose nothing; GC removes what the runtime forgot; DEL of a gone namespace', async (t) => {
    const lab = labUp(t, FILE, ['a', 'srv']);
    const cs = Array.from({ length: 10 }, (_, i) => container(t, `p${i}`));
    const results = await Promise.all(cs.map((c) => cniAsync({ ...c.env, CNI_COMMAND: 'ADD' }, conf(lab))));
    t.same(results.map((r) => r.status), cs.map(() => 0), `all ten ADDs succeed ${results.filter((r) => r.status).map((r) => r.stdout).join(' ')}`);
    const addrs = results.map((r) => r.json?.ips?.[0]?.address as string);
    t.equal(new Set(addrs).size, 10, `ten distinct addresses (${addrs.join(' ')})`);
    t.equal(attached(lab).length, 10, 'ten attachments in the kernel');
    for (const c of [cs[0]!, cs[9]!]) t.equal(ping(c.ns, '10.63.2.10', 1), 1, `${c.ns} reaches srv`);

    // The runtime lost container 9's namespace without a DEL; then DEL comes without CNI_NETNS.
    run('ip', ['netns', 'del', cs[9]!.ns]);
    const del = cni({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: cs[9]!.env.CNI_CONTAINERID!, CNI_IFNAME: 'eth0' }, conf(lab));
    t.equal(del.status, 0, `DEL of a gone namespace: exit 0 ${del.stdout}`);
    t.equal(attached(lab).length, 9, 'its attachment is gone');

    const valid = cs.slice(0, 5).map((c) => ({ containerID: c.env.CNI_CONTAINERID!, ifname: 'eth0' }));
    const gc = cni({ CNI_COMMAND: 'GC' }, conf(lab, { cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid }));
    t.equal(gc.status, 0, `GC exit 0 ${gc.stdout}`);
    t.same(attached(lab).map((p) => p.ip).sort(), addrs.slice(0, 5).sort(), 'GC kept exactly the valid attachments');
    for (const c of cs.slice(5, 9)) t.notOk(existsSync(`/sys/class/net/${cniHostVeth(c.env.CNI_CONTAINERID!, 'eth0')}`), `${c.ns}'s veth is gone`);
    t.equal(ping(cs[0]!.ns, '10.63.2.10', 1), 1, 'a kept container still reaches srv');
    const noList = cni({ CNI_COMMAND: 'GC' }, conf(lab, { cniVersion: '1.1.0' }));
    t.equal(noList.json?.code, 7, 'GC without valid-attachments is refused, not taken as "remove everything"');
    t.equal(attached(lab).length, 5);
  });

  t.test('delegated IPAM (host-local): its address is used and released; one the file owns is refused and released', async (t) => {
    const lab = labUp(t, FILE, ['a', 'srv']);
    const dataDir = mkdtempSync(join(tmpdir(), 'vnf-ipam-'));
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const ipam = (start: string, end: string): Record<string, unknown> => ({
      type: 'host-local', dataDir, ranges: [[{ subnet: '10.63.1.0/24', rangeStart: start, rangeEnd: end, gateway: '10.63.1.1' }]],
    });
    const reserved = (): string[] => (existsSync(join(dataDir, `${lab.name}-net`)) ? readdirSync(join(dataDir, `${lab.name}-net`)).filter((f) => /^\d/.test(f)) : []);
    const c = container(t, 'ipam');
    const r = cni({ ...c.env, CNI_COMMAND: 'ADD' }, conf(lab, { ipam: ipam('10.63.1.100', '10.63.1.110') }));
    t.equal(r.status, 0, r.stdout);
    t.equal(r.json?.ips?.[0]?.address, '10.63.1.100/24', 'host-local\'s address');
    t.same(reserved(), ['10.63.1.100'], 'host-local holds it');
    t.equal(ping(c.ns, '10.63.2.10', 1), 1, 'and it works through vnf');
    t.equal(cni({ ...c.env, CNI_COMMAND: 'DEL' }, conf(lab, { ipam: ipam('10.63.1.100', '10.63.1.110') })).status, 0);
    t.same(reserved(), [], 'DEL released it');

    const d = container(t, 'ipam2');
    const bad = cni({ ...d.env, CNI_COMMAND: 'ADD' }, conf(lab, { ipam: ipam('10.63.1.10', '10.63.1.10') }));
    t.equal(bad.json?.code, 102, `an address of the file is refused (${bad.json?.msg})`);
    t.match(bad.json?.msg, /already used by a\/eth0/);
    t.same(reserved(), [], 'the refused ADD released its address');
    t.same(attached(lab), [], 'and attached nothing');
    t.notOk(existsSync(`/sys/class/net/${cniHostVeth(d.env.CNI_CONTAINERID!, 'eth0')}`), 'and removed its veth');

    // GC releases the addresses of what it removes, though host-local speaks no GC (CNI 1.0.0).
    const gs = [container(t, 'g1'), container(t, 'g2')];
    for (const g of gs) t.equal(cni({ ...g.env, CNI_COMMAND: 'ADD' }, conf(lab, { ipam: ipam('10.63.1.100', '10.63.1.110') })).status, 0);
    t.equal(reserved().length, 2, 'two addresses held');
    const gc = cni({ CNI_COMMAND: 'GC' }, conf(lab, { cniVersion: '1.1.0', ipam: ipam('10.63.1.100', '10.63.1.110'), 'cni.dev/valid-attachments': [] }));
    t.equal(gc.status, 0, `GC: exit 0 ${gc.stdout}`);
    t.same(attached(lab), [], 'GC removed both attachments');
    t.same(reserved(), [], 'and released both addresses');
  });

  t.test('an IPAM result that is not addresses is refused, and nothing is left', async (t) => {
    const lab = labUp(t, FILE, ['a', 'srv']);
    const dir = mkdtempSync(join(tmpdir(), 'vnf-fake-ipam-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const evil = { cniVersion: '1.0.0', ips: [{ address: '10.63.2.50/24' }], routes: [{ dst: '0.0.0.0/0\nnetns exec x touch /tmp/pwned', gw: '10.63.2.1' }] };
    writeFileSync(join(dir, 'evil'), `#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '${JSON.stringify(evil)}'\n`, { mode: 0o755 });
    const c = container(t, 'evil');
    const r = cni({ ...c.env, CNI_COMMAND: 'ADD', CNI_PATH: dir }, conf(lab, { network: 'back', firewall: undefined, ipam: { type: 'evil' } }));
    t.equal(r.json?.code, 103, `refused as an IPAM problem (${r.json?.msg})`);
    t.match(r.json?.msg, /a route that is not an IPv4 prefix/);
    t.same(attached(lab), [], 'nothing attached');
    t.notOk(existsSync(`/sys/class/net/${cniHostVeth(c.env.CNI_CONTAINERID!, 'eth0')}`), 'no veth left');
  });

  t.test("vnf's IPAM never hands out an address the file gives a role; the file may not drop a network in use; destroy sets ports down", async (t) => {
    const lab = labUp(t, FILE, ['a', 'srv']);
    const c = container(t, 'res');
    const r = cni({ ...c.env, CNI_COMMAND: 'ADD' }, conf(lab, { network: 'back', firewall: undefined }));
    t.equal(r.status, 0, r.stdout);
    const addr = r.json?.ips?.[0]?.address;
    t.not(addr, '10.63.2.2/24', `not the next hop of router r's route (${addr})`);
    t.not(addr, '10.63.2.10/24', "not srv's");
    t.not(addr, '10.63.2.1/24', "not the router's");
    const host = r.json.interfaces[0].name as string;

    const without = readFileSync(lab.file, 'utf8').replace('  back: { subnet: 10.63.2.0/24 }\n', '').replace('back: 10.63.2.1/24', '').replace(/    routes: .*\n/, '')
      .replace(/  srv: .*\n/, '');
    const file2 = join(mkdtempSync(join(tmpdir(), 'vnf-cni-')), 'topology.yaml');
    t.teardown(() => rmSync(dirname(file2), { recursive: true, force: true }));
    writeFileSync(file2, without);
    const apply = vnfctl(['apply', '-f', file2]);
    t.equal(apply.status, 2, `apply of a file without network back: exit 2 (${apply.stderr.trim()})`);
    t.match(apply.stderr, new RegExp(`network back is not in the file, but attached interface ${host} uses it`));
    t.equal(attached(lab).length, 1, 'the attachment is still there');
    t.equal(ping(c.ns, '10.63.2.10', 1), 1, 'and works');

    const d = vnfctl(['destroy', lab.name]);
    t.equal(d.status, 0, d.stderr);
    t.match(d.stdout, new RegExp(`attached interfaces set down .*${host}`));
    t.equal(readFileSync(`/sys/class/net/${host}/operstate`, 'utf8').trim(), 'down', 'the attached interface is down: no policy, no traffic');
    t.equal(ping(c.ns, '10.63.2.1', 1), 0, 'the container reaches nothing');
  });

  t.test('first in a chain: portmap after vnf takes its result', async (t) => {
    const lab = labUp(t, FILE, ['a', 'srv']);
    const c = container(t, 'pm');
    const add = cni({ ...c.env, CNI_COMMAND: 'ADD' }, conf(lab));
    t.equal(add.status, 0, add.stdout);
    const ip = (add.json.ips[0].address as string).split('/')[0]!;
    const port = 20000 + Math.floor(Math.random() * 20000);
    const pm = {
      cniVersion: '1.0.0', name: `${lab.name}-net`, type: 'portmap', capabilities: { portMappings: true },
      runtimeConfig: { portMappings: [{ hostPort: port, containerPort: 80, protocol: 'tcp' }] }, prevResult: add.json,
    };
    t.teardown(() => { cni({ ...c.env, CNI_COMMAND: 'DEL' }, pm, '/usr/lib/cni/portmap'); });
    const r = cni({ ...c.env, CNI_COMMAND: 'ADD' }, pm, '/usr/lib/cni/portmap');
    t.equal(r.status, 0, `portmap ADD on vnf's result: exit 0 ${r.stdout}${r.stderr}`);
    t.same(r.json?.ips, add.json.ips, 'portmap passes vnf\'s result on');
    const nat = run('iptables-save', ['-t', 'nat']).stdout;
    t.match(nat, new RegExp(`--dport ${port} .*--to-destination ${ip.replaceAll('.', '\\.')}:80`), 'portmap maps the host port to the address vnf gave');
    t.equal(cni({ ...c.env, CNI_COMMAND: 'DEL' }, pm, '/usr/lib/cni/portmap').status, 0, 'portmap DEL');
    t.equal(cni({ ...c.env, CNI_COMMAND: 'DEL' }, conf(lab)).status, 0, 'vnf DEL');
  });
}
