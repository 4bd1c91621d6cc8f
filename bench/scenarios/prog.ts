/**
 * BPF_PROG_TEST_RUN cost per packet of vnf's programs against the null program, in interleaved
 * rounds (bench/prog-cost.ts sets the programs up): the bridge path, the routed path and the chain
 * with a firewall in front (a tracked connection).
 * "repeat": the kernel's average over 200,000 runs on one skb (paths that leave the packet
 * unchanged); "single": the median of single runs, each on a fresh skb (includes the test-run
 * timer's floor, which the null program shows).
 */
import { progCostSetup } from '../prog-cost.js';
import { emptyResult, fmtRatio, fmtSummary, interleave, Samples, type Context, type Scenario, type ScenarioResult } from '../lib/harness.js';
import { barChart } from '../lib/charts.js';

export const progScenario: Scenario = {
  id: 'prog',
  title: 'BPF_PROG_TEST_RUN: ns per packet per VNF path, against the null program',
  about: 'kernel-timed runs of null, entry > bridge > deliver, entry > bridge > router > bridge > deliver, the chain firewall > bridge > router > bridge > deliver, and router > NAT (masquerade)',
  minutes: { quick: 0.3, full: 1 },
  async run(ctx: Context): Promise<ScenarioResult> {
    const res = emptyResult();
    const { variants, close } = await progCostSetup();
    ctx.cleanup.defer('close the PROG_TEST_RUN objects and scratch ports', close);
    const singles = ctx.quick ? 3000 : 10_000;
    const s = new Samples();
    s.metric('repeat', 'ns', 'lower');
    s.metric('single', 'ns', 'lower');
    const verdicts = new Map<string, number>();
    await interleave(variants, ctx.rounds, (v, r) => {
      const m = v.measure(singles);
      if (m.repeatNs !== undefined) s.add('repeat', v.id, r, m.repeatNs);
      s.add('single', v.id, r, m.singleNs);
      verdicts.set(v.id, m.verdict);
    });
    for (const v of variants) {
      if (v.id === 'null') continue;
      s.derive('added', 'ns', v.id, (r) => s.get('single', v.id)[r]! - s.get('single', 'null')[r]!, ctx.rounds, 'lower');
    }
    res.figures = { repeat: s.figures('repeat', 'null'), single: s.figures('single', 'null'), added: s.figures('added') };
    const f = (m: string, id: string) => res.figures[m]!.find((x) => x.variant === id);
    res.tables.push({
      title: 'ns per packet (kernel-measured), ratio to the null program per round',
      columns: ['path', 'repeat ns', '× null', 'single ns', '× null', 'single − null, ns', 'verdict'],
      rows: variants.map((v) => [
        v.path,
        f('repeat', v.id) ? fmtSummary(f('repeat', v.id)!.summary) : 'n/a (changes the packet)',
        f('repeat', v.id) ? fmtRatio(f('repeat', v.id)!.ratio) : '',
        fmtSummary(f('single', v.id)!.summary), fmtRatio(f('single', v.id)!.ratio),
        v.id === 'null' ? '(baseline)' : fmtSummary(f('added', v.id)!.summary),
        String(verdicts.get(v.id) ?? ''),
      ]),
      notes: [`repeat: 3 × 200,000 runs on one skb, median; single: median of ${singles} single runs per round. Verdict 7 = TC_ACT_REDIRECT (delivered by redirect_peer).`],
    });
    res.charts.push({
      id: 'prog-single', title: 'PROG_TEST_RUN ns per packet',
      spec: barChart('BPF_PROG_TEST_RUN, single runs: ns per packet', 'ns', variants.map((v) => ({ label: v.path, family: v.id === 'null' ? 'limit' : 'vnf', s: f('single', v.id)!.summary }))),
    });
    return res;
  },
};
