/**
 * Paths: TCP throughput (1 and 4 streams), request/response latency and the 64-byte UDP packet
 * rate through every datapath (limit, Linux, vnf), all set up at once and measured in
 * interleaved rounds. Derived, round by round: each path's added cost per packet over the plain
 * veth pair, and vnf's added cost divided by Linux's for the same function.
 *
 * The cost per packet is measured two ways. From the rate: 1e9/rate − 1e9/rate_veth (one sending
 * CPU does all the work — trafgen's send runs the whole receive path in softirq on that CPU — so
 * the difference of per-packet times is what the path adds); this is what an idle machine shows,
 * but it drops whenever other work takes that CPU. From CPU time: the CPU time trafgen's
 * processes and the ksoftirqd threads used during the window, per arrived packet; other work on
 * the machine does not enter it, so it is the primary figure (and the vnf/Linux ratio uses it).
 */
import { barChart } from '../lib/charts.js';
import { emptyResult, fmtNum, fmtRatio, fmtSummary, interleave, Samples, summarize, type Context, type Scenario, type ScenarioResult, type Table } from '../lib/harness.js';
import { labelOf, PATHS, Shared, type Fn, type Path } from '../lib/paths.js';
import { startServers, tcpLatency, tcpThroughput, udpRate } from '../lib/traffic.js';
import { topologyStats } from '../../src/ops/status.js';
import { pinDir } from '../../src/model/names.js';
import { nsPerPacket, progStats, withBpfStats } from '../lib/bpfstats.js';

/** vnf's own drop counters of a topology ("router drop:malformed 12,345"), to say why packets vanished. */
export function vnfDrops(topology: string): string {
  try {
    const st = topologyStats(topology);
    const drops = st.vnfs.filter((x) => x.verdict === 'drop').sort((a, b) => Number(b.packets - a.packets));
    return drops.length ? drops.map((d) => `${d.vnf} ${d.reason} ${d.packets.toLocaleString('en-US')}`).join(', ') : 'no drops counted';
  } catch (e) {
    return `counters unreadable: ${(e as Error).message}`;
  }
}

/** Linux and vnf kinds compared per function (NAT and the full chain join when they exist). */
export const PAIRS: Array<{ fn: Fn; linux: string; vnf: string }> = [
  { fn: 'bridge', linux: 'linux-bridge', vnf: 'vnf-bridge' },
  { fn: 'router', linux: 'linux-router', vnf: 'vnf-router' },
  { fn: 'router+filter', linux: 'linux-router-nft', vnf: 'vnf-router-fw' },
  { fn: 'router+nat', linux: 'linux-router-masq', vnf: 'vnf-router-nat' },
];

