/**
 * The overlay with real packets: two simulated hosts (bench/lib/sim, without etcd or agents; a
 * VXLAN device each), each applying its hand-made slice of one topology (the agent's job, done
 * here by hand with test/helpers/apply-slice.mjs inside the host). Containers on different hosts reach each other on one
 * network and across two networks through the distributed router (the frame crosses the overlay
 * once), a firewall on the destination port holds across hosts, and TCP at full size works with
 * the containers' MTU lowered by the overlay's headroom.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ping, tcpTransfer, nsRun } from '../helpers/netns.js';
import { randomName } from '../helpers/netns.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { testCluster } from '../helpers/cluster.js';
import type { OverlayModel, RemoteEndpoint } from '../../src/vnf/overlay/model.js';
import { parseTopology } from '../../src/spec/index.js';
import { parseAddr } from '../../src/spec/ipv4.js';
import { createContainer, type SimContainer } from '../../bench/lib/sim/containers.js';
import type { SimHost } from '../../bench/lib/sim/host.js';
import { OVERLAY_MTU } from '../../bench/lib/sim/names.js';
import { run } from '../../bench/lib/sys.js';

const MTU = OVERLAY_MTU; // the containers' MTU, as the simulation makes them
/** Each host's VXLAN device (external mode), made by the test: there is no agent to make it. */
const DEVICE = 'vx0';
const VNIS = { n1: 101, n2: 102 };

interface Spec { name: string; host: number; network: 'n1' | 'n2'; ip: string; mac: string }
const CONTAINERS: Spec[] = [
  { name: 'a', host: 0, network: 'n1', ip: '10.72.1.10', mac: '02:72:00:00:01:0a' },
  { name: 'b', host: 1, network: 'n1', ip: '10.72.1.20', mac: '02:72:00:00:01:14' },
  { name: 'c', host: 1, network: 'n2', ip: '10.72.2.30', mac: '02:72:00:00:02:1e' },
];
const GW = { n1: '10.72.1.1', n2: '10.72.2.1' };

/** The file of one host (every host's when `host` is undefined): its own containers, every network and router; the firewall where its port is. */
function sliceYaml(name: string, host?: number): string {
  const mine = CONTAINERS.filter((c) => host === undefined || c.host === host);
  const containers = mine.map((c) => `  ${c.name}: { interfaces: { eth0: { network: ${c.network}, ip: ${c.ip}/24, mac: "${c.mac}" } } }`).join('\n');
  const firewall = mine.some((c) => c.name === 'c') ? `
firewalls:
  c-in:
    attach: [c/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: tcp, ports: [5001] }
        - { action: allow, proto: icmp, icmp-type: echo-request }
    egress:
      default: allow
` : '';
  return `
apiVersion: vnf/v1
name: ${name}
containers:
${containers}
networks:
  n1: { subnet: 10.72.1.0/24 }
  n2: { subnet: 10.72.2.0/24 }
routers:
  r: { ports: { n1: 10.72.1.1/24, n2: 10.72.2.1/24 } }
${firewall}`;
}

