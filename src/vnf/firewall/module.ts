/**
 * The firewall VNF: compiled rule sets (double-buffered groups: each firewall direction in use
 * owns two rule set ids, a change is written into the one no binding points at), one binding
 * per (port, direction) — the pointer that flips — and per-rule counters.
 */
import { put, type MapEntries } from '../../model/desired.js';
import type { Topology } from '../../spec/model.js';
import {
  VNF_MAP_FW_BIND, VNF_MAP_FW_CLS, VNF_MAP_FW_PORTS, VNF_MAP_FW_RULES, VNF_MAP_FW_SETS, VNF_MAP_FW_STATS,
  VNF_MAP_FW_TUPLES,
} from '../../abi/firewall.js';
import { counterCodec, VNF_DIR_RX, VNF_DIR_TX } from '../common/codec.js';
import type { CompileContext, GroupDecl, GroupSpec, Live, MapDecl, MetricsDecl, PortInterface, StatusReader, StatusSection, VnfModule } from '../types.js';
import { compileRuleSet, type CompiledRuleSet } from './classifier.js';
import {
  FW_ACTION_NAME, fwBindCodec, fwBindKeyCodec, fwClsKeyCodec, fwPortKeyCodec, fwRuleCodec, fwRuleKeyCodec, fwSetCodec,
  fwTupleCodec, fwTupleKeyCodec, VNF_FW_BIND_MAX, VNF_FW_CLS_MAX, VNF_FW_PORTS_MAX, VNF_FW_RULES_MAX,
  VNF_FW_SET_F_INCOMPLETE, VNF_FW_SETS_MAX, VNF_FW_STATS_MAX, VNF_FW_TUPLES_MAX, VNF_ID_FIREWALL,
} from './codec.js';
import { firewallRuleDiff, formatRule, ruleFields } from './describe.js';
import { ruleSetPacked } from './entries.js';
import { firewallsOf, type Firewall, type FirewallRule } from './model.js';
import { firewallSpec } from './spec.js';
import { firewallAttachOption } from './attach.js';
import { firewallEventRules } from './event-rules.js';

export type CompiledFirewall = { ingress: CompiledRuleSet; egress: CompiledRuleSet };

/** Compiled rule sets by firewall name, cached per topology object (compile is pure but costly at 100k rules). */
const cache = new WeakMap<object, Map<string, CompiledFirewall>>();

export function compiledFirewalls(t: Topology): Map<string, CompiledFirewall> {
  let m = cache.get(t);
  if (!m) {
    m = new Map();
    for (const f of firewallsOf(t)) {
      m.set(f.name, { ingress: compileRuleSet(f.name, 'ingress', f.ingress), egress: compileRuleSet(f.name, 'egress', f.egress) });
    }
    cache.set(t, m);
  }
  return m;
}

/** Firewall by container interface ("c/i"), per topology object. */
const attachIndex = new WeakMap<object, Map<string, string>>();

function firewallOfInterface(t: Topology, container: string, iface: string): string | undefined {
  let m = attachIndex.get(t);
  if (!m) {
    m = new Map();
    for (const f of firewallsOf(t)) for (const a of f.attach) m.set(`${a.container}/${a.interface}`, f.name);
    attachIndex.set(t, m);
  }
  return m.get(`${container}/${iface}`);
}

/** The firewalls that ports use (a firewall attached to nothing costs nothing in the kernel). */
function usedFirewalls(ctx: CompileContext): Firewall[] {
  const names = new Set(ctx.ports.flatMap((p) => (p.options['firewall'] ? [p.options['firewall']] : [])));
  return firewallsOf(ctx.topology).filter((f) => names.has(f.name));
}

/** The owner of a firewall direction's two rule set slots. */
const ownerOf = (firewall: string, dir: 'ingress' | 'egress'): string => `${firewall}/${dir}`;

function entries(ctx: CompileContext): Record<string, MapEntries> {
  const bind: MapEntries = new Map();
  for (const p of ctx.ports) {
    const name = p.options['firewall'];
    const egress = name === undefined ? undefined : ctx.groupId('firewall', ownerOf(name, 'egress'));
    const ingress = name === undefined ? undefined : ctx.groupId('firewall', ownerOf(name, 'ingress'));
    // An attachment may name a firewall that left the file: its chains still run the firewall,
    // which finds no binding and drops everything (fail closed).
    if (egress === undefined || ingress === undefined) continue;
    // RX = traffic from the container = the firewall's egress rules; TX = ingress rules.
    put(bind, fwBindKeyCodec.encode({ ifindex: p.ifindex, dir: VNF_DIR_RX }), fwBindCodec.encode({ ruleset: egress, flags: 0 }));
    put(bind, fwBindKeyCodec.encode({ ifindex: p.ifindex, dir: VNF_DIR_TX }), fwBindCodec.encode({ ruleset: ingress, flags: 0 }));
  }
  return { [VNF_MAP_FW_BIND]: bind };
}

