/**
 * The router with packets whose headers are not in the skb's linear part
 * (issue 8, defect 1). BPF_PROG_TEST_RUN only builds linear skbs (this kernel
 * refuses a test-run context whose data_end is short of the data: EINVAL), so
 * the case is produced by a real sender: trafgen, which writes frames into an
 * AF_PACKET TX ring. Checked on this kernel with the probe below: frames sent
 * from the ring arrive with only their 14-byte Ethernet header linear, the
 * rest in page fragments; trafgen with an inter-packet gap (-t) sends with
 * sendto() instead, whose small frames are linear — so no gap here.
 *
 * The probe (test/bpf/progs/linear_probe.bpf.c, on the sender's tc egress)
 * proves the frames really were paged, so a test that passes has exercised
 * the case. The same frames through a Linux router are the reference.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfObject } from '../../src/bpf/object.js';
import { attachTc, detachTc } from '../../src/bpf/attach.js';
import { u32 } from '../../src/codec/struct.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { labUp, TWO_NETS } from '../helpers/lab.js';
import { createNetns, createVeth, netnsPath, nsExec, nsRun, ping } from '../helpers/netns.js';
import { counted, getStats, macIn } from '../helpers/vnf.js';
import { testObject } from '../helpers/paths.js';
import { run } from '../helpers/sh.js';

const FRAMES = 200;

/** UDP datagrams that reached a namespace's stack with a valid checksum and no socket (Udp: NoPorts). */
function udpNoPorts(ns: string): number {
  const snmp = nsExec(ns, ['cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = snmp.map((l) => l.trim().split(/\s+/));
  return Number(values![names!.indexOf('NoPorts')]);
}

/** A trafgen config of one 64-byte frame (14 + 20 + 8 + 22): Ethernet, IPv4 and UDP or an ICMP echo request. */
function frameConfig(o: { dstMac: string; srcMac: string; src: string; dst: string; ttl?: number; icmp?: boolean }): string {
  const l4 = o.icmp ? 'icmp4(type=8, code=0, id=7, seq=1)' : 'udp(sport=4000, dport=5000)';
  return `{
  eth(da=${o.dstMac}, sa=${o.srcMac}, type=0x0800),
  ipv4(saddr=${o.src}, daddr=${o.dst}, ttl=${o.ttl ?? 64}, df),
  ${l4},
  fill(0x41, 22)
}
`;
}

/**
 * Sends `count` copies of the frame from `ns`'s eth0 out of trafgen's TX ring (no gap: the ring,
 * not sendto). -q: through the qdisc layer, where tc egress (the probe) runs; by default trafgen
 * bypasses it (PACKET_QDISC_BYPASS). The frames are the same skbs either way.
 */
function trafgen(t: Test, ns: string, config: string, count: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'vnf-trafgen-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'frame.cfg');
  writeFileSync(file, config);
  const r = nsRun(ns, ['timeout', '20', 'trafgen', '--dev', 'eth0', '--conf', file, '-n', String(count), '-P', '1', '-C', '-q'], 30_000);
  if (r.status !== 0) throw new Error(`trafgen failed (${r.status}): ${r.stderr}${r.stdout}`);
}

/** The linear-part probe on the sender's eth0 egress; returns a reader of [frames, frames with paged IPv4 headers]. */
async function probe(t: Test, ns: string): Promise<() => [number, number]> {
  const obj = await BpfObject.load(testObject('linear_probe'));
  t.teardown(() => obj.close());
  const a = attachTc(obj.program('linear_probe'), 'eth0', 'egress', { netns: netnsPath(ns) });
  t.teardown(() => detachTc(a));
  const m = obj.map('lp_counts');
  return () => [0, 1].map((k) => Number(m.lookup(u32(k))!.readBigUInt64LE(0))) as [number, number];
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 500));

if (requirePrivileges(t)) {
  if (run('which', ['trafgen']).status !== 0) {
    t.fail('trafgen is missing: scripts/deps.sh installs it (Debian package netsniff-ng)');
  } else {
    t.test('64-byte frames from an AF_PACKET TX ring (paged headers) are routed, answered and expired like linear ones', async (t) => {
      const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
      const a = lab.ns('a');
      const c = lab.ns('c');
      t.equal(ping(a, '10.61.1.1', 1), 1, 'a resolves its gateway (the router port)');
      const routerMac = (JSON.parse(nsExec(a, ['ip', '-j', 'neigh', 'show', '10.61.1.1'])) as Array<{ lladdr: string }>)[0]!.lladdr;
      const seen = await probe(t, a);
      const frame = { dstMac: routerMac, srcMac: macIn(a), src: '10.61.1.10' };

      const before = udpNoPorts(c);
      const s0 = getStats(lab.name);
      trafgen(t, a, frameConfig({ ...frame, dst: '10.61.2.10' }), FRAMES);
      await settle();
      const [frames, paged] = seen();
      t.equal(frames, FRAMES, 'the probe saw every 64-byte frame leave the sender');
      t.equal(paged, FRAMES, 'every one had its IPv4 header outside the linear part');
      t.equal(udpNoPorts(c) - before, FRAMES, `all ${FRAMES} datagrams reached c, with valid checksums`);
      const s1 = getStats(lab.name);
      t.equal(counted(s1, 'router', 'drop:malformed') - counted(s0, 'router', 'drop:malformed'), 0, 'none dropped as malformed');
      t.ok(counted(s1, 'router', 'routed') - counted(s0, 'router', 'routed') >= FRAMES, 'all counted as routed');

      // An echo request to the router's address: the ICMP header is read too.
      trafgen(t, a, frameConfig({ ...frame, dst: '10.61.1.1', icmp: true }), 20);
      await settle();
      const s2 = getStats(lab.name);
      t.equal(counted(s2, 'router', 'icmp-echo-reply') - counted(s1, 'router', 'icmp-echo-reply'), 20, 'echo requests with paged headers answered');

      // TTL 1: an ICMP error quoting a paged header (fewer than the rate limit's burst).
      trafgen(t, a, frameConfig({ ...frame, dst: '10.61.2.10', ttl: 1 }), 3);
      await settle();
      const s3 = getStats(lab.name);
      t.equal(counted(s3, 'router', 'drop:ttl') - counted(s2, 'router', 'drop:ttl'), 3, 'TTL expiry seen');
      t.equal(counted(s3, 'router', 'icmp-error') - counted(s2, 'router', 'icmp-error'), 3, 'time exceeded sent for each');
      t.equal(seen()[1], FRAMES + 23, 'those frames were paged as well');
    });

    t.test('reference: Linux routes the same frames', async (t) => {
      const [s, r, d] = [createNetns(t, 'lps'), createNetns(t, 'lpr'), createNetns(t, 'lpd')];
      createVeth(t, { name: 'eth0', ns: s, ip: '10.71.1.10/24' }, { name: 'left0', ns: r, ip: '10.71.1.1/24' });
      createVeth(t, { name: 'right0', ns: r, ip: '10.71.2.1/24' }, { name: 'eth0', ns: d, ip: '10.71.2.10/24' });
      nsExec(r, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      // A static neighbour: the burst would otherwise overflow the queue of an unresolved one.
      nsExec(r, ['ip', 'neigh', 'replace', '10.71.2.10', 'lladdr', macIn(d), 'dev', 'right0']);
      const seen = await probe(t, s);
      const before = udpNoPorts(d);
      trafgen(t, s, frameConfig({ dstMac: macIn(r, 'left0'), srcMac: macIn(s), src: '10.71.1.10', dst: '10.71.2.10' }), FRAMES);
      await settle();
      t.equal(seen()[1], FRAMES, 'paged frames');
      t.equal(udpNoPorts(d) - before, FRAMES, 'Linux delivered every one');
    });
  }
}
