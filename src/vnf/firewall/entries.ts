/** Map entries of a compiled rule set (what apply writes, and what tests load). */
import { u32 } from '../../codec/struct.js';
import { put, type MapEntries } from '../../model/desired.js';
import type { CompiledRuleSet } from './classifier.js';
import { fwClsKeyCodec, fwPortKeyCodec, fwRuleCodec, fwRuleKeyCodec, fwSetCodec, fwTupleCodec, fwTupleKeyCodec } from './codec.js';
import type { PackedEntries } from '../types.js';

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

function packed(count: number, keySize: number, valueSize: number): PackedEntries {
  return { keys: Buffer.allocUnsafe(count * keySize), values: Buffer.allocUnsafe(count * valueSize), count, keySize, valueSize };
}

/**
 * The leaves of a compiled rule set placed in rule set `id`, packed per leaf map: one buffer of
 * keys and one of values per map, no object per entry (what plan compares and apply writes).
 */
export function ruleSetPacked(c: CompiledRuleSet, id: number): Record<'vnf_fw_tuples' | 'vnf_fw_cls' | 'vnf_fw_ports' | 'vnf_fw_rules', PackedEntries> {
  const nt = c.tuples.reduce((n, l) => n + l.length, 0);
  const tuples = packed(nt, fwTupleKeyCodec.size, fwTupleCodec.size);
  let i = 0;
  c.tuples.forEach((list, pclass) => list.forEach((t, index) => {
    fwTupleKeyCodec.encodeInto({ ruleset: id, pclass, index }, tuples.keys, i * tuples.keySize);
    fwTupleCodec.encodeInto(t, tuples.values, i * tuples.valueSize);
    i++;
  }));
  const cls = packed(c.cls.length, fwClsKeyCodec.size, 4);
  c.cls.forEach(([k, v], j) => {
    fwClsKeyCodec.encodeInto({ ...k, ruleset: id }, cls.keys, j * cls.keySize);
    cls.values.writeUInt32LE(v, j * 4);
  });
  const ports = packed(c.ports.length, fwPortKeyCodec.size, 4);
  c.ports.forEach(([k, v], j) => {
    fwPortKeyCodec.encodeInto({ ...k, ruleset: id }, ports.keys, j * ports.keySize);
    ports.values.writeUInt32LE(v, j * 4);
  });
  const rules = packed(c.rules.length, fwRuleKeyCodec.size, fwRuleCodec.size);
  c.rules.forEach((r, j) => {
    fwRuleKeyCodec.encodeInto({ ruleset: id, index: r.index }, rules.keys, j * rules.keySize);
    fwRuleCodec.encodeInto({ counter: r.counter, action: r.action }, rules.values, j * rules.valueSize);
  });
  return { vnf_fw_tuples: tuples, vnf_fw_cls: cls, vnf_fw_ports: ports, vnf_fw_rules: rules };
}