/** The compiled rule set behind each version (content id), for counters without building leaves. */
const compiledByVersion = new Map<number, CompiledRuleSet>();

function desiredGroups(ctx: CompileContext): GroupSpec[] {
  const fws = compiledFirewalls(ctx.topology);
  const out: GroupSpec[] = [];
  for (const f of usedFirewalls(ctx)) {
    for (const dir of ['ingress', 'egress'] as const) {
      const c = fws.get(f.name)![dir];
      compiledByVersion.set(c.id, c);
      out.push({
        owner: ownerOf(f.name, dir),
        root: fwSetCodec.encode(c.set),
        leaves: (id) => ruleSetPacked(c, id),
        label: `firewall ${f.name} ${dir} (${c.rules.length} rules, ${c.cls.length} classifier entries, version ${c.id.toString(16)})`,
      });
    }
  }
  return out;
}

const groups: GroupDecl = {
  root: VNF_MAP_FW_SETS,
  leaves: [VNF_MAP_FW_RULES, VNF_MAP_FW_PORTS, VNF_MAP_FW_CLS, VNF_MAP_FW_TUPLES],
  // Every key starts with the rule set id, but the LPM key (prefixlen first, the id big-endian).
  groupOf: (map, key) => (map === VNF_MAP_FW_PORTS ? key.readUInt32BE(4) : key.readUInt32LE(0)),
  incomplete(root) {
    const v = Buffer.from(root);
    const s = fwSetCodec.decode(v);
    return fwSetCodec.encode({ ...s, flags: (s.flags ?? 0) | VNF_FW_SET_F_INCOMPLETE });
  },
  isIncomplete: (root) => ((fwSetCodec.decode(root).flags ?? 0) & VNF_FW_SET_F_INCOMPLETE) !== 0,
  refs: [{ map: VNF_MAP_FW_BIND, groupOf: (value) => fwBindCodec.decode(value).ruleset }],
};

/** Counter ids of the desired rule sets, per Live object. */
const counters = new WeakMap<Live, Set<number>>();
function liveCounters(live: Live): Set<number> {
  let s = counters.get(live);
  if (!s) {
    s = new Set();
    for (const g of live.groups) {
      if (g.module !== 'firewall') continue;
      const set = fwSetCodec.decode(g.root);
      s.add(set.default_counter);
      for (const r of compiledByVersion.get(set.version)?.rules ?? []) s.add(r.counter);
    }
    counters.set(live, s);
  }
  return s;
}

const leaf = (name: string, type: MapDecl['type'], keySize: number, valueSize: number, maxEntries: number): MapDecl => ({
  name, type, keySize, valueSize, maxEntries, kind: 'group',
});

interface RuleHits {
  firewall: string;
  direction: 'ingress' | 'egress';
  /** The rule, or undefined for the direction's default. */
  rule: FirewallRule | undefined;
  action: string;
  packets: bigint;
  bytes: bigint;
}

/** Every rule and default of the record's firewalls with its counters (per rule content, kept by the kernel). */
function ruleHits(r: StatusReader): RuleHits[] {
  const hits = new Map<number, { packets: bigint; bytes: bigint }>();
  for (const [k, v] of r.entries(VNF_MAP_FW_STATS)) hits.set(k.readUInt32LE(0), r.counter(VNF_MAP_FW_STATS, v));
  const zero = { packets: 0n, bytes: 0n };
  const fws = r.topology ? compiledFirewalls(r.topology) : new Map<string, CompiledFirewall>();
  const out: RuleHits[] = [];
  for (const f of firewallsOf(r.topology)) {
    for (const dir of ['ingress', 'egress'] as const) {
      const c = fws.get(f.name)![dir];
      f[dir].rules.forEach((rule, i) => {
        out.push({ firewall: f.name, direction: dir, rule, action: rule.action, ...(hits.get(c.rules[i]!.counter) ?? zero) });
      });
      out.push({ firewall: f.name, direction: dir, rule: undefined, action: f[dir].default, ...(hits.get(c.defaultCounter) ?? zero) });
    }
  }
  return out;
}

