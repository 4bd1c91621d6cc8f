/** Map entries of a compiled rule set (what apply writes, and what tests load). */
import { u32 } from '../../codec/struct.js';
import { put, type MapEntries } from '../../model/desired.js';
import type { CompiledRuleSet } from './classifier.js';
import { fwClsKeyCodec, fwPortKeyCodec, fwRuleCodec, fwRuleKeyCodec, fwSetCodec, fwTupleCodec, fwTupleKeyCodec } from './codec.js';

export interface RuleSetEntries {
  vnf_fw_sets: MapEntries;
  vnf_fw_tuples: MapEntries;
  vnf_fw_cls: MapEntries;
  vnf_fw_ports: MapEntries;
  vnf_fw_rules: MapEntries;
}

export function emptyRuleSetEntries(): RuleSetEntries {
  return { vnf_fw_sets: new Map(), vnf_fw_tuples: new Map(), vnf_fw_cls: new Map(), vnf_fw_ports: new Map(), vnf_fw_rules: new Map() };
}

/**
 * The entries of a compiled rule set placed in rule set `id` (a slot; the content's own id by
 * default): its root and leaves, keyed by hex (for tests).
 */
export function ruleSetEntries(c: CompiledRuleSet, into: RuleSetEntries = emptyRuleSetEntries(), id = c.id): RuleSetEntries {
  put(into.vnf_fw_sets, u32(id), fwSetCodec.encode(c.set));
  for (const [leaf, pairs] of Object.entries(ruleSetPairs(c, id))) for (const [k, v] of pairs) put(into[leaf as keyof RuleSetEntries], k, v);
  return into;
}

/** The leaves of a compiled rule set placed in rule set `id`, as [key, value] pairs per leaf map (what apply writes). */
export function ruleSetPairs(c: CompiledRuleSet, id = c.id): Record<'vnf_fw_tuples' | 'vnf_fw_cls' | 'vnf_fw_ports' | 'vnf_fw_rules', Array<readonly [Buffer, Buffer]>> {
  const tuples: Array<readonly [Buffer, Buffer]> = [];
  c.tuples.forEach((list, pclass) => list.forEach((t, index) => tuples.push([fwTupleKeyCodec.encode({ ruleset: id, pclass, index }), fwTupleCodec.encode(t)])));
  return {
    vnf_fw_tuples: tuples,
    vnf_fw_cls: c.cls.map(([k, v]) => [fwClsKeyCodec.encode({ ...k, ruleset: id }), u32(v)] as const),
    vnf_fw_ports: c.ports.map(([k, v]) => [fwPortKeyCodec.encode({ ...k, ruleset: id }), u32(v)] as const),
    vnf_fw_rules: c.rules.map((r) => [fwRuleKeyCodec.encode({ ruleset: id, index: r.index }), fwRuleCodec.encode({ counter: r.counter, action: r.action })] as const),
  };
}
