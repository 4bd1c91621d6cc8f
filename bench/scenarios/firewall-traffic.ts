/**
 * Firewall scaling with real traffic: 64-byte UDP where (nearly) every packet starts a new flow
 * (trafgen counts the source port up and draws the destination port), so every packet is
 * classified by the rules and creates a connection — the worst case for a stateful firewall and
 * what a flood of new connections does. The same rules (N − 2 from the rule set, then "allow icmp
 * from the client" and "allow udp from the client to 10000–59999", last: the worst case for a
 * linear list) on:
 *   - vnf: router + firewall (the firewall on the server's port);
 *   - Linux router namespace: iptables-legacy (linear), nftables linear, nftables sets (realistic
 *     set only: sets of a mixed random set would change first-match semantics);
 * beside the same paths without a filter. All variants of a rule set exist at once and are
 * measured in interleaved rounds.
 */
import type { FirewallRule } from '../../src/vnf/firewall/model.js';
import { lineChart } from '../lib/charts.js';
import { iptablesRestore, nftLinear, nftSets, setsExpressible } from '../lib/fw-linux.js';
import { emptyResult, fmtNum, fmtRatio, fmtSummary, interleave, Samples, summarize, type Context, type Scenario, type ScenarioResult } from '../lib/harness.js';
import { ADDR, buildLinuxRouter, buildVnf, Shared, type BuildEnv, type Path } from '../lib/paths.js';
import { udpRate } from '../lib/traffic.js';
import { fwSizes, RULE_SETS } from './firewall-prog.js';
import { vnfDrops } from './paths.js';

const ip4 = (s: string): number => s.split('.').reduce((a, x) => (a << 8) | Number(x), 0) >>> 0;

const covers = (p: { addr: number; prefix: number }, a: number): boolean =>
  p.prefix === 0 || ((p.addr ^ a) >>> (32 - p.prefix)) === 0;

/**
 * n rules: the first n − 2 of the set that cannot touch the bench's own traffic (a rule whose
 * source covers the client and destination covers the server would decide it before the probe
 * rules — the random set has such wide rules), then the two rules the traffic needs, last.
 */
export function probeRuleSet(gen: (n: number, seed: number) => FirewallRule[], n: number, seed: number): FirewallRule[] {
  const client = { addr: ip4(ADDR.client), prefix: 32 };
  const servers = { addr: ip4('172.16.0.0'), prefix: 16 };
  const all: Array<[number, number]> = [[0, 65535]];
  const server = ip4(ADDR.serverL3);
  const rules = gen(Math.ceil(n * 1.5) + 10, seed).filter((r) => !(covers(r.src, client.addr) && covers(r.dst, server))).slice(0, Math.max(0, n - 2));
  return [
    ...rules,
    { index: 0, action: 'allow', proto: 'icmp', src: client, dst: servers, sports: all, dports: all },
    { index: 0, action: 'allow', proto: 'udp', src: client, dst: servers, sports: all, dports: [[10000, 59999]] },
  ].map((r, index) => ({ ...r, index }) as FirewallRule);
}

type Engine = 'vnf-router-fw' | 'iptables-legacy' | 'nft' | 'nft-sets';
const ENGINE_LABEL: Record<Engine | 'linux-router' | 'vnf-router', string> = {
  'vnf-router-fw': 'vnf router + firewall',
  'iptables-legacy': 'Linux router + iptables-legacy',
  nft: 'Linux router + nftables (linear)',
  'nft-sets': 'Linux router + nftables (sets)',
  'linux-router': 'Linux router, no filter',
  'vnf-router': 'vnf router, no firewall',
};
const BASELINE_OF: Record<Engine, string> = {
  'vnf-router-fw': 'vnf-router', 'iptables-legacy': 'linux-router', nft: 'linux-router', 'nft-sets': 'linux-router',
};

