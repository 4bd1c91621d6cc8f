/**
 * The router's neighbours and answers with real Linux stacks in namespaces (issue 8, defects 2
 * and 11): a next hop that changes its MAC is followed (at once when it announces the change with
 * a gratuitous ARP, through the bridge; by probing when it does not), an absent next hop costs
 * one ARP request per retransmit time and gets the sender ICMP host unreachable, and TCP/UDP to
 * the router's address are refused as by a Linux host. Short timers from settings.router keep the
 * test quick.
 */
import t from 'tap';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp } from '../helpers/lab.js';
import { nsExec, nsRun, ping } from '../helpers/netns.js';
import { capture, counted, getStats, getTopology, handContainer, waitFor } from '../helpers/vnf.js';

const YAML = `
apiVersion: vnf/v1
name: NAME
settings:
  router:
    neighbours: { reachableSeconds: 1, retransSeconds: 0.2, failedSeconds: 1 }
containers:
  a: { interfaces: { eth0: { network: left, ip: 10.65.1.10/24 } } }
  c: { interfaces: { eth0: { network: right, ip: 10.65.2.10/24 } } }
networks:
  left: { subnet: 10.65.1.0/24 }
  right: { subnet: 10.65.2.0/24 }
routers:
  r: { ports: { left: 10.65.1.1/24, right: 10.65.2.1/24 } }
`;

interface Neighbour { network: string; ip: string; mac: string | null; kind: string; state: string; ageSeconds: number | null }
const neighbours = (name: string, ip: string): Neighbour[] =>
  (getTopology(name).neighbours as unknown as Neighbour[]).filter((n) => n.ip === ip);

