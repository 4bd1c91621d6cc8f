/**
 * The firewall of attached interfaces (`vnf-ctl attach --firewall`, the CNI plugin's "firewall"):
 * an interface attached to a network whose containers are protected is never left open by
 * omission — the attach is refused unless a firewall is named, the network has a default
 * (`firewalls.NAME.networks`), or none is asked for. The firewall is read back from the kernel:
 * an apply of the file keeps it, and a file that drops it is refused while an attachment uses it.
 * Real pings through the real programs prove what each port enforces.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp } from '../helpers/lab.js';
import { ping } from '../helpers/netns.js';
import { getTopology, handContainer } from '../helpers/vnf.js';
import { parseDot } from '../helpers/dot.js';

/** `guard` lets in only ICMP from the right network: a (left) cannot reach what it protects, c (right) can. */
const FILE = `
apiVersion: vnf/v1
name: NAME
containers:
  a: { interfaces: { eth0: { network: left, ip: 10.62.1.10/24 } } }
  b: { interfaces: { eth0: { network: left, ip: 10.62.1.11/24 } } }
  c: { interfaces: { eth0: { network: right, ip: 10.62.2.10/24 } } }
networks:
  left: { subnet: 10.62.1.0/24 }
  right: { subnet: 10.62.2.0/24 }
routers:
  r: { ports: { left: 10.62.1.1/24, right: 10.62.2.1/24 } }
firewalls:
  guard:
    attach: [b/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: icmp, from: 10.62.2.0/24 }
  other:
    ingress: { default: drop }
`;

const attached = (name: string): Array<{ ifname: string; chainIn: string[] }> =>
  getTopology(name).interfaces.filter((i) => i.owner === 'attached').map((i) => ({ ifname: i.ifname, chainIn: i.chainIn }));

