/**
 * Firewall scaling with BPF_PROG_TEST_RUN: entry > firewall > deliver, a new packet that matches
 * no rule (the worst case: every match shape visited, then the default) and a packet of a
 * tracked connection, at 10 … 100,000 rules of two rule sets — the realistic one (service ports
 * per subnet: few shapes) and the random one (many shapes) — against the null program. All sizes
 * of a set are loaded side by side (own objects and pins) and measured in interleaved rounds.
 */
import { firewallCostSetup, nullCostSetup, type FwCostSetup, type RuleGen } from '../firewall-cost.js';
import { randomRules, realisticRules } from '../fw-gen.js';
import { lineChart } from '../lib/charts.js';
import { emptyResult, fmtNum, fmtRatio, fmtSummary, interleave, Samples, type Context, type Scenario, type ScenarioResult } from '../lib/harness.js';

export const RULE_SETS: Array<{ id: 'realistic' | 'random'; label: string; gen: RuleGen }> = [
  { id: 'realistic', label: 'realistic (service ports per subnet)', gen: realisticRules },
  { id: 'random', label: 'random (fw-gen)', gen: randomRules },
];

export const fwSizes = (quick: boolean): number[] => (quick ? [10, 1000, 10_000] : [10, 1000, 10_000, 100_000]);

export const firewallProgScenario: Scenario = {
  id: 'firewall-prog',
  title: 'Firewall scaling, BPF_PROG_TEST_RUN (10 to 100,000 rules)',
  about: 'ns/packet of entry > firewall > deliver for a no-match and a tracked packet, realistic and random rule sets, vs the null program',
  minutes: { quick: 0.5, full: 1.5 },
  async run(ctx: Context): Promise<ScenarioResult> {
    const res = emptyResult();
    const sizes = fwSizes(ctx.quick);
    const repeat = ctx.quick ? 20_000 : 50_000;
    const nul = await nullCostSetup();
    ctx.cleanup.defer('close the null program', () => nul.close());
    const s = new Samples();
    s.metric('miss', 'ns', 'lower');
    s.metric('tracked', 'ns', 'lower');
    s.metric('null', 'ns', 'lower');
    const info = new Map<string, { rules: number; shapes: string; loadMs: number }>();
    for (const set of RULE_SETS) {
      const setups: Array<{ id: string; f: FwCostSetup }> = [];
      const cl = ctx.cleanup.child(`firewall-prog ${set.id}`);
      try {
        for (const n of sizes) {
          ctx.log(`load ${set.id} ${n}`);
          const f = await firewallCostSetup(n, set.gen);
          cl.defer(`close the ${set.id} ${n}-rule objects`, () => f.close());
          setups.push({ id: `${set.id}:${n}`, f });
          info.set(`${set.id}:${n}`, { rules: f.rules, shapes: f.shapes, loadMs: f.loadMs });
        }
        await interleave([{ id: `null:${set.id}`, f: undefined }, ...setups], ctx.rounds, (v, r) => {
          if (!v.f) {
            s.add('null', set.id, r, nul.measure(repeat));
            return;
          }
          const m = v.f.measure(repeat);
          s.add('miss', v.id, r, m.missNs);
          s.add('tracked', v.id, r, m.trackedNs);
        });
      } finally {
        await cl.close();
      }
      for (const n of sizes) {
        const id = `${set.id}:${n}`;
        s.derive('miss-vs-10', '×', id, (r) => s.get('miss', id)[r]! / s.get('miss', `${set.id}:${sizes[0]}`)[r]!, ctx.rounds, 'lower');
        s.derive('miss-vs-null', '×', id, (r) => s.get('miss', id)[r]! / s.get('null', set.id)[r]!, ctx.rounds, 'lower');
        s.derive('tracked-vs-null', '×', id, (r) => s.get('tracked', id)[r]! / s.get('null', set.id)[r]!, ctx.rounds, 'lower');
      }
    }
    res.figures = {
      miss: s.figures('miss'), tracked: s.figures('tracked'), null: s.figures('null'),
      'miss-vs-10': s.figures('miss-vs-10'), 'miss-vs-null': s.figures('miss-vs-null'), 'tracked-vs-null': s.figures('tracked-vs-null'),
    };
    const f = (m: string, id: string) => res.figures[m]!.find((x) => x.variant === id)!;
    res.tables.push({
      title: 'ns per packet, entry > firewall > deliver (kernel-measured, repeat runs)',
      columns: ['rule set', 'rules', 'shapes o/i/t/u', 'load ms', 'no-match ns', '× 10 rules', '× null', 'tracked ns', '× null'],
      rows: RULE_SETS.flatMap((set) => sizes.map((n) => {
        const id = `${set.id}:${n}`;
        const i = info.get(id)!;
        return [set.label, fmtNum(i.rules, 0), i.shapes, fmtNum(i.loadMs, 0), fmtSummary(f('miss', id).summary), fmtRatio(f('miss-vs-10', id).summary), fmtRatio(f('miss-vs-null', id).summary), fmtSummary(f('tracked', id).summary), fmtRatio(f('tracked-vs-null', id).summary)];
      })),
      notes: [
        `Null program in the same rounds: ${RULE_SETS.map((set) => `${fmtSummary(f('null', set.id).summary)} ns (${set.id} rounds)`).join(', ')}. ` +
        `Repeat: median of 3 × ${repeat.toLocaleString('en-US')} runs per round. The no-match packet (192.168.7.1 → .2, udp 40000 → 4444) lies outside the sets' 10/8, so it visits every shape; "load ms" = compile + map fill in this process.`,
      ],
    });
    res.charts.push({
      id: 'firewall-prog', title: 'Firewall cost vs rules (PROG_TEST_RUN)',
      spec: lineChart('Firewall, new packet matching no rule: ns per packet (PROG_TEST_RUN)', 'rules', 'ns per packet', RULE_SETS.flatMap((set) => sizes.map((n) => ({ series: set.id, x: n, s: f('miss', `${set.id}:${n}`).summary }))), { logX: true }),
    });
    const last = sizes[sizes.length - 1]!;
    const q = f('miss-vs-10', `realistic:${last}`).summary;
    res.targets.push({
      target: 'Firewall cost at 100k rules ≤ 1.2× its cost at 10 rules (realistic set), PROG_TEST_RUN',
      measured: `${fmtNum(last, 0)} rules: ${fmtSummary(f('miss', `realistic:${last}`).summary)} ns vs ${fmtSummary(f('miss', `realistic:${sizes[0]}`).summary)} ns at ${sizes[0]} = ${fmtRatio(q)} (shapes ${info.get(`realistic:${last}`)!.shapes} vs ${info.get(`realistic:${sizes[0]}`)!.shapes})`,
      met: last === 100_000 ? q.median <= 1.2 : null,
      ...(q.median > 1.2 ? { by: `${fmtNum(q.median / 1.2, 2)}× the allowed growth` } : {}),
      bound: (last === 100_000 ? '' : `quick run: largest size ${last}; `) + 'per-packet work is one lookup per match shape (plus port-class lookups), so the cost follows the number of shapes, not rules',
    });
    return res;
  },
};