if (requirePrivileges(t)) {
  t.test('a next hop that changes its MAC: a gratuitous ARP moves it at once, a silent change is found by probing', async (t) => {
    const lab = labUp(t, YAML, ['a', 'c']);
    const a = lab.ns('a');
    // Attached without its namespace: vnf does not know x's MAC; the router learns it by ARP.
    const x = handContainer(t, '10.65.2.50/24', '10.65.2.1');
    const att = vnfctl(['attach', x.host, '--topology', lab.name, '--network', 'right', '--ip', '10.65.2.50/24']);
    t.equal(att.status, 0, att.stderr);
    ping(a, '10.65.2.50', 1); // the first packet may be given up for the ARP request
    t.equal(ping(a, '10.65.2.50', 3), 3, 'a reaches x across the router');
    let n = neighbours(lab.name, '10.65.2.50');
    t.same(n.map((e) => [e.mac, e.kind]), [[x.mac, 'learned']], 'x learned from ARP');
    t.match(n[0]?.state, /^(reachable|stale)/, 'with its state');
    t.ok(typeof n[0]?.ageSeconds === 'number' && n[0].ageSeconds >= 0, 'and its age, in seconds');

    // Announced: Linux sends a gratuitous ARP on an address change when arp_notify is set.
    nsExec(x.ns, ['sysctl', '-qw', 'net.ipv4.conf.eth0.arp_notify=1']);
    const s0 = getStats(lab.name);
    nsExec(x.ns, ['ip', 'link', 'set', 'eth0', 'address', '02:65:00:00:00:01']);
    await waitFor(() => neighbours(lab.name, '10.65.2.50')[0]?.mac === '02:65:00:00:00:01', 'the gratuitous ARP to reach the router', 3000);
    n = neighbours(lab.name, '10.65.2.50');
    t.match(n[0]?.state, /^stale/, 'the new MAC, STALE until confirmed');
    t.equal(counted(getStats(lab.name), 'router', 'neigh-update') - counted(s0, 'router', 'neigh-update'), 1, 'one NEIGH_UPDATE (counted by the bridge\'s hook)');
    const s1 = getStats(lab.name);
    t.equal(ping(a, '10.65.2.50', 3), 3, 'x reached at its new MAC straight away');
    const s2 = getStats(lab.name);
    t.ok(counted(s2, 'router', 'arp-probe') - counted(s1, 'router', 'arp-probe') >= 1, 'the first packet to it went with a probe of the new MAC');
    t.ok(counted(s2, 'router', 'arp-learn') - counted(s1, 'router', 'arp-learn') >= 1, 'which x answered (REACHABLE again)');

    // Silent: no gratuitous ARP. The entry turns STALE after 1 s, its unicast probes to the old
    // MAC go unanswered, then a broadcast request finds the new one.
    nsExec(x.ns, ['sysctl', '-qw', 'net.ipv4.conf.eth0.arp_notify=0']);
    nsExec(x.ns, ['ip', 'link', 'set', 'eth0', 'address', '02:65:00:00:00:02']);
    const r = nsRun(a, ['ping', '-c', '25', '-i', '0.2', '-W', '1', '10.65.2.50'], 30_000);
    const got = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
    t.ok(got >= 5, `pings answered again once resolved (${got}/25)`);
    t.equal(neighbours(lab.name, '10.65.2.50')[0]?.mac, '02:65:00:00:00:02', 'the router found the new MAC');
    const s = getStats(lab.name);
    t.ok(counted(s, 'router', 'arp-probe') >= 3, 'by unicast probes (of the old MAC, unanswered) ...');
    t.ok(counted(s, 'router', 'arp-request') >= 1, '... then a broadcast request');
  });

  t.test('an absent next hop: one ARP request per retransmit time, then ICMP host unreachable to the sender', async (t) => {
    const lab = labUp(t, YAML, ['a', 'c']);
    const a = lab.ns('a');
    let out = '';
    // 20 pings in one second to an address nobody has; c, the other port of `right`, sees the requests.
    const requests = await capture(lab.ns('c'), 'eth0', 'arp and arp[6:2] = 1 and arp[24:4] = 0x0a41024d', () => {
      out = nsRun(a, ['ping', '-c', '20', '-i', '0.05', '-W', '1', '10.65.2.77'], 20_000).stdout;
    }, 3);
    t.ok(requests >= 3 && requests <= 6, `${requests} ARP requests for 20 packets (3 per resolution, one per 0.2 s; ${'before: one per packet'})`);
    t.match(out, /From 10\.65\.1\.1 icmp_seq=\d+ Destination Host Unreachable/, 'the sender is told: host unreachable, from the router');
    const n = neighbours(lab.name, '10.65.2.77');
    t.same(n.map((e) => [e.mac, e.kind]), [[null, 'learned']], 'a pending entry, no MAC (null)');
    t.match(n[0]?.state, /^(failed|incomplete)$/, 'FAILED (or resolving again)');
    const s = getStats(lab.name);
    t.ok(counted(s, 'router', 'drop:neigh-failed') >= 1, 'NEIGH_FAILED counted');
    t.ok(counted(s, 'router', 'drop:neigh-pending') >= 1, 'packets while resolving counted NEIGH_PENDING');
  });

  t.test('TCP and UDP to the router are refused as by a Linux host', async (t) => {
    const lab = labUp(t, YAML, ['a', 'c']);
    const a = lab.ns('a');
    const udpProbe = (ip: string): string => nsRun(a, ['python3', '-c', [
      'import socket', 's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)', 's.settimeout(2)', `s.connect(("${ip}", 9))`, 's.send(b"x")',
      'try:\n  s.recv(10)\n  print("answered")\nexcept ConnectionRefusedError:\n  print("refused")\nexcept socket.timeout:\n  print("timeout")',
    ].join('\n')], 10_000).stdout.trim();
    const tcpProbe = (ip: string): { status: number; err: string; ms: number } => {
      const t0 = Date.now();
      const r = nsRun(a, ['nc', '-zv', '-w', '3', ip, '22'], 10_000);
      return { status: r.status, err: r.stderr, ms: Date.now() - t0 };
    };
    // The reference: c is a Linux host with nothing listening.
    t.equal(udpProbe('10.65.2.10'), 'refused', 'Linux host: UDP refused (ICMP port unreachable)');
    const linux = tcpProbe('10.65.2.10');
    t.match(linux.err, /refused/, 'Linux host: TCP refused (RST)');
    for (const ip of ['10.65.1.1', '10.65.2.1']) {
      t.equal(udpProbe(ip), 'refused', `router ${ip}: UDP refused`);
      const r = tcpProbe(ip);
      t.not(r.status, 0, `router ${ip}: no TCP connection`);
      t.match(r.err, /refused/, `router ${ip}: refused by a RST, not timed out (${r.ms} ms)`);
    }
    const s = getStats(lab.name);
    t.ok(counted(s, 'router', 'tcp-reset') >= 2, 'TCP_RESET counted');
    t.ok(counted(s, 'router', 'drop:no-socket') >= 4, 'NO_SOCKET counted');
  });
}
