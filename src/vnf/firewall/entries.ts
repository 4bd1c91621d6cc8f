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

export function ruleSetEntries(c: CompiledRuleSet, into: RuleSetEntries = emptyRuleSetEntries()): RuleSetEntries {
  put(into.vnf_fw_sets, u32(c.id), fwSetCodec.encode(c.set));
  c.tuples.forEach((list, pclass) => list.forEach((t, index) => put(into.vnf_fw_tuples, fwTupleKeyCodec.encode({ ruleset: c.id, pclass, index }), fwTupleCodec.encode(t))));
  for (const [k, v] of c.cls) put(into.vnf_fw_cls, fwClsKeyCodec.encode(k), u32(v));
  for (const [k, v] of c.ports) put(into.vnf_fw_ports, fwPortKeyCodec.encode(k), u32(v));
  for (const r of c.rules) put(into.vnf_fw_rules, fwRuleKeyCodec.encode({ ruleset: c.id, index: r.index }), fwRuleCodec.encode({ counter: r.counter, action: r.action }));
  return into;
}

/** The same entries as [key, value] pairs per leaf map, without the hex-keyed maps (what apply writes). */
export function ruleSetPairs(c: CompiledRuleSet): Record<'vnf_fw_tuples' | 'vnf_fw_cls' | 'vnf_fw_ports' | 'vnf_fw_rules', Array<readonly [Buffer, Buffer]>> {
  const tuples: Array<readonly [Buffer, Buffer]> = [];
  c.tuples.forEach((list, pclass) => list.forEach((t, index) => tuples.push([fwTupleKeyCodec.encode({ ruleset: c.id, pclass, index }), fwTupleCodec.encode(t)])));
  return {
    vnf_fw_tuples: tuples,
    vnf_fw_cls: c.cls.map(([k, v]) => [fwClsKeyCodec.encode(k), u32(v)] as const),
    vnf_fw_ports: c.ports.map(([k, v]) => [fwPortKeyCodec.encode(k), u32(v)] as const),
    vnf_fw_rules: c.rules.map((r) => [fwRuleKeyCodec.encode({ ruleset: c.id, index: r.index }), fwRuleCodec.encode({ counter: r.counter, action: r.action })] as const),
  };
}