function ipNum(s: string): number {
  const r = parseAddr(s);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function slice(hosts: SimHost[], me: number): OverlayModel {
  const remotes: RemoteEndpoint[] = CONTAINERS.filter((c) => c.host !== me).map((c) => ({
    host: hosts[c.host]!.name, container: c.name, iface: 'eth0', network: c.network, ip: ipNum(c.ip), prefix: 24, mac: c.mac, forwards: false,
  }));
  return {
    host: hosts[me]!.name, device: DEVICE, local: ipNum(hosts[me]!.addr), mtu: MTU, vnis: VNIS,
    hosts: hosts.filter((_, i) => i !== me).map((h) => ({ name: h.name, vtep: ipNum(h.addr) })), remotes,
  };
}

/** Applies `yaml` as host `h`'s slice inside the host; the ops a second plan found (the pins stay with the host). */
function applySlice(h: SimHost, yaml: string, s: OverlayModel): number {
  const r = h.run([process.execPath, join(h.projectRoot, 'test', 'helpers', 'apply-slice.mjs'), yaml, JSON.stringify(s)]);
  const m = /planned (\d+) ops/.exec(r.stdout);
  if (r.status !== 0 || !m) throw new Error(`apply on ${h.name} exited ${r.status}: ${r.stderr}`);
  return Number(m[1]);
}

/** A counter of a device in a host's namespace (/sys/class/net/DEV/statistics/NAME). */
const devStat = (h: SimHost, dev: string, name: string): number => Number(run(['ip', 'netns', 'exec', h.ns, 'cat', `/sys/class/net/${dev}/statistics/${name}`]).stdout.trim());

if (requirePrivileges(t)) {
  t.test('two hosts over VXLAN: one network, two networks through the distributed router, firewall, full-size TCP', async (t) => {
    const name = randomName('ov');
    const cl = await testCluster(t, { hosts: 2, etcd: false });
    const hosts = cl.hosts;
    for (const h of hosts) {
      run(['ip', '-n', h.ns, 'link', 'add', DEVICE, 'type', 'vxlan', 'external', 'dstport', '4789']);
      run(['ip', '-n', h.ns, 'link', 'set', DEVICE, 'up']);
    }
    const all = parseTopology(sliceYaml(name));
    if (!all.ok) throw new Error(JSON.stringify(all.issues));
    const c: Record<string, SimContainer> = {};
    for (const s of CONTAINERS) {
      c[s.name] = createContainer(name, all.topology.containers.find((x) => x.name === s.name)!, hosts[s.host]!, cl.cleanup);
      const i = c[s.name]!.interfaces[0]!;
      t.same([i.name, i.addr, i.mac, i.gateway], ['eth0', s.ip, s.mac, ipNum(GW[s.network])], `${s.name}: eth0 at ${s.ip}, its MAC, default route via ${GW[s.network]}`);
    }
    const [h1, h2] = [hosts[0]!, hosts[1]!];
    const replanOps = hosts.map((h, i) => applySlice(h, sliceYaml(name, i), slice(hosts, i)));
    t.same(replanOps, [0, 0], 'on each host, a plan right after the apply is empty');

    t.equal(ping(c['a']!.ns, '10.72.1.20', 3), 3, 'a (h1) pings b (h2) on network n1');
    const hello = await tcpTransfer(c['b']!.ns, c['a']!.ns, '10.72.1.20', 5555, 'hello-over-vxlan\n');
    t.equal(hello.received, 'hello-over-vxlan\n', `TCP a -> b across hosts ${hello.clientStderr}`);

    // Routed a (h1, n1) -> c (h2, n2): h1 routes, the frame crosses the overlay once each way.
    t.equal(ping(c['a']!.ns, '10.72.2.30', 1), 1, 'a pings c through the router (warm-up)');
    const tx1 = devStat(h1, DEVICE, 'tx_packets');
    const rx2 = devStat(h2, DEVICE, 'rx_packets');
    t.equal(ping(c['a']!.ns, '10.72.2.30', 5), 5, 'a (h1, n1) pings c (h2, n2)');
    t.equal(devStat(h1, DEVICE, 'tx_packets') - tx1, 5, 'five frames left h1 through its VXLAN device (the requests, once each)');
    t.equal(devStat(h2, DEVICE, 'rx_packets') - rx2, 5, 'and five arrived on h2');

    // The firewall on c holds across hosts: tcp 5001 allowed, 5002 dropped.
    const ok = await tcpTransfer(c['c']!.ns, c['a']!.ns, '10.72.2.30', 5001, 'allowed\n');
    t.equal(ok.received, 'allowed\n', 'TCP to c:5001 (allowed) arrives');
    const blocked = nsRun(c['a']!.ns, ['nc', '-z', '-w', '2', '10.72.2.30', '5002'], 10_000);
    t.not(blocked.status, 0, 'TCP to c:5002 (default drop) does not connect');

    // Full-size frames: a 1450-byte IP packet with DF, then a few MB of TCP.
    const big = nsRun(c['a']!.ns, ['ping', '-c', '2', '-W', '2', '-M', 'do', '-s', String(MTU - 28), '10.72.1.20'], 10_000);
    t.match(big.stdout, /2 received/, `a ${MTU}-byte packet with DF crosses (${big.stdout.split('\n').slice(-3).join(' ')})`);
    const payload = 'x'.repeat(1023) + '\n';
    const bulk = payload.repeat(4096); // 4 MiB
    const r = await tcpTransfer(c['b']!.ns, c['a']!.ns, '10.72.1.20', 5556, bulk);
    t.equal(r.received.length, bulk.length, `4 MiB of TCP across hosts arrive (${r.received.length} bytes)`);
    t.ok(r.received === bulk, 'byte for byte');

    // Throughput across hosts (one stream, 3 s), for the record.
    const server = spawn('ip', ['netns', 'exec', c['b']!.ns, 'iperf3', '-s', '-1', '-p', '5201'], { stdio: 'ignore' });
    t.teardown(() => { server.kill('SIGKILL'); });
    await new Promise((res) => setTimeout(res, 500));
    const perf = nsRun(c['a']!.ns, ['iperf3', '-c', '10.72.1.20', '-p', '5201', '-t', '3', '-J'], 30_000);
    const bps = (JSON.parse(perf.stdout || '{}') as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second ?? 0;
    t.ok(bps > 1e8, `iperf3 a -> b across hosts: ${(bps / 1e9).toFixed(2)} Gbit/s`);

    // What vnf-ctl shows on h1: the device as a port of no network, the remote endpoints, the overlay's counters.
    const get = h1.ctl(['get', name, '-o', 'json']);
    t.equal(get.status, 0, `get works on a slice ${get.stderr}`);
    const view = JSON.parse(get.stdout) as { interfaces: Array<{ ifname: string; owner: string; network: string; chainIn: string[] }>; remotes?: Array<{ mac: string; host: string }> };
    const dev = view.interfaces.find((i) => i.ifname === DEVICE);
    t.same(dev && { owner: dev.owner, network: dev.network, chainIn: dev.chainIn }, { owner: 'overlay', network: '(overlay)', chainIn: ['overlay', 'bridge'] }, 'the device: owner overlay, chain_in [overlay, bridge]');
    t.same((view.remotes ?? []).map((x) => `${x.mac}@${x.host}`).sort(), CONTAINERS.filter((x) => x.host === 1).map((x) => `${x.mac}@h2`).sort(), 'the remote endpoints and their host');
    const stats = h1.ctl(['stats', name, '-o', 'json']);
    t.equal(stats.status, 0, `stats works ${stats.stderr}`);
    const s = JSON.parse(stats.stdout) as { vnfs: Array<{ vnf: string; reason: string; packets: number }> };
    const n = (reason: string): number => s.vnfs.filter((v) => v.vnf === 'overlay' && v.reason === reason).reduce((a, v) => a + v.packets, 0);
    t.ok(n('ovl-tx') > 50, `overlay transmits counted (${n('ovl-tx')})`);
    t.ok(n('ovl-rx') > 100, `overlay receives counted (${n('ovl-rx')})`);
    t.equal(n('drop:ovl-mtu'), 0, 'no frame was too large for the overlay (the containers\' MTU is its own)');
    t.equal(n('drop:ovl-spoof') + n('drop:ovl-unknown-host') + n('drop:ovl-unknown-vni'), 0, 'no forged or unknown frames on a clean underlay');
  });
}
