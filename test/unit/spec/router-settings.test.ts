/**
 * settings.router (src/vnf/router/spec.ts): the neighbour timers and the ICMP rate limit, Linux's
 * defaults unless set, validated with their paths, and compiled into vnf_router_cfg.
 */
import t from 'tap';
import { formatIssue, parseTopology, type Topology } from '../../../src/spec/index.js';
import { compile } from '../../../src/model/compile.js';
import { assignIds, emptyIds } from '../../../src/model/ids.js';
import { hostVethName } from '../../../src/model/names.js';
import { u32 } from '../../../src/codec/struct.js';
import { hex } from '../../../src/model/desired.js';
import { routerCfgCodec, VNF_ROUTER_CFG_F_SET } from '../../../src/vnf/router/codec.js';
import { routerSettingsOf } from '../../../src/vnf/router/model.js';
import { BASE, edit } from './fixture.js';

function topologyOf(text: string): Topology {
  const result = parseTopology(text);
  if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
  return result.topology;
}
const withSettings = (yaml: string): string => edit(BASE, 'name: t\n', `name: t\nsettings:\n  router:\n${yaml}`);

t.test("defaults are Linux's", async (t) => {
  t.same(routerSettingsOf(topologyOf(BASE)), {
    neighbours: { reachableMs: 30_000, retransMs: 1000, failedMs: 3000, unicastProbes: 3, broadcastProbes: 3 },
    icmpRatelimitMs: 1000,
  });
});

t.test('set values, seconds with fractions, in milliseconds', async (t) => {
  const topo = topologyOf(withSettings('    neighbours: { reachableSeconds: 1.5, retransSeconds: 0.2, unicastProbes: 0 }\n    icmpRatelimitMs: 0\n'));
  t.same(routerSettingsOf(topo), {
    neighbours: { reachableMs: 1500, retransMs: 200, failedMs: 3000, unicastProbes: 0, broadcastProbes: 3 },
    icmpRatelimitMs: 0,
  });
  const fileInterfaces = new Map<string, { ifname: string; ifindex: number }>();
  let i = 100;
  for (const c of topo.containers) for (const x of c.interfaces) fileInterfaces.set(`${c.name}/${x.name}`, { ifname: hostVethName(topo.name, c.name, x.name), ifindex: i++ });
  const d = compile({ topology: topo, fileInterfaces, attachments: [], ids: assignIds(emptyIds(), topo) });
  const v = d.maps.vnf_router_cfg?.get(hex(u32(0)));
  t.ok(v, 'vnf_router_cfg[0] is desired');
  t.same(routerCfgCodec.decode(v!), {
    flags: VNF_ROUTER_CFG_F_SET, reachable_ms: 1500, retrans_ms: 200, failed_ms: 3000, icmp_ratelimit_ms: 0, ucast_probes: 0, mcast_probes: 3,
  });
});

t.test('invalid values are reported at their path', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['    neighbours: { retransSeconds: 0 }\n', 'settings.router.neighbours.retransSeconds', /at least 0.01 seconds/],
    ['    neighbours: { broadcastProbes: 0 }\n', 'settings.router.neighbours.broadcastProbes', /at least 1/],
    ['    neighbours: { unicastProbes: 1.5 }\n', 'settings.router.neighbours.unicastProbes', /whole number/],
    ['    neighbours: { reachableSecond: 3 }\n', 'settings.router.neighbours.reachableSecond', /unknown key/],
    ['    icmpRatelimitMs: -1\n', 'settings.router.icmpRatelimitMs', /at least 0/],
  ];
  for (const [yaml, path, message] of cases) {
    const r = parseTopology(withSettings(yaml));
    t.notOk(r.ok, `${path} refused`);
    if (r.ok) continue;
    const issue = r.issues.find((i) => i.path.join('.') === path || formatIssue(i).includes(path));
    t.ok(issue, `an issue at ${path}: ${r.issues.map(formatIssue).join('; ')}`);
    t.match(issue ? formatIssue(issue) : '', message);
  }
});