export const pathsScenario: Scenario = {
  id: 'paths',
  title: 'Datapaths: the limit, Linux and vnf',
  about: 'iperf3 1/4 streams, TCP ping-pong p50/p99, trafgen 64-byte UDP pps and added ns/packet through veth, null forwarder, Linux bridge/router/nft filter/nft masquerade, vnf bridge/router/firewall/NAT/full chain',
  minutes: { quick: 1.5, full: 5 },
  rounds: { quick: 2, full: 4 },
  async run(ctx: Context): Promise<ScenarioResult> {
    const res = emptyResult();
    const cl = ctx.cleanup;
    const shared = new Shared(cl);
    const kinds = PATHS.filter((k) => !k.pending);
    const paths: Path[] = [];
    for (const [i, k] of kinds.entries()) {
      ctx.log(`set up ${k.id}`);
      const p = await k.build({ ctx, cleanup: cl, id: `${ctx.tag}${i}`, shared });
      await startServers(p, cl, ctx.tmp);
      paths.push(p);
    }
    const cfg = ctx.quick ? { tcp: 1, lat: 3000, udp: 1, warm: 0.3 } : { tcp: 2, lat: 10000, udp: 2, warm: 0.5 };
    const s = new Samples();
    s.metric('tcp-1', 'Gbit/s', 'higher');
    s.metric('tcp-4', 'Gbit/s', 'higher');
    s.metric('rtt-p50', 'µs', 'lower');
    s.metric('rtt-p99', 'µs', 'lower');
    s.metric('udp-rx', 'kpps', 'higher');
    s.metric('udp-tx', 'kpps', 'higher');
    s.metric('udp-cpu', 'CPU ns/packet', 'lower');
    await interleave(paths, ctx.rounds, async (p, r) => {
      s.add('tcp-1', p.kind, r, tcpThroughput(p, 1, cfg.tcp));
      s.add('tcp-4', p.kind, r, tcpThroughput(p, 4, cfg.tcp));
      const l = tcpLatency(p, cfg.lat);
      s.add('rtt-p50', p.kind, r, l.p50_us);
      s.add('rtt-p99', p.kind, r, l.p99_us);
      const u = await udpRate(p, { seconds: cfg.udp, warmup: cfg.warm, flows: 'one', dir: ctx.tmp, cleanup: cl });
      s.add('udp-rx', p.kind, r, u.rxPps / 1e3);
      s.add('udp-tx', p.kind, r, u.txPps / 1e3);
      s.add('udp-cpu', p.kind, r, u.cpuNsPerPacket);
      ctx.log(`  ${p.kind}: tcp ${fmtNum(s.get('tcp-1', p.kind)[r]!)} / ${fmtNum(s.get('tcp-4', p.kind)[r]!)} Gbit/s, rtt p50 ${fmtNum(l.p50_us)} µs, ` +
        `udp ${fmtNum(u.rxPps / 1e3)} kpps arrived of ${fmtNum(u.txPps / 1e3)} sent, ${fmtNum(u.cpuNsPerPacket)} CPU ns/packet`);
    }, ctx.log);

    // A separate pass with the kernel's BPF run-time counters on (they cost two clock reads per
    // run, so the figures above are measured without them): how much of each vnf path's added cost
    // its programs are.
    s.metric('bpf-ns', 'ns/packet', 'lower');
    const vnfPaths = paths.filter((p) => p.topology);
    await withBpfStats(() => interleave(vnfPaths, ctx.rounds, async (p, r) => {
      const dir = `${pinDir(p.topology!)}/progs`;
      const before = progStats(dir);
      await udpRate(p, { seconds: ctx.quick ? 0.5 : 1, warmup: 0.2, flows: 'one', dir: ctx.tmp, cleanup: cl });
      s.add('bpf-ns', p.kind, r, nsPerPacket(before, progStats(dir)).ns);
    }, (m) => ctx.log(`bpf_stats ${m}`)));

    const rounds = ctx.rounds;
    const rx = (k: string, r: number): number => s.get('udp-rx', k)[r]! * 1e3;
    const dead = new Set(paths.filter((p) => summarize(s.get('udp-rx', p.kind)).median < 0.01 * summarize(s.get('udp-tx', p.kind)).median).map((p) => p.kind));
    const deadWhy = new Map(paths.filter((p) => dead.has(p.kind) && p.topology).map((p) => [p.kind, vnfDrops(p.topology!)] as const));
    const cpu = (k: string, r: number): number => s.get('udp-cpu', k)[r]!;
    for (const p of paths) {
      if (p.kind === 'veth') continue;
      s.derive('added-ns', 'CPU ns/packet', p.kind, (r) => (dead.has(p.kind) ? NaN : cpu(p.kind, r) - cpu('veth', r)), rounds, 'lower');
      s.derive('added-ns-rate', 'ns/packet', p.kind, (r) => (dead.has(p.kind) ? NaN : 1e9 / rx(p.kind, r) - 1e9 / rx('veth', r)), rounds, 'lower');
    }
    // A ratio only where Linux's added cost is above zero: below it, noise dominates the difference.
    for (const pair of PAIRS) {
      if (!paths.some((p) => p.kind === pair.linux) || !paths.some((p) => p.kind === pair.vnf)) continue;
      s.derive('vnf-over-linux', '×', pair.fn, (r) => {
        const l = s.get('added-ns', pair.linux)[r]!;
        return l > 0 ? s.get('added-ns', pair.vnf)[r]! / l : NaN;
      }, rounds, 'lower');
    }
    const figs = {
      'tcp-1': s.figures('tcp-1', 'veth'),
      'tcp-1-vs-null': s.figures('tcp-1', 'null-fwd'),
      'tcp-4': s.figures('tcp-4', 'veth'),
      'tcp-4-vs-null': s.figures('tcp-4', 'null-fwd'),
      'rtt-p50': s.figures('rtt-p50', 'veth'),
      'rtt-p99': s.figures('rtt-p99', 'veth'),
      'udp-rx': s.figures('udp-rx', 'veth'),
      'udp-tx': s.figures('udp-tx'),
      'udp-cpu': s.figures('udp-cpu', 'veth'),
      'added-ns': s.figures('added-ns'),
      'added-ns-rate': s.figures('added-ns-rate'),
      'vnf-over-linux': s.figures('vnf-over-linux'),
      'bpf-ns': s.figures('bpf-ns'),
    };
    res.figures = figs;
    const get = (m: keyof typeof figs, v: string) => figs[m].find((f) => f.variant === v);
    const order = paths.map((p) => p.kind);
    const tcpTable: Table = {
      title: 'TCP throughput and request/response latency',
      columns: ['path', 'TCP 1 stream, Gbit/s', '× veth', '× null fwd', 'TCP 4 streams, Gbit/s', '× veth', '× null fwd', 'RTT p50, µs', 'RTT p99, µs', 'p50 × veth'],
      rows: order.map((k) => [
        labelOf(k),
        fmtSummary(get('tcp-1', k)!.summary), fmtRatio(get('tcp-1', k)!.ratio), fmtRatio(get('tcp-1-vs-null', k)!.ratio),
        fmtSummary(get('tcp-4', k)!.summary), fmtRatio(get('tcp-4', k)!.ratio), fmtRatio(get('tcp-4-vs-null', k)!.ratio),
        fmtSummary(get('rtt-p50', k)!.summary), fmtSummary(get('rtt-p99', k)!.summary), fmtRatio(get('rtt-p50', k)!.ratio),
      ]),
      notes: [`iperf3 -t ${cfg.tcp}; ping-pong: ${cfg.lat} round trips of 64 bytes on one TCP connection (TCP_NODELAY, blocking sockets). Median (min–max) over ${rounds} interleaved rounds; ratios per round.`],
    };
    const udpTable: Table = {
      title: '64-byte UDP packet rate (trafgen, one sending CPU; counted at the server interface)',
      columns: ['path', 'arrived, kpps', '× veth', 'sent, kpps', 'CPU ns per packet', 'added CPU ns over veth', 'added ns from the rate'],
      rows: order.map((k) => [
        labelOf(k), fmtSummary(get('udp-rx', k)!.summary), fmtRatio(get('udp-rx', k)!.ratio), fmtSummary(get('udp-tx', k)!.summary),
        dead.has(k) ? 'n/a' : fmtSummary(get('udp-cpu', k)!.summary),
        k === 'veth' ? '(baseline)' : dead.has(k) ? 'n/a: nothing arrived' : fmtSummary(get('added-ns', k)!.summary),
        k === 'veth' ? '(baseline)' : dead.has(k) ? 'n/a' : fmtSummary(get('added-ns-rate', k)!.summary),
      ]),
      notes: [
        `trafgen -P 1 for ${cfg.udp} s after ${cfg.warm} s of warm-up; a single 5-tuple. ` +
        'CPU ns per packet: CPU time of trafgen (its send runs the receive path in softirq on the same CPU) and of ksoftirqd during the window, per arrived packet (10 ms ticks). ' +
        'Added CPU ns = CPU ns(path) − CPU ns(veth); added ns from the rate = 1e9/rate(path) − 1e9/rate(veth); both per round. On a busy machine the rate-based figure absorbs the time other work took from the sending CPU; the CPU-time figure does not.',
      ],
    };
    const fnTable: Table = {
      title: "vnf's added cost per packet divided by Linux's, per function (CPU time; target ≤ 0.33)",
      columns: ['function', 'vnf path', 'vnf added ns', 'Linux path', 'Linux added ns', 'vnf / Linux'],
      rows: PAIRS.map((pair) => {
        const v = get('added-ns', pair.vnf);
        const l = get('added-ns', pair.linux);
        const q = get('vnf-over-linux', pair.fn);
        if (!v || !l) return [pair.fn, labelOf(pair.vnf), 'pending', labelOf(pair.linux), 'pending', 'not measured in this run'];
        return [pair.fn, labelOf(pair.vnf), dead.has(pair.vnf) ? 'n/a' : fmtSummary(v.summary), labelOf(pair.linux), fmtSummary(l.summary), dead.has(pair.vnf) ? 'n/a (nothing arrived)' : fmtRatio(q?.summary)];
      }),
    };
    // The routed small-packet rate on its own (issues 7 and 8): vnf's router next to Linux's, the plain veth pair as the floor.
    for (const k of ['linux-router', 'vnf-router']) {
      if (!paths.some((p) => p.kind === k) || dead.has(k)) continue;
      s.derive('routed-rate-ratio', '×', k, (r) => s.get('udp-rx', k)[r]! / s.get('udp-rx', 'linux-router')[r]!, rounds, 'higher');
    }
    if (paths.some((p) => p.kind === 'vnf-router') && !dead.has('vnf-router')) {
      s.derive('vnf-over-linux-rate', '×', 'router', (r) => {
        const l = s.get('added-ns-rate', 'linux-router')[r]!;
        return l > 0 ? s.get('added-ns-rate', 'vnf-router')[r]! / l : NaN;
      }, rounds, 'lower');
    }
    const rr = (m: string, v: string) => s.figures(m).find((x) => x.variant === v);
    const routedKinds = ['veth', 'linux-router', 'vnf-router'].filter((k) => paths.some((p) => p.kind === k));
    const routedTable: Table = {
      title: 'Routed 64-byte UDP (trafgen), vnf router next to the Linux router, plain veth pair as baseline',
      columns: ['path', 'arrived, kpps', '× veth', '× Linux router', 'added ns/packet over veth (from the rate)', 'added CPU ns/packet over veth'],
      rows: routedKinds.map((k) => [
        labelOf(k), fmtSummary(get('udp-rx', k)!.summary), fmtRatio(get('udp-rx', k)!.ratio),
        k === 'veth' ? '' : dead.has(k) ? 'n/a' : fmtRatio(rr('routed-rate-ratio', k)?.summary),
        k === 'veth' ? '(baseline)' : dead.has(k) ? 'n/a: nothing arrived' : fmtSummary(get('added-ns-rate', k)!.summary),
        k === 'veth' ? '(baseline)' : dead.has(k) ? 'n/a: nothing arrived' : fmtSummary(get('added-ns', k)!.summary),
      ]),
      notes: [
        `vnf's added cost divided by Linux's (router): ${fmtRatio(rr('vnf-over-linux-rate', 'router')?.summary) || 'n/a'} from the rate, ${fmtRatio(get('vnf-over-linux', 'router')?.summary) || 'n/a'} from CPU time (target ≤ 0.33). ` +
        'Packets counted as they arrive: rx_packets of the server\'s interface in its namespace over the window. Both routers forward between two /24s over two veth pairs (client → router → server); the veth pair is one pair, client → server.',
      ],
    };
    res.figures['routed-rate-ratio'] = s.figures('routed-rate-ratio');
    res.figures['vnf-over-linux-rate'] = s.figures('vnf-over-linux-rate');
    const nullAdded = get('added-ns', 'null-fwd')?.summary;
    const bpfTable: Table = {
      title: "Where vnf's added cost goes: its programs' run time per packet (kernel.bpf_stats_enabled, a separate pass)",
      columns: ['path', 'added CPU ns over veth (rounds above)', "in vnf's programs, ns/packet", 'the rest, ns'],
      rows: [
        ...(nullAdded ? [[labelOf('null-fwd'), fmtSummary(nullAdded), '(a null program)', '']] : []),
        ...vnfPaths.filter((p) => !dead.has(p.kind)).map((p) => {
          const added = get('added-ns', p.kind)!.summary;
          const bpf = get('bpf-ns', p.kind)!.summary;
          return [labelOf(p.kind), fmtSummary(added), fmtSummary(bpf), fmtNum(added.median - bpf.median)];
        }),
      ],
      notes: [
        "run_time_ns / run_cnt of the programs attached to the topology's ports (a chain's tail calls count in the program that started it), per packet that entered, over a trafgen run like the one above. " +
        'The rest is what the path layout costs besides the programs: the second veth pair and the redirect into the peer (the null forwarder pays that too, with an empty program), skb handling of the flooded or redirected packet, and what the counters themselves add.',
      ],
    };
    res.tables.push(routedTable, tcpTable, udpTable, fnTable, bpfTable);
    for (const k of PATHS.filter((p) => p.pending)) res.notes.push(`${k.label}: not measured — ${k.pending}.`);
    for (const k of dead) {
      const why = deadWhy.get(k);
      res.notes.push(`${labelOf(k)}: no 64-byte UDP packet arrived${why ? ` (vnf's counters: ${why})` : ''}.`);
    }
    const fam = (k: string): string => PATHS.find((p) => p.id === k)?.family ?? 'other';
    res.charts.push(
      { id: 'paths-udp', title: '64-byte UDP packet rate', spec: barChart('64-byte UDP packets arriving per second (kpps; median, min–max whiskers)', 'kpps', order.map((k) => ({ label: labelOf(k), family: fam(k), s: get('udp-rx', k)!.summary }))) },
      { id: 'paths-added-ns', title: 'Added cost per packet over a plain veth pair', spec: barChart('Added CPU time per 64-byte packet over a plain veth pair (ns)', 'CPU ns/packet', order.filter((k) => k !== 'veth' && !dead.has(k)).map((k) => ({ label: labelOf(k), family: fam(k), s: get('added-ns', k)!.summary }))) },
      {
        id: 'paths-tcp', title: 'TCP throughput', spec: barChart('TCP throughput, iperf3 (Gbit/s)', 'Gbit/s', order.flatMap((k) => [
          { label: labelOf(k), family: fam(k), series: '1 stream', s: get('tcp-1', k)!.summary },
          { label: labelOf(k), family: fam(k), series: '4 streams', s: get('tcp-4', k)!.summary },
        ])),
      },
      { id: 'paths-rtt', title: 'TCP request/response p50', spec: barChart('TCP ping-pong round trip, p50 (µs)', 'µs', order.map((k) => ({ label: labelOf(k), family: fam(k), s: get('rtt-p50', k)!.summary }))) },
    );
    // Targets: the full chain (firewalls on both containers, NAT, router, bridge) against the null forwarder.
    const chainVsNull = get('tcp-1-vs-null', 'vnf-full-chain')?.ratio;
    const chain4 = get('tcp-4-vs-null', 'vnf-full-chain')?.ratio;
    const chainOk = chainVsNull && !dead.has('vnf-full-chain') ? chainVsNull.median >= 0.95 && (!chain4 || chain4.median >= 0.95) : null;
    res.targets.push({
      target: 'Full chain TCP ≥ 0.95× the null forwarder',
      measured: chainVsNull ? `firewall → NAT → router → bridge, 1 stream: ${fmtRatio(chainVsNull)}; 4 streams: ${fmtRatio(chain4)}` : 'n/a',
      met: chainOk,
      ...(chainOk === false ? { by: `${fmtNum((0.95 - Math.min(chainVsNull!.median, chain4?.median ?? Infinity)) * 100, 1)} points` } : {}),
      ...(chainOk === null ? { bound: 'the full chain was not measured in this run' } : {}),
    });
    for (const pair of PAIRS) {
      const q = get('vnf-over-linux', pair.fn)?.summary;
      if (!q) {
        res.targets.push({ target: `vnf's added per-packet cost ≤ 1/3 of Linux's: ${pair.fn}`, measured: 'not measured', met: null, bound: 'a path of the pair was not run' });
        continue;
      }
      const ok = Number.isFinite(q.median) && !dead.has(pair.vnf) ? q.median <= 1 / 3 : null;
      const linuxAdded = get('added-ns', pair.linux)!.summary.median;
      res.targets.push({
        target: `vnf's added per-packet cost ≤ 1/3 of Linux's: ${pair.fn}`,
        measured: dead.has(pair.vnf) ? `n/a: no vnf packets arrived (${deadWhy.get(pair.vnf) ?? 'no counters'})` : `${fmtNum(get('added-ns', pair.vnf)!.summary.median)} vs ${fmtNum(linuxAdded)} CPU ns/packet = ${fmtRatio(q)}`,
        met: ok,
        ...(ok === false ? { by: `${fmtNum(q.median * 3, 2)}× the allowed ratio` } : {}),
        ...(ok === null && !dead.has(pair.vnf) ? { bound: "Linux's added cost is not above the noise in this run (≤ 0 in too many rounds)" } : {}),
        ...(ok === false && get('bpf-ns', pair.vnf) ? {
          bound: `vnf's programs run ${fmtNum(get('bpf-ns', pair.vnf)!.summary.median)} ns/packet of it (bpf_stats); the two-pair layout with redirect_peer (the null forwarder) adds ${nullAdded ? fmtNum(nullAdded.median) : 'n/a'} ns on its own; Linux's whole ${pair.fn} adds ${fmtNum(linuxAdded)} ns`,
        } : {}),
      });
    }
    res.data = { config: cfg, paths: paths.map((p) => ({ kind: p.kind, client: p.client, server: p.server, dstMac: p.dstMac, topology: p.topology, mid: p.mid })) };
    return res;
  },
};
