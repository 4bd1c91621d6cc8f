/**
 * Many hosts (issue 12), on hosts simulated on this machine (bench/lib/sim): an underlay bridge,
 * a real etcd, one agent per host.
 *
 * Datapath, between two hosts: cross-host TCP throughput (iperf3, one stream) and the 64-byte
 * UDP packet rate (trafgen from a container, counted at the receiving container's interface)
 * through vnf's overlay and through Linux's own VXLAN + bridge on the same hosts, in interleaved
 * rounds; the ratio vnf/Linux is taken per round. Both overlays are up at once, so the Linux
 * VXLAN devices use UDP port 4790: vnf's collect_md device holds 4789 in each host's namespace,
 * and the kernel refuses a second device on the same port.
 *
 * Control plane, at 3 and at 10 hosts: an edit (a new container on one host, which every other
 * host must learn as a remote endpoint) timed from `vnf-ctl apply --store` returning until every
 * host reports the new revision applied (polling `vnf-ctl get`), and until the new container's
 * pings to a container on every host are answered; and the agents' resident memory.
 *
 * The vnf half needs the agent (dist/vnf-agent.js) and the store commands; without them the
 * scenario measures the Linux half and says what it left out.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/native/binding.js';
import { barChart } from '../lib/charts.js';
import { emptyResult, fmtNum, fmtRatio, fmtSummary, interleave, median, Samples, summarize, type Context, type Figure, type Scenario, type ScenarioResult } from '../lib/harness.js';
import { reachable } from '../lib/net.js';
import type { Path } from '../lib/paths.js';
import { startServers, tcpThroughput, udpRate } from '../lib/traffic.js';
import { Cluster } from '../lib/sim/cluster.js';
import type { SimContainer } from '../lib/sim/containers.js';
import { linuxOverlay } from '../lib/sim/linux-vxlan.js';
import { StoreTopology, editReachesAll, staticNeighbours } from '../lib/sim/store-topology.js';
import { multiHostFile } from '../lib/sim/topology.js';

const LINUX = 'linux-vxlan-bridge';
const VNF = 'vnf-overlay';

const agentBuilt = (): boolean => existsSync(join(projectRoot(), 'dist', 'vnf-agent.js'));

function pathOf(kind: string, client: SimContainer, server: SimContainer): Path {
  const c = client.interfaces[0]!;
  const s = server.interfaces[0]!;
  return { kind, client: { ns: client.ns, ifname: c.name, ip: c.addr, mac: c.mac }, server: { ns: server.ns, ifname: s.name, ip: s.addr }, dstMac: s.mac };
}

const twoHostNet = (name: string, third: number, vni: number, client: string, server: string) => ({
  apiVersion: 'vnf/v1', name,
  networks: { lan: { subnet: `10.${third}.1.0/24`, vni } },
  containers: {
    [client]: { host: 'h1', interfaces: { eth0: { network: 'lan', ip: `10.${third}.1.10/24` } } },
    [server]: { host: 'h2', interfaces: { eth0: { network: 'lan', ip: `10.${third}.1.11/24` } } },
  },
});

/** Datapath figures (Linux always, vnf when the agent exists). */
async function datapath(ctx: Context, res: ScenarioResult, vnf: boolean): Promise<void> {
  const c = await Cluster.up({ hosts: 2, cleanup: ctx.cleanup, dir: ctx.tmp, prefix: `vnfb${ctx.tag}d`, agents: vnf });
  const paths: Path[] = [];
  const lmt = multiHostFile(join(ctx.tmp, 'linux.yaml'), twoHostNet(`vb${ctx.tag}l`, 230, 2001, 'lc', 'ls'));
  const lcs = c.createContainers(lmt);
  linuxOverlay(c, lmt, lcs, { port: vnf ? 4790 : 4789 });
  paths.push(pathOf(LINUX, lcs.get('lc')!, lcs.get('ls')!));
  if (vnf) {
    const st = new StoreTopology(c, ctx.tmp, twoHostNet(`vb${ctx.tag}v`, 231, 2002, 'vc', 'vs'));
    const e = st.apply();
    const conv = await c.waitConverged(e.revision, 60_000, { since: e.at });
    ctx.log(`vnf topology applied on both hosts ${fmtNum(conv.ms, 0)} ms after apply returned`);
    paths.push(pathOf(VNF, st.container('vc'), st.container('vs')));
  }
  for (const p of paths) {
    await reachable(p.client.ns, p.server.ip, p.kind, 20);
    await startServers(p, ctx.cleanup, ctx.tmp);
  }
  const cfg = ctx.quick ? { tcp: 2, udp: 1, warm: 0.3 } : { tcp: 3, udp: 2, warm: 0.5 };
  const s = new Samples();
  s.metric('tcp-1', 'Gbit/s', 'higher');
  s.metric('udp-rx', 'kpps', 'higher');
  s.metric('udp-cpu', 'CPU ns/packet', 'lower');
  await interleave(paths, ctx.rounds, async (p, r) => {
    s.add('tcp-1', p.kind, r, tcpThroughput(p, 1, cfg.tcp));
    const u = await udpRate(p, { seconds: cfg.udp, warmup: cfg.warm, flows: 'one', dir: ctx.tmp, cleanup: ctx.cleanup });
    s.add('udp-rx', p.kind, r, u.rxPps / 1e3);
    s.add('udp-cpu', p.kind, r, u.cpuNsPerPacket);
    ctx.log(`  ${p.kind}: tcp ${fmtNum(s.get('tcp-1', p.kind)[r]!)} Gbit/s, udp ${fmtNum(u.rxPps / 1e3)} kpps arrived of ${fmtNum(u.txPps / 1e3)} sent, ${fmtNum(u.cpuNsPerPacket)} CPU ns/packet`);
  }, ctx.log);
  for (const m of ['tcp-1', 'udp-rx', 'udp-cpu']) res.figures[`cross-host-${m}`] = s.figures(m, LINUX);
  const f = (m: string, v: string): Figure | undefined => res.figures[`cross-host-${m}`]!.find((x) => x.variant === v);
  res.tables.push({
    title: 'Across two simulated hosts: vnf overlay vs Linux VXLAN + bridge',
    columns: ['datapath', 'TCP 1 stream, Gbit/s', '× Linux', '64-byte UDP, kpps', '× Linux', 'CPU ns/packet', '× Linux'],
    rows: paths.map((p) => {
      const base = p.kind === LINUX;
      return [p.kind, fmtSummary(f('tcp-1', p.kind)!.summary), base ? '(baseline)' : fmtRatio(f('tcp-1', p.kind)!.ratio),
        fmtSummary(f('udp-rx', p.kind)!.summary), base ? '(baseline)' : fmtRatio(f('udp-rx', p.kind)!.ratio),
        fmtSummary(f('udp-cpu', p.kind)!.summary), base ? '(baseline)' : fmtRatio(f('udp-cpu', p.kind)!.ratio)];
    }),
    notes: [
      `Client container on h1, server container on h2, one network; container MTU 1450, underlay MTU 1500. iperf3 ${cfg.tcp} s, one stream; trafgen 64-byte UDP from one CPU for ${cfg.udp} s after ${cfg.warm} s, counted at the server container's eth0. Median (min–max) over ${ctx.rounds} interleaved rounds; ratios per round.`,
      `Linux: per host a bridge and a VXLAN device (id, nolearning, static FDB: all-zero entries to the other hosts of the network, one per remote MAC)${vnf ? ', on UDP port 4790 because vnf\'s device holds 4789 on the same hosts' : ''}.`,
      ...(vnf ? [] : ['vnf overlay: not measured — dist/vnf-agent.js is not built (the agent and the overlay dataplane are on branches not merged here).']),
    ],
  });
  res.charts.push({
    id: 'hosts-tcp', title: 'Cross-host TCP throughput',
    spec: barChart('Cross-host TCP throughput, iperf3 one stream (Gbit/s)', 'Gbit/s', paths.map((p) => ({ label: p.kind, family: p.kind === LINUX ? 'linux' : 'vnf', s: f('tcp-1', p.kind)!.summary }))),
  });
  res.charts.push({
    id: 'hosts-udp', title: 'Cross-host 64-byte UDP rate',
    spec: barChart('Cross-host 64-byte UDP packets arriving per second (kpps)', 'kpps', paths.map((p) => ({ label: p.kind, family: p.kind === LINUX ? 'linux' : 'vnf', s: f('udp-rx', p.kind)!.summary }))),
  });
  await c.down();
}

