/**
 * `vnf-ctl graph NAME [--counters]` on a lab: the applied topology from its record, with the
 * packets each port carried and the drops of each VNF read from the kernel.
 */
import t from 'tap';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp } from '../helpers/lab.js';
import { ping } from '../helpers/netns.js';
import { parseDot, type DotGraph } from '../helpers/dot.js';

const LAB = `
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
  c-in:
    attach: [c/eth0]
    ingress:
      rules:
        - { action: drop, proto: icmp, from: 10.62.1.11/32 }
`;

function graph(args: string[]): DotGraph {
  const r = vnfctl(['graph', ...args]);
  if (r.status !== 0) throw new Error(`vnf-ctl graph ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return parseDot(r.stdout);
}

const counters = (label: string | undefined): { rx: number; tx: number } => {
  const m = /rx (\d+) \/ tx (\d+)/.exec(label ?? '');
  if (!m) throw new Error(`no counters in ${label}`);
  return { rx: Number(m[1]), tx: Number(m[2]) };
};

if (requirePrivileges(t)) {
  t.test('graph NAME --counters: the applied topology, its ports\' packets and the drops', async (t) => {
    const lab = labUp(t, LAB, ['a', 'b', 'c']);
    t.equal(ping(lab.ns('a'), '10.62.2.10', 3), 3, 'a pings c through the router');
    t.equal(ping(lab.ns('b'), '10.62.2.10', 2), 0, "b's pings are dropped by c's firewall");

    const plain = graph([lab.name]);
    const file = graph(['-f', lab.file]);
    t.equal(plain.name, lab.name);
    t.same([...plain.nodes.keys()].sort(), ['container:a', 'container:b', 'container:c', 'network:left', 'network:right', 'router:r']);
    t.same(plain.nodes, file.nodes, 'the same nodes as the file');
    t.same(plain.edges, file.edges, 'the same edges as the file');

    const g = graph([lab.name, '--counters']);
    const edge = (from: string): string | undefined => g.edges.find((e) => e.from === from)?.attrs['label'];
    t.match(edge('container:c'), /^eth0 10\.62\.2\.10 \[fw c-in\]\n/, 'the firewall on the container edge');
    const a = counters(edge('container:a'));
    const c = counters(edge('container:c'));
    t.ok(a.rx >= 3 && a.tx >= 3, `a sent and received its pings (rx ${a.rx}, tx ${a.tx})`);
    t.ok(c.tx >= 3 && c.rx >= 3, `c got a's pings and answered (rx ${c.rx}, tx ${c.tx})`);
    t.ok(counters(edge('container:b')).rx >= 2, "b's dropped pings were received from it");
    const drops = /drops: .*firewall (\d+)/.exec(g.attrs['label'] ?? '');
    t.ok(drops && Number(drops[1]) >= 2, `the firewall's drops in the title: ${g.attrs['label']}`);
    t.same([...g.nodes.keys()].sort(), [...plain.nodes.keys()].sort(), 'counters add no node');
  });

  t.test('graph of a topology that is not applied is invalid input', async (t) => {
    const r = vnfctl(['graph', 'tnosuch0']);
    t.equal(r.status, 2);
    t.match(r.stderr, /no applied topology named tnosuch0/);
    t.equal(r.stdout, '');
  });
}