if (requirePrivileges(t)) {
  t.test('attach on a protected network needs a firewall; the one named is enforced, kept by apply, and pins the file', async (t) => {
    const lab = labUp(t, FILE, ['a', 'b', 'c']);
    const x = handContainer(t, '10.62.1.50/24', '10.62.1.1');
    const y = handContainer(t, '10.62.1.51/24', '10.62.1.1');
    const base = ['--topology', lab.name, '--network', 'left'];

    const refused = vnfctl(['attach', x.host, ...base, '--ip', '10.62.1.50/24', '--netns', x.netnsPath]);
    t.equal(refused.status, 2, 'no firewall named on a protected network: exit 2');
    t.match(refused.stderr, /protected by firewall guard: name the firewall of this interface \(--firewall NAME/, refused.stderr.trim());
    t.equal(refused.stderr.trim().split('\n').length, 1, 'one message');
    t.same(attached(lab.name), [], 'nothing attached');

    const typo = vnfctl(['attach', x.host, ...base, '--ip', '10.62.1.50/24', '--netns', x.netnsPath, '--firewall', 'gaurd']);
    t.equal(typo.status, 2, 'an unknown firewall: exit 2');
    t.match(typo.stderr, /has no firewall gaurd.*guard/, typo.stderr.trim());
    t.same(attached(lab.name), [], 'nothing attached');

    const ok = vnfctl(['attach', x.host, ...base, '--ip', '10.62.1.50/24', '--netns', x.netnsPath, '--firewall', 'guard']);
    t.equal(ok.status, 0, ok.stderr);
    t.match(ok.stdout, /firewall guard/);
    const open = vnfctl(['attach', y.host, ...base, '--ip', '10.62.1.51/24', '--netns', y.netnsPath, '--no-firewall', '-o', 'json']);
    t.equal(open.status, 0, open.stderr);
    t.match(JSON.parse(open.stdout), { ifname: y.host, topology: lab.name, ip: '10.62.1.51/24', mac: y.mac, firewall: null, operationCount: Number },
      'attach -o json: what was attached, no firewall as null');

    const enforced = (when: string): void => {
      t.equal(ping(lab.ns('c'), '10.62.1.50', 2), 2, `${when}: c (right) reaches x: guard allows ICMP from right`);
      t.equal(ping(lab.ns('a'), '10.62.1.50', 2), 0, `${when}: a (left) does not reach x: guard drops it`);
      t.equal(ping(lab.ns('a'), '10.62.1.51', 2), 2, `${when}: a reaches y, attached with --no-firewall`);
    };
    enforced('after attach');
    const xs = attached(lab.name).find((p) => p.ifname === x.host);
    t.ok(xs?.chainIn.includes('firewall'), `x's chain runs the firewall (${xs?.chainIn.join(' ')})`);

    // The picture shows them too: they live only in the kernel, and graph reads them from there.
    const g = vnfctl(['graph', lab.name, '--counters']);
    t.equal(g.status, 0, g.stderr);
    const dot = parseDot(g.stdout);
    const edgeOf = (host: string) => dot.edges.find((e) => e.from === `attached:${host}`);
    t.ok(dot.nodes.has(`attached:${x.host}`) && dot.nodes.has(`attached:${y.host}`), 'graph draws both attachments');
    t.equal(edgeOf(x.host)?.to, 'network:left', 'x on left');
    t.match(edgeOf(x.host)?.attrs['label'], /^10\.62\.1\.50 \[fw guard\]\nrx \d+ \/ tx \d+$/, 'with its firewall and counters');
    t.match(edgeOf(y.host)?.attrs['label'], /^10\.62\.1\.51\n/, 'y without a firewall');
    t.notOk(parseDot(vnfctl(['graph', '-f', lab.file]).stdout).nodes.has(`attached:${x.host}`), 'a file alone has no attachments');

    const again = vnfctl(['apply', '-f', lab.file]);
    t.equal(again.status, 0, again.stderr);
    t.match(vnfctl(['plan', '-f', lab.file]).stdout, /no changes/i, 'plan after apply: no changes (the firewall read back from the kernel)');
    enforced('after apply of the file');

    // A file that gives x's address a role (the router's port) is refused while x holds it.
    const original = readFileSync(lab.file, 'utf8');
    writeFileSync(lab.file, original.replace('left: 10.62.1.1/24', 'left: 10.62.1.50/24'));
    const clash = vnfctl(['apply', '-f', lab.file]);
    t.equal(clash.status, 2, 'apply of a file that gives an attachment\'s address to the router: exit 2');
    t.match(clash.stderr, new RegExp(`attached interface ${x.host} has 10\\.62\\.1\\.50/24, which the file gives router r's address`), clash.stderr.trim());
    writeFileSync(lab.file, original);

    // A file without guard would leave x open: refused while x is attached with it.
    const without = readFileSync(lab.file, 'utf8').replace(/  guard:[\s\S]*?(?=  other:)/, '');
    writeFileSync(lab.file, without);
    const dropped = vnfctl(['apply', '-f', lab.file]);
    t.equal(dropped.status, 2, 'apply of a file without the attachment\'s firewall: exit 2');
    t.match(dropped.stderr, new RegExp(`attached interface ${x.host} \\(network left\\): firewall guard protects it`), dropped.stderr.trim());
    enforced('after the refused apply');
  });

  t.test("a network's default firewall protects what is attached to it without a name", async (t) => {
    const lab = labUp(t, FILE.replace('    attach: [b/eth0]', '    attach: [b/eth0]\n    networks: [left]'), ['a', 'b', 'c']);
    const x = handContainer(t, '10.62.1.50/24', '10.62.1.1');
    const r = vnfctl(['attach', x.host, '--topology', lab.name, '--network', 'left', '--ip', '10.62.1.50/24', '--netns', x.netnsPath]);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /firewall guard/);
    t.equal(ping(lab.ns('a'), '10.62.1.50', 2), 0, 'a does not reach x');
    t.equal(ping(lab.ns('c'), '10.62.1.50', 2), 2, 'c reaches x');
    // A network without protected containers and without a default: attached without a firewall.
    const z = handContainer(t, '10.62.2.50/24', '10.62.2.1');
    const rz = vnfctl(['attach', z.host, '--topology', lab.name, '--network', 'right', '--ip', '10.62.2.50/24', '--netns', z.netnsPath]);
    t.equal(rz.status, 0, rz.stderr);
    t.match(rz.stdout, /no firewall/);
    t.equal(ping(lab.ns('a'), '10.62.2.50', 2), 2, 'a reaches z');
  });
}