interface SizeResult {
  hosts: number;
  storeMs: number[];
  /** The same, from the hosts' reported appliedAt (no polling slack). */
  reportedMs: number[];
  packetsMs: number[];
  rssKiB: number[];
  joinMs?: number;
}

/** Edits at `hosts` hosts: the cluster (grown to that size) and its topology (grown too). */
async function edits(ctx: Context, c: Cluster, st: StoreTopology, hosts: number, count: number, first: number): Promise<SizeResult> {
  const out: SizeResult = { hosts, storeMs: [], reportedMs: [], packetsMs: [], rssKiB: [] };
  if (c.hosts.length < hosts) {
    await c.addHosts(hosts - c.hosts.length, true);
    for (const h of c.hosts) {
      const p = `p${h.index + 1}`;
      st.data.containers[p] = { host: h.name, interfaces: { eth0: { network: 'lan', ip: `10.240.${h.index + 1}.10/16` } } };
    }
    const e = st.apply();
    out.joinMs = (await c.waitConverged(e.revision, 120_000, { since: e.at })).ms;
    ctx.log(`${hosts} hosts: every agent applied the topology ${fmtNum(out.joinMs, 0)} ms after apply returned`);
  }
  const targets = c.hosts.map((h) => `10.240.${h.index + 1}.10`);
  for (let k = first; k < first + count; k++) {
    const h = c.hosts[k % c.hosts.length]!;
    const name = `e${k}`;
    st.data.containers[name] = { host: h.name, interfaces: { eth0: { network: 'lan', ip: `10.240.200.${k + 1}/16` } } };
    st.create();
    // ARP sent before the dataplane is ready (theirs or its) would hold later pings for 1 s.
    const peers = c.hosts.map((x) => st.container(`p${x.index + 1}`));
    staticNeighbours(st.container(name), peers);
    for (const p of peers) staticNeighbours(p, [st.container(name)]);
    const e = st.apply();
    const r = await editReachesAll(c, e, st.container(name), targets);
    out.storeMs.push(r.store.ms);
    out.reportedMs.push(r.store.reportedMs ?? NaN);
    out.packetsMs.push(r.packetsMs);
    ctx.log(`  ${hosts} hosts, edit ${k - first + 1}/${count} (a container on ${h.name}): every host applied it after ${fmtNum(r.store.reportedMs ?? NaN, 0)} ms (by their appliedAt; seen by polling after ${fmtNum(r.store.ms, 0)} ms), its pings to every host answered after ${fmtNum(r.packetsMs, 0)} ms`);
  }
  out.rssKiB = c.hosts.map((h) => h.agentRssKiB());
  return out;
}

