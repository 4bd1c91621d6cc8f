/**
 * Connection tracking settings (src/vnf/conntrack): the per-port quotas of the topology file
 * (`settings.conntrack.maxPerPort`, `maxNewPerPort`), validated against the table's size, with
 * their defaults; what they become in vnf_ct_cfg; and the maps the module declares for the plan
 * (the per-port counters are swept with their port, as the entries are).
 */
import t from 'tap';
import { formatIssue, parseTopology, type Topology } from '../../../src/spec/index.js';
import { ctCfgCodec, VNF_CT_MAX } from '../../../src/vnf/conntrack/codec.js';
import { conntrackModule, ctCfgValue } from '../../../src/vnf/conntrack/module.js';
import { conntrackOf, DEFAULT_MAX_NEW_PER_PORT, DEFAULT_MAX_PER_PORT } from '../../../src/vnf/conntrack/model.js';
import type { Live } from '../../../src/vnf/types.js';
import { BASE, edit } from '../spec/fixture.js';

const withSettings = (s: string): string => edit(BASE, 'name: t\n', `name: t\nsettings:\n  conntrack: ${s}\n`);

function topologyOf(text: string): Topology {
  const r = parseTopology(text);
  if (!r.ok) throw new Error(r.issues.map(formatIssue).join('\n'));
  return r.topology;
}

t.test('quotas: defaults, values from the file, in vnf_ct_cfg', async (t) => {
  const d = conntrackOf(topologyOf(BASE));
  t.same([d.maxPerPort, d.maxNewPerPort], [DEFAULT_MAX_PER_PORT, DEFAULT_MAX_NEW_PER_PORT], 'defaults');
  t.same([DEFAULT_MAX_PER_PORT, DEFAULT_MAX_NEW_PER_PORT], [VNF_CT_MAX / 8, VNF_CT_MAX / 8], 'an eighth of the table each');
  const m = conntrackOf(topologyOf(withSettings('{ maxPerPort: 500, maxNewPerPort: 2000, timeouts: { udp: 5 } }')));
  t.same([m.maxPerPort, m.maxNewPerPort, m.timeouts.udp], [500, 2000, 5], 'from the file');
  const cfg = ctCfgCodec.decode(ctCfgValue(m));
  t.same([cfg.max_assured, cfg.max_new, cfg.gc_interval_ms], [500, 2000, 0], 'written to vnf_ct_cfg (the collector at its default period)');
  t.equal(cfg.timeout[9], 5, 'with the timeouts');
  t.equal(conntrackOf(topologyOf(withSettings(`{ maxPerPort: ${VNF_CT_MAX} }`))).maxPerPort, VNF_CT_MAX, 'the whole table is allowed');
});

t.test('quotas are validated against the table, with the file position', async (t) => {
  for (const [value, message] of [
    [`${VNF_CT_MAX + 1}`, `${VNF_CT_MAX + 1} is more than the connection table holds (${VNF_CT_MAX})`],
    ['0', 'must be at least 1'],
    ['2.5', 'must be a whole number of connections'],
  ] as const) {
    for (const key of ['maxPerPort', 'maxNewPerPort']) {
      const r = parseTopology(withSettings(`{ ${key}: ${value} }`));
      t.notOk(r.ok, `${key}: ${value} is refused`);
      if (r.ok) continue;
      const issue = r.issues.find((i) => i.path.join('.') === `settings.conntrack.${key}`);
      t.equal(issue?.message, message, `${key}: ${value}: "${message}"`);
      t.equal(issue?.line, 4, 'on its line');
    }
  }
  const r = parseTopology(withSettings('{ maxPerPorts: 5 }'));
  t.notOk(r.ok, 'an unknown key is refused');
  if (!r.ok) t.match(r.issues[0]!.message, /unknown key "maxPerPorts"; did you mean "maxPerPort"\?/);
});

t.test('the module declares its maps; the per-port counters go with their port', async (t) => {
  const maps = new Map(conntrackModule.maps.map((m) => [m.name, m]));
  t.same([...maps.keys()].sort(), ['vnf_ct', 'vnf_ct_cfg', 'vnf_ct_gc', 'vnf_ct_lock', 'vnf_ct_slots', 'vnf_ct_stats', 'vnf_ct_zone'], 'every pinned map');
  t.same(['vnf_ct', 'vnf_ct_zone'].map((n) => [maps.get(n)!.type, maps.get(n)!.kind, maps.get(n)!.dependsOn]),
    [['hash', 'learned', ['ports', 'routers']], ['hash', 'learned', ['ports', 'routers']]], 'the table and the counters: learned, swept when ports (or routers: NAT zones) go');
  for (const n of ['vnf_ct_lock', 'vnf_ct_slots', 'vnf_ct_gc', 'vnf_ct_stats']) t.equal(maps.get(n)!.kind, 'kernel', `${n}: the kernel's alone`);
  const live = { ports: new Map([[7, 1]]) } as unknown as Live;
  const key = (zone: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(zone); return b; };
  t.ok(maps.get('vnf_ct_zone')!.keep!(key(7), Buffer.alloc(24), live), "a live port's counter stays");
  t.notOk(maps.get('vnf_ct_zone')!.keep!(key(8), Buffer.alloc(24), live), "a removed port's counter goes");
});