export const firewallTrafficScenario: Scenario = {
  id: 'firewall-traffic',
  title: 'Firewall scaling with real traffic: vnf vs iptables-legacy and nftables',
  about: 'trafgen new-flow 64-byte UDP through vnf router + firewall and a Linux router with iptables-legacy, nftables linear and sets, 10 to 100,000 rules',
  minutes: { quick: 2.5, full: 4.5 },
  rounds: { quick: 2, full: 3 },
  async run(ctx: Context): Promise<ScenarioResult> {
    const res = emptyResult();
    const sizes = fwSizes(ctx.quick);
    const win = ctx.quick ? { seconds: 0.8, warmup: 0.3 } : { seconds: 1, warmup: 0.3 };
    const s = new Samples();
    s.metric('rx', 'kpps', 'higher');
    s.metric('tx', 'kpps', 'higher');
    s.metric('cpu', 'CPU ns/packet', 'lower');
    const dead = new Map<string, string>();
    const built: Record<string, string[]> = {};
    let k = 0;
    for (const set of RULE_SETS) {
      const cl = ctx.cleanup.child(`firewall-traffic ${set.id}`);
      try {
        const env = (): BuildEnv => ({ ctx, cleanup: cl, id: `${ctx.tag}${(k++).toString(36)}`, shared: new Shared(cl) });
        const variants: Array<{ id: string; p: Path }> = [];
        const add = async (id: string, f: () => Promise<Path>): Promise<void> => {
          ctx.log(`set up ${id}`);
          const t0 = Date.now();
          variants.push({ id, p: await f() });
          ctx.log(`  ${id} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        };
        await add(`${set.id}/linux-router`, () => buildLinuxRouter(env(), {}, 'linux-router'));
        await add(`${set.id}/vnf-router`, () => buildVnf(env(), 'vnf-router', true, false));
        for (const n of sizes) {
          const rules = probeRuleSet(set.gen, n, 1000 + n);
          const dir = { default: 'drop' as const, rules };
          await add(`${set.id}/iptables-legacy:${n}`, () => buildLinuxRouter(env(), { linux: { engine: 'iptables-legacy', script: iptablesRestore(rules) } }, 'iptables-legacy'));
          await add(`${set.id}/nft:${n}`, () => buildLinuxRouter(env(), { linux: { engine: 'nft', script: nftLinear(rules) } }, 'nft'));
          if (!setsExpressible(rules)) await add(`${set.id}/nft-sets:${n}`, () => buildLinuxRouter(env(), { linux: { engine: 'nft', script: nftSets(rules) } }, 'nft-sets'));
          await add(`${set.id}/vnf-router-fw:${n}`, () => buildVnf(env(), 'vnf-router-fw', true, true, dir));
        }
        built[set.id] = variants.map((v) => v.id);
        await interleave(variants, ctx.rounds, async (v, r) => {
          const u = await udpRate(v.p, { ...win, flows: 'new', dir: ctx.tmp, cleanup: cl });
          s.add('rx', v.id, r, u.rxPps / 1e3);
          s.add('tx', v.id, r, u.txPps / 1e3);
          s.add('cpu', v.id, r, u.cpuNsPerPacket);
          ctx.log(`  ${v.id}: ${fmtNum(u.rxPps / 1e3)} kpps arrived of ${fmtNum(u.txPps / 1e3)}, ${fmtNum(u.cpuNsPerPacket)} CPU ns/packet`);
        }, ctx.log);
        for (const v of variants) {
          const rx = summarize(s.get('rx', v.id)).median;
          const tx = summarize(s.get('tx', v.id)).median;
          if (rx < 0.01 * tx && v.p.topology) dead.set(v.id, vnfDrops(v.p.topology));
          else if (rx < 0.9 * tx && v.p.topology) res.notes.push(`${v.id}: ${fmtNum(rx)} of ${fmtNum(tx)} kpps sent arrived; vnf's drop counters: ${vnfDrops(v.p.topology)}.`);
        }
      } finally {
        await cl.close();
      }
    }
    // Derived, per round.
    const cpu = (id: string, r: number): number => (dead.has(id) ? NaN : s.get('cpu', id)[r]!);
    for (const set of RULE_SETS) {
      for (const id of built[set.id] ?? []) {
        const [, ek] = id.split('/') as [string, string];
        const [engine, nStr] = ek.split(':') as [Engine, string | undefined];
        if (!nStr) continue;
        const base = `${set.id}/${BASELINE_OF[engine]}`;
        s.derive('added', 'CPU ns/packet', id, (r) => cpu(id, r) - cpu(base, r), ctx.rounds, 'lower');
      }
      for (const id of built[set.id] ?? []) {
        const [, ek] = id.split('/') as [string, string];
        const [engine, nStr] = ek.split(':') as [Engine, string | undefined];
        if (!nStr) continue;
        const first = `${set.id}/${engine}:${sizes[0]}`;
        s.derive('added-vs-10', '×', id, (r) => s.get('added', id)[r]! / s.get('added', first)[r]!, ctx.rounds, 'lower');
        if (engine.startsWith('vnf')) {
          s.derive('rate-vs-ipt', '×', id, (r) => s.get('rx', id)[r]! / s.get('rx', `${set.id}/iptables-legacy:${nStr}`)[r]!, ctx.rounds, 'higher');
        }
      }
    }
    res.figures = { rx: s.figures('rx'), tx: s.figures('tx'), cpu: s.figures('cpu'), added: s.figures('added'), 'added-vs-10': s.figures('added-vs-10'), 'rate-vs-ipt': s.figures('rate-vs-ipt') };
    const fig = (m: string, id: string) => res.figures[m]?.find((x) => x.variant === id);
    for (const set of RULE_SETS) {
      const ids = built[set.id] ?? [];
      res.tables.push({
        title: `${set.label}: new-flow 64-byte UDP through a filter of N rules`,
        columns: ['path', 'rules', 'arrived, kpps', 'vnf × iptables-legacy', 'CPU ns/packet', 'added by the filter, CPU ns', '× at 10 rules'],
        rows: ids.map((id) => {
          const [, ek] = id.split('/') as [string, string];
          const [engine, nStr] = ek.split(':') as [string, string | undefined];
          const label = ENGINE_LABEL[engine as Engine] ?? engine;
          if (dead.has(id)) return [label, nStr ?? '—', `0 (${dead.get(id)})`, '', 'n/a', 'n/a', 'n/a'];
          return [
            label, nStr ? fmtNum(Number(nStr), 0) : '—', fmtSummary(fig('rx', id)!.summary), fmtRatio(fig('rate-vs-ipt', id)?.summary),
            fmtSummary(fig('cpu', id)!.summary), nStr ? fmtSummary(fig('added', id)!.summary) : '(baseline)', nStr ? fmtRatio(fig('added-vs-10', id)?.summary) : '',
          ];
        }),
        notes: [`trafgen -P 1, ${win.seconds} s windows after ${win.warmup} s warm-up, ${ctx.rounds} interleaved rounds; every packet a new UDP flow (source port counting, destination port random in 10000–59999). ` +
          'Added = CPU ns/packet of the path minus that of the same path without a filter, per round. Both sides are stateful (Linux: ct state established,related accepted first), so every packet also creates a connection.'],
      });
      const points = ids.filter((id) => id.includes(':') && !dead.has(id)).map((id) => {
        const [, ek] = id.split('/') as [string, string];
        const [engine, nStr] = ek.split(':') as [string, string];
        return { series: ENGINE_LABEL[engine as Engine] ?? engine, x: Number(nStr), s: fig('rx', id)!.summary };
      });
      res.charts.push({ id: `firewall-traffic-${set.id}`, title: `Firewall with real traffic, ${set.id} set`, spec: lineChart(`New-flow 64-byte UDP arriving through a filter, ${set.id} rule set (kpps)`, 'rules', 'kpps arrived', points, { logX: true, logY: true }) });
    }
    for (const [id, why] of dead) res.notes.push(`${id}: no packet arrived (vnf's counters: ${why}).`);
    // Targets.
    const last = sizes[sizes.length - 1]!;
    const growth = (engine: Engine): string | undefined => {
      const f = fig('added-vs-10', `realistic/${engine}:${last}`);
      return f && Number.isFinite(f.summary.median) ? fmtRatio(f.summary) : undefined;
    };
    const rtQ = fig('added-vs-10', `realistic/vnf-router-fw:${last}`)?.summary;
    res.targets.push({
      target: 'Firewall cost at 100k rules ≤ 1.2× its cost at 10 rules (realistic set), real traffic',
      measured: `added CPU ns/packet at ${fmtNum(last, 0)} vs ${sizes[0]} rules, router + firewall: ${growth('vnf-router-fw') ?? 'n/a (no packets arrived)'}`,
      met: last === 100_000 && rtQ && Number.isFinite(rtQ.median) ? rtQ.median <= 1.2 : null,
      ...(rtQ && rtQ.median > 1.2 ? { by: `${fmtNum(rtQ.median / 1.2, 2)}× the allowed growth` } : {}),
      bound: `${last === 100_000 ? '' : `quick run: largest size ${last}; `}a new flow also pays connection creation, the same at every size; the difference of two CPU-time figures is noisy on a shared machine`,
    });
    const at10k = sizes.includes(10_000) ? 10_000 : last;
    const rv = fig('rate-vs-ipt', `realistic/vnf-router-fw:${at10k}`)?.summary;
    res.targets.push({
      target: "Firewall real-traffic rate at 10k rules ≥ 10× iptables-legacy's (realistic set)",
      measured: `router + firewall vs Linux router + iptables-legacy: ${rv && rv.median > 0 ? fmtRatio(rv) : 'n/a (no packets arrived)'} (random set: ${fmtRatio(fig('rate-vs-ipt', `random/vnf-router-fw:${at10k}`)?.summary) || 'n/a'})`,
      met: rv && Number.isFinite(rv.median) && rv.median > 0 ? rv.median >= 10 : null,
      ...(rv && rv.median < 10 ? { by: `${fmtNum(rv.median, 1)}× instead of 10×` } : {}),
      bound: (res.notes.some((n) => n.includes('vnf-router-fw') && n.includes('ct-full')) ? "vnf's firewall refused most new flows as ct-full (its connection table or the port's quota full: drop counters in the notes), so its rate is that of connection admission, not classification; " : '') +
        'iptables-legacy walks its rules linearly for every new flow; both are bounded by the sending CPU (trafgen and the whole receive path share it)',
    });
    return res;
  },
};