function status(r: StatusReader): StatusSection[] {
  const rows: StatusSection['rows'] = ruleHits(r).map((h) => ({
    firewall: h.firewall, direction: h.direction, index: h.rule ? h.rule.index : null, rule: h.rule ? formatRule(h.rule) : `default ${h.action}`,
    ...ruleFields(h.rule, h.action),
    packets: h.packets, bytes: h.bytes,
  }));
  return [{ key: 'firewallRules', title: 'FIREWALL RULES', columns: ['firewall', 'direction', 'index', 'rule', 'packets', 'bytes'], headers: ['firewall', 'direction', '#', 'rule', 'packets', 'bytes'], rows }];
}

const RULE_LABELS = ['firewall', 'direction', 'rule', 'name', 'action'] as const;

const metrics: MetricsDecl = {
  families: [
    {
      name: 'vnf_firewall_rule_hits_total', type: 'counter', labels: RULE_LABELS,
      help: 'Packets a firewall rule decided: new connections, and packets of tracked ones a changed rule set denies (rule: the index in its direction, or "default"; name: the rule\'s name, or empty)',
    },
    { name: 'vnf_firewall_rule_bytes_total', type: 'counter', labels: RULE_LABELS, help: 'Bytes of the packets a firewall rule decided' },
  ],
  read(r) {
    const hits = ruleHits(r);
    const labels = (h: RuleHits): Record<string, string> => ({
      firewall: h.firewall, direction: h.direction, rule: h.rule ? String(h.rule.index) : 'default', name: h.rule?.name ?? '', action: h.action,
    });
    return {
      vnf_firewall_rule_hits_total: hits.map((h) => ({ labels: labels(h), value: h.packets })),
      vnf_firewall_rule_bytes_total: hits.map((h) => ({ labels: labels(h), value: h.bytes })),
    };
  },
};

export const firewallModule: VnfModule = {
  name: 'firewall',
  id: VNF_ID_FIREWALL,
  object: 'firewall',
  programs: ['vnf_firewall'],
  slotProgram: 'vnf_firewall',
  spec: firewallSpec,
  maps: [
    leaf(VNF_MAP_FW_SETS, 'hash', 4, fwSetCodec.size, VNF_FW_SETS_MAX),
    leaf(VNF_MAP_FW_TUPLES, 'hash', fwTupleKeyCodec.size, fwTupleCodec.size, VNF_FW_TUPLES_MAX),
    leaf(VNF_MAP_FW_CLS, 'hash', fwClsKeyCodec.size, 4, VNF_FW_CLS_MAX),
    leaf(VNF_MAP_FW_PORTS, 'lpm_trie', fwPortKeyCodec.size, 4, VNF_FW_PORTS_MAX),
    leaf(VNF_MAP_FW_RULES, 'hash', fwRuleKeyCodec.size, fwRuleCodec.size, VNF_FW_RULES_MAX),
    {
      name: VNF_MAP_FW_BIND, type: 'hash', keySize: fwBindKeyCodec.size, valueSize: fwBindCodec.size, maxEntries: VNF_FW_BIND_MAX,
      kind: 'config', stage: 'define', order: 60,
      describe(key, value, names) {
        const k = fwBindKeyCodec.decode(key);
        return `firewall binding ${names.ifname(k.ifindex)} ${k.dir === VNF_DIR_RX ? 'egress' : 'ingress'}${value ? ` -> rule set ${fwBindCodec.decode(value).ruleset}` : ''}`;
      },
    },
    {
      name: VNF_MAP_FW_STATS, type: 'percpu_hash', keySize: 4, valueSize: counterCodec.size, maxEntries: VNF_FW_STATS_MAX,
      kind: 'stats',
      keep: (key, _v, live) => liveCounters(live).has(key.readUInt32LE(0)),
      dependsOn: ['groups'],
    },
  ],
  groups,
  entries,
  desiredGroups,
  portOption: (t, container, iface) => firewallOfInterface(t, container, iface),
  attachOption: firewallAttachOption,
  chain: { order: 10, runsOn: (p: PortInterface) => p.options['firewall'] !== undefined },
  status,
  metrics,
  eventRules: firewallEventRules,
  changes: firewallRuleDiff,
};

export { FW_ACTION_NAME };
