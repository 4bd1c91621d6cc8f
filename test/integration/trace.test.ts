/**
 * vnf-ctl trace against real traffic on one lab topology: two networks and an uplink joined by
 * a router with masquerade, a firewall with allow, drop and reject rules on db's ingress and one
 * on web's egress. For every probe of the matrix, what trace answers (its exit status and
 * verdict) is what a real packet sent from the container's namespace does: it arrives (TCP
 * connect succeeds, the UDP datagram is read, the ping is answered) or it does not. And tracing
 * the whole matrix changes no kernel state: every pinned map (learned tables, conntrack, NAT,
 * counters), the interfaces' packet counters and the containers' neighbour tables are the same
 * before and after.
 */
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../../src/bpf/map.js';
import { hostVethName, pinDir } from '../../src/model/names.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, type Lab } from '../helpers/lab.js';
import { nsExec, nsRun, ping } from '../helpers/netns.js';
import { background } from '../helpers/background.js';
import { REASONS } from '../../src/vnf/common/codec.js';
import { VNF_R_DROP_NEIGH_MISS, VNF_R_DROP_POLICY, VNF_R_DROP_REJECT, VNF_R_NAT_SNAT } from '../../src/abi/vnf_common.js';
import { VNF_CT_S_GC_ADOPTED, VNF_CT_S_GC_EXPIRED, VNF_CT_S_GC_RUNS, VNF_CT_S_GC_STALE, VNF_MAP_CT_GC, VNF_MAP_CT_STATS } from '../../src/abi/conntrack.js';
import { VNF_MAP_NAT_GC } from '../../src/abi/nat.js';
import type { TraceResult } from '../../src/trace/trace.js';

const TOPOLOGY = `
apiVersion: vnf/v1
name: NAME
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.93.1.10/24 } } }
  dev: { interfaces: { eth0: { network: front, ip: 10.93.1.20/24 } } }
  db: { interfaces: { eth0: { network: back, ip: 10.93.2.10/24 } } }
networks:
  front: { subnet: 10.93.1.0/24 }
  back: { subnet: 10.93.2.0/24 }
  wan:
    subnet: 10.93.9.0/24
    uplink: { interface: NAMEu, lab: { namespace: internet, ip: 10.93.9.1 } }
routers:
  r:
    ports: { front: 10.93.1.1/24, back: 10.93.2.1/24, wan: 10.93.9.2/24 }
    routes: [{ to: 0.0.0.0/0, via: 10.93.9.1 }]
    nat: { outside: wan, masquerade: [10.93.1.0/24] }
firewalls:
  db-in:
    attach: [db/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: tcp, from: 10.93.1.0/24, ports: [5432] }
        - { action: allow, proto: udp, from: 10.93.1.10/32, ports: [5353] }
        - { action: allow, proto: icmp, icmp-type: echo-request }
        - { action: reject, proto: tcp, ports: [23] }
  web-out:
    attach: [web/eth0]
    egress:
      default: allow
      rules:
        - { action: drop, proto: tcp, to: 10.93.2.0/24, ports: [9999] }
`;
const CONTAINERS = ['web', 'dev', 'db', 'internet'];
const ADDR: Record<string, string> = { web: '10.93.1.10', dev: '10.93.1.20', db: '10.93.2.10', internet: '10.93.9.1' };

interface Probe {
  from: string;
  to: string;
  proto: 'tcp' | 'udp' | 'icmp';
  port?: number;
  allowed: boolean;
  /** What the trace must name as the deciding verdict. */
  verdict: TraceResult['verdict'];
}