const fig = (metric: string, unit: string, variant: string, samples: number[]): Figure => ({ metric, unit, variant, samples, summary: summarize(samples), better: 'lower' });

async function controlPlane(ctx: Context, res: ScenarioResult): Promise<void> {
  const c = await Cluster.up({ hosts: 3, cleanup: ctx.cleanup, dir: ctx.tmp, prefix: `vnfb${ctx.tag}e`, agents: true });
  const st = new StoreTopology(c, ctx.tmp, {
    apiVersion: 'vnf/v1', name: `vb${ctx.tag}e`,
    networks: { lan: { subnet: '10.240.0.0/16', vni: 3001 } },
    containers: Object.fromEntries(c.hosts.map((h) => [`p${h.index + 1}`, { host: h.name, interfaces: { eth0: { network: 'lan', ip: `10.240.${h.index + 1}.10/16` } } }])),
  });
  const e0 = st.apply();
  const join3 = (await c.waitConverged(e0.revision, 60_000, { since: e0.at })).ms;
  const count = ctx.quick ? 3 : 5;
  const sizes: SizeResult[] = [];
  const at3 = await edits(ctx, c, st, 3, count, 0);
  at3.joinMs = join3;
  sizes.push(at3);
  sizes.push(await edits(ctx, c, st, 10, count, count));
  for (const z of sizes) {
    res.figures[`edit-store-ms-${z.hosts}`] = [fig('edit-store', 'ms', `${z.hosts} hosts`, z.storeMs)];
    res.figures[`edit-applied-ms-${z.hosts}`] = [fig('edit-applied', 'ms', `${z.hosts} hosts`, z.reportedMs)];
    res.figures[`edit-packets-ms-${z.hosts}`] = [fig('edit-packets', 'ms', `${z.hosts} hosts`, z.packetsMs)];
    res.figures[`agent-rss-${z.hosts}`] = [fig('agent-rss', 'MiB', `${z.hosts} hosts`, z.rssKiB.map((x) => x / 1024))];
  }
  res.tables.push({
    title: 'An edit reaching every host, and agent memory',
    columns: ['hosts', 'apply → every host applied it (appliedAt), ms', 'apply → seen applied by polling get, ms', 'apply → pings to every host answered, ms', 'agent RSS, MiB (median, max)', 'whole topology first applied, ms'],
    rows: sizes.map((z) => [String(z.hosts), fmtSummary(summarize(z.reportedMs), 0), fmtSummary(summarize(z.storeMs), 0), fmtSummary(summarize(z.packetsMs), 0),
      `${fmtNum(median(z.rssKiB) / 1024, 1)}, ${fmtNum(Math.max(...z.rssKiB) / 1024, 1)}`, z.joinMs !== undefined ? fmtNum(z.joinMs, 0) : '']),
    notes: [
      `Each edit adds a container on the next host (round robin): every other host must learn it as a remote endpoint. ${count} edits per size; median (min–max). Times start when \`vnf-ctl apply --store\` returned.`,
      '"Every host applied it": the latest appliedAt the hosts reported for the edit\'s revision (the agents stamp it with this machine\'s clock when their apply finished). "Seen by polling": `vnf-ctl get --store -o json` polled (each poll a new vnf-ctl process, ~0.2–0.4 s here) until every live host\'s appliedRevision reached the revision — up to one poll of slack.',
      '"Pings answered": from the new container (it and the targets given static neighbours for each other, so that an ARP attempt made before the dataplane was ready does not hold later pings for the kernel\'s 1 s retransmit time), one ping (100 ms wait) after another to a container on every host, at once, until each answered — the edit is in the dataplane of both ends.',
      'RSS: VmRSS of each agent\'s node process after the edits.',
    ],
  });
  await c.down();
}

export const hostsScenario: Scenario = {
  id: 'hosts',
  title: 'Many hosts: the overlay against Linux VXLAN + bridge, edits reaching every host',
  about: 'simulated hosts (netns + mount ns, underlay bridge, real etcd): cross-host iperf3 and 64-byte UDP pps, vnf vs Linux VXLAN + bridge; edit → every host at 3 and 10 hosts; agent RSS',
  minutes: { quick: 3, full: 6 },
  rounds: { quick: 2, full: 3 },
  async run(ctx: Context): Promise<ScenarioResult> {
    const res = emptyResult();
    const vnf = agentBuilt();
    await datapath(ctx, res, vnf);
    if (vnf) {
      await controlPlane(ctx, res);
    } else {
      res.notes.push('vnf half not measured: dist/vnf-agent.js is missing (the agent, the store commands and the overlay dataplane come from other branches). The Linux half ran; the vnf half runs unchanged once they are merged.');
      res.targets.push({ target: 'An edit reaches every host within a bounded time, at 3 and 10 hosts', measured: 'not measured', met: null, bound: 'no agent in this build' });
    }
    return res;
  },
};