const MATRIX: Probe[] = [
  { from: 'web', to: 'db', proto: 'tcp', port: 5432, allowed: true, verdict: 'delivered' },
  { from: 'dev', to: 'db', proto: 'tcp', port: 5432, allowed: true, verdict: 'delivered' },
  { from: 'web', to: 'db', proto: 'tcp', port: 22, allowed: false, verdict: 'dropped' },
  { from: 'web', to: 'db', proto: 'tcp', port: 23, allowed: false, verdict: 'rejected' },
  { from: 'web', to: 'db', proto: 'tcp', port: 9999, allowed: false, verdict: 'dropped' },
  { from: 'web', to: 'db', proto: 'udp', port: 5353, allowed: true, verdict: 'delivered' },
  { from: 'dev', to: 'db', proto: 'udp', port: 5353, allowed: false, verdict: 'dropped' },
  { from: 'web', to: 'db', proto: 'icmp', allowed: true, verdict: 'delivered' },
  { from: 'db', to: 'web', proto: 'tcp', port: 8080, allowed: true, verdict: 'delivered' },
  { from: 'web', to: 'dev', proto: 'tcp', port: 8080, allowed: true, verdict: 'delivered' },
  { from: 'web', to: 'internet', proto: 'tcp', port: 80, allowed: true, verdict: 'delivered' },
];

const label = (p: Probe): string => `${p.from} -> ${p.to} ${p.proto}${p.port ? `/${p.port}` : ''}`;
const target = (p: Probe): string => (p.to === 'internet' ? ADDR['internet']! : `${p.to}/eth0`);

function traceArgs(lab: Lab, p: Probe, output = 'json'): string[] {
  return ['trace', lab.name, '--from', `${p.from}/eth0`, '--to', target(p), '--proto', p.proto, ...(p.port ? ['--port', String(p.port)] : []), '-o', output];
}

/**
 * The conntrack and NAT collectors (bpf_timers of the live dataplane) run on their own, with or
 * without traffic: their own state (vnf_ct_gc, vnf_nat_gc) and their counters in vnf_ct_stats
 * are left out. With no connection to expire, nothing else changes without a packet.
 */
const COLLECTOR_MAPS = new Set([VNF_MAP_CT_GC, VNF_MAP_NAT_GC]);
const COLLECTOR_STATS = new Set([VNF_CT_S_GC_RUNS, VNF_CT_S_GC_EXPIRED, VNF_CT_S_GC_STALE, VNF_CT_S_GC_ADOPTED]);

/**
 * Every pinned map of the topology, entry by entry (per-CPU values raw, so every CPU's counter
 * counts), as one digest per map: conntrack's slot array alone has half a million entries.
 */
function pinnedState(name: string): Record<string, string> {
  const root = pinDir(name);
  const out: Record<string, string> = {};
  for (const f of readdirSync(root)) {
    if (statSync(join(root, f)).isDirectory()) continue;
    const m = BpfMap.openPinned(join(root, f));
    try {
      if (m.info.typeName === 'prog_array' || m.info.typeName === 'ringbuf' || COLLECTOR_MAPS.has(f)) continue;
      const { keys, values, count } = m.packedEntries();
      const ks = m.info.keySize;
      const vs = m.info.valueBufferSize;
      const rows: string[] = [];
      for (let i = 0; i < count; i++) {
        if (f === VNF_MAP_CT_STATS && COLLECTOR_STATS.has(keys.readUInt32LE(i * ks))) continue;
        rows.push(keys.subarray(i * ks, (i + 1) * ks).toString('hex') + '=' + values.subarray(i * vs, (i + 1) * vs).toString('hex'));
      }
      out[f] = `${count} entries, sha256 ${createHash('sha256').update(rows.sort().join('\n')).digest('hex')}`;
    } finally {
      m.close();
    }
  }
  return out;
}

/** Packet counters of the topology's host interfaces and the containers' neighbour tables. */
function hostState(lab: Lab): Record<string, string> {
  const out: Record<string, string> = {};
  const ifaces = [...['web', 'dev', 'db'].map((c) => hostVethName(lab.name, c, 'eth0')), `${lab.name}u`];
  for (const i of ifaces) {
    for (const c of ['rx_packets', 'tx_packets']) out[`${i} ${c}`] = readFileSync(`/sys/class/net/${i}/statistics/${c}`, 'utf8').trim();
  }
  for (const c of CONTAINERS) out[`${c} neigh`] = nsExec(lab.ns(c), ['ip', 'neigh', 'show']);
  return out;
}

function quiet(lab: Lab): void {
  // Containers would otherwise send IPv6 router solicitations and MLD reports now and then,
  // which the dataplane counts: the "nothing changed" comparison needs a silent topology.
  for (const c of CONTAINERS) nsExec(lab.ns(c), ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
}

/** Whether a real packet of the probe arrives. */
async function realArrives(t: Test, lab: Lab, p: Probe): Promise<boolean> {
  const src = lab.ns(p.from);
  const dst = lab.ns(p.to);
  const ip = ADDR[p.to]!;
  if (p.proto === 'icmp') return ping(src, ip, 1) === 1;
  if (p.proto === 'tcp') {
    const server = background(t, dst, `while true; do nc -l ${p.port} >/dev/null 2>&1; done`);
    await new Promise((r) => setTimeout(r, 300));
    const r = nsRun(src, ['nc', '-z', '-w', '2', ip, String(p.port)], 10_000);
    await server.stop();
    return r.status === 0;
  }
  const mark = `probe-${p.from}-${Date.now()}`;
  const server = background(t, dst, `nc -u -l ${p.port}`);
  await new Promise((r) => setTimeout(r, 300));
  nsRun(src, ['sh', '-c', `echo ${mark} | nc -u -w 1 ${ip} ${p.port}`], 10_000);
  await new Promise((r) => setTimeout(r, 500));
  const got = server.out().includes(mark);
  await server.stop();
  return got;
}

if (requirePrivileges(t)) {
  t.test('trace', async (t) => {
    const lab = labUp(t, TOPOLOGY, CONTAINERS);
    quiet(lab);
    await new Promise((r) => setTimeout(r, 1000));

    await t.test('tracing the whole matrix changes no kernel state', async (t) => {
      const maps0 = pinnedState(lab.name);
      const host0 = hostState(lab);
      await new Promise((r) => setTimeout(r, 500));
      t.same(pinnedState(lab.name), maps0, 'the topology is silent (nothing changes without traffic)');
      // Before any traffic: the router has not resolved the world's gateway yet, so the probe to
      // the world ends in an ARP request the bridge would flood (not sent by a trace).
      for (const p of MATRIX) {
        const r = vnfctl(traceArgs(lab, p));
        const world = p.to === 'internet';
        t.equal(r.status, p.allowed && !world ? 0 : 1, `trace ${label(p)}: exit status (${r.stderr.trim()})`);
        if (!world) continue;
        const res = JSON.parse(r.stdout) as TraceResult;
        t.equal(res.reason, REASONS[VNF_R_DROP_NEIGH_MISS], 'the next hop is not resolved yet');
        t.same(res.stages.filter((s) => s.event === 'flood').map((s) => s.what), [`would flood to ${lab.name}u`], 'the ARP request would be flooded to the uplink');
      }
      const maps1 = pinnedState(lab.name);
      for (const name of Object.keys(maps0)) t.same(maps1[name], maps0[name], `${name} unchanged`);
      t.same(Object.keys(maps1).sort(), Object.keys(maps0).sort(), 'no pinned map added or removed');
      t.same(hostState(lab), host0, 'interface packet counters and neighbour tables unchanged: nothing was sent');
    });

    // The router resolves its next hop on wan by ARP on the first packet, which it drops (a trace
    // says so, above). Resolved once, before real traffic is compared.
    ping(lab.ns('web'), ADDR['internet']!, 2);
    t.equal(ping(lab.ns('web'), ADDR['internet']!, 2), 2, 'web reaches the world');

    await t.test('the trace agrees with real traffic', async (t) => {
      for (const p of MATRIX) {
        const r = vnfctl(traceArgs(lab, p));
        const res = JSON.parse(r.stdout) as TraceResult;
        const real = await realArrives(t, lab, p);
        t.equal(real, p.allowed, `${label(p)}: a real packet ${p.allowed ? 'arrives' : 'does not arrive'}`);
        t.equal(res.allowed, real, `${label(p)}: trace says ${res.verdict}${res.reason ? ` (${res.reason})` : ''}, real traffic ${real ? 'arrived' : 'did not'}`);
        t.equal(r.status, real ? 0 : 1, `${label(p)}: exit status`);
        t.equal(res.verdict, p.verdict, `${label(p)}: verdict (${res.stages.map((x) => `${x.vnf}:${x.what}`).join(' ')})`);
        if (res.verdict === 'delivered') t.equal(res.deliveredTo?.port, p.to === 'internet' ? `${lab.name}u` : `${p.to}/eth0`, `${label(p)}: delivered where the packet goes`);
      }
    });

    await t.test('what the stages say', async (t) => {
      const show = (p: Probe): TraceResult => JSON.parse(vnfctl(traceArgs(lab, p)).stdout) as TraceResult;
      const nat = show(MATRIX.find((p) => p.to === 'internet')!);
      t.equal(nat.out?.src, '10.93.9.2', 'masquerade: the packet leaves as the router\'s wan address');
      t.ok(nat.stages.some((s) => s.vnf === 'nat' && s.what === REASONS[VNF_R_NAT_SNAT]), 'the NAT stage says snat');
      t.ok(nat.state.some((s) => s.map === 'vnf_nat_map' && s.change === 'new'), 'it names the NAT mapping it would create');
      const denied = show(MATRIX[2]!);
      t.equal(denied.reason, REASONS[VNF_R_DROP_POLICY], 'the drop reason');
      t.ok(denied.matched.some((m) => m.section === 'FIREWALL RULES' && m.row['rule'] === 'default drop'), 'db-in\'s default matched');
      const egress = show(MATRIX[4]!);
      t.ok(egress.matched.some((m) => m.row['firewall'] === 'web-out' && m.row['index'] === 0), 'web-out rule #0 matched');
      t.equal(egress.stages.at(-1)?.vnf, 'firewall', 'decided by the first firewall, at web\'s egress');
      const allowed = show(MATRIX[0]!);
      t.ok(allowed.matched.some((m) => m.row['firewall'] === 'db-in' && m.row['index'] === 0), 'db-in rule #0 matched');
      t.ok(allowed.matched.some((m) => m.section === 'ROUTES'), 'the route is named');
      const hops = allowed.stages.filter((s) => s.event === 'hop').map((s) => s.what);
      // The NAT runs on every port of a network its router serves (see src/vnf/nat).
      t.same(hops, ['-> firewall', '-> nat', '-> bridge', '-> router', '-> bridge', '-> firewall', '-> nat', '-> deliver'], 'in-port chain, router, out-port chain, in order');
      const table = vnfctl(traceArgs(lab, MATRIX[3]!, 'table'));
      t.ok(table.stdout.trim().endsWith(`DENIED: rejected (${REASONS[VNF_R_DROP_REJECT]}), an answer goes back to web/eth0`), 'the table ends with the answer');
    });

    await t.test('bad input: one message, exit 2', async (t) => {
      for (const [args, msg] of [
        [['--from', 'nope/eth0', '--to', '10.93.2.10', '--port', '1'], /not a port of this topology/],
        [['--from', 'web/eth0', '--to', '10.93.2.300', '--port', '1'], /not an IPv4 address/],
        [['--from', 'web/eth0', '--to', '10.93.1.99', '--port', '1'], /does not resolve addresses by ARP/],
        [['--from', 'web/eth0', '--to', '10.93.2.10', '--proto', 'sctp', '--port', '1'], /expected tcp, udp or icmp/],
        [['--from', 'web/eth0', '--to', '10.93.2.10'], /needs --port/],
      ] as const) {
        const r = vnfctl(['trace', lab.name, ...args]);
        t.equal(r.status, 2, args.join(' '));
        t.match(r.stderr, msg);
        t.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith("Run 'vnf-ctl ")).length, 1, 'one line (and the usage hint)');
      }
      const r = vnfctl(['trace', 'nosuchtopo', '--from', 'web/eth0', '--to', '10.93.2.10', '--port', '1']);
      t.equal(r.status, 2, 'unknown topology');
    });
  });
}
