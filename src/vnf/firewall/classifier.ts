/**
 * Compiles one direction of a firewall into the kernel's classifier
 * (bpf/abi/firewall.h): port equivalence classes per field, shapes ordered by
 * their first rule and listed per protocol class, and one hash entry per
 * (shape, masked addresses, protocol, port classes) holding the lowest
 * matching rule. Pure.
 */
import { createHash } from 'node:crypto';
import { contentId } from '../../model/names.js';
import type { FirewallDirection, FirewallRule } from './model.js';
import {
  FW_ACTION, PCLASS, PCLASSES, pclassOf, VNF_FW_DEFAULT_RULE, VNF_FW_MAX_TUPLES, VNF_FW_PORT_NONE, VNF_FW_T_DPORT_ANY,
  VNF_FW_T_SPORT_ANY, type FwClsKey, type FwPortKey, type FwSet, type FwTuple,
} from './codec.js';
import { FirewallTooComplexError } from './errors.js';
import { PROTO, type FwPacket } from './packet.js';
import { buildPortClasses, classesIn, classOf, type PortClasses, type Range } from './port-classes.js';
import { addrMask, portPrefixes } from './ports.js';

export { FirewallTooComplexError } from './errors.js';

export interface CompiledRuleSet {
  /** The content's id (a hash, never 0): the set's version. Keys below carry it; entries.ts places them in a slot. */
  id: number;
  set: FwSet;
  /** Per protocol class (PCLASS), the shapes its packets visit, ascending min_rule. */
  tuples: FwTuple[][];
  cls: Array<[FwClsKey, number]>;
  ports: Array<[FwPortKey, number]>;
  /** rule index -> counter id and action. */
  rules: Array<{ index: number; counter: number; action: number }>;
  defaultCounter: number;
  /** For the TS lookup (tests): the port classes of each field. */
  portClasses: [PortClasses, PortClasses];
}

const protoNumber = (r: FirewallRule): number => (r.proto === 'any' ? 0 : PROTO[r.proto]);

const isFull = (rs: ReadonlyArray<Range>): boolean => rs.length === 1 && rs[0]![0] === 0 && rs[0]![1] === 65535;

/** The port ranges of a rule per field; undefined = wildcard. */
function fieldRanges(r: FirewallRule): [ReadonlyArray<Range> | undefined, ReadonlyArray<Range> | undefined] {
  if (r.proto === 'icmp') return [undefined, r.icmpType === undefined ? undefined : [[r.icmpType, r.icmpType]]];
  if (r.proto !== 'tcp' && r.proto !== 'udp') return [undefined, undefined];
  return [isFull(r.sports) ? undefined : r.sports, isFull(r.dports) ? undefined : r.dports];
}

const rangesText = (rs: ReadonlyArray<readonly [number, number]>): string => {
  let out = '';
  for (const [a, b] of rs) out += `${a}-${b};`;
  return out;
};

/** What a rule matches and does, as text: its identity for content ids and counters. */
const ruleContent = (r: FirewallRule): string =>
  `${r.action} ${r.proto} ${r.src.addr}/${r.src.prefix} ${r.dst.addr}/${r.dst.prefix} ${rangesText(r.sports)} ${rangesText(r.dports)} ${r.icmpType ?? '-'}`;

/** FNV-1a, 32 bits: a counter id per rule content, cheap enough for 100,000 rules (not a security hash). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Compiled rule sets by content, the last few: validation compiles each firewall to check that
 * the kernel can hold it, and the apply right after compiles the same content again.
 */
const compiled = new Map<string, CompiledRuleSet>();
const COMPILED_KEPT = 8;

export function compileRuleSet(firewall: string, direction: 'ingress' | 'egress', d: FirewallDirection): CompiledRuleSet {
  const contents = d.rules.map(ruleContent);
  const digest = createHash('sha256').update(`fw\u0000${firewall}\u0000${direction}\u0000${d.default}\u0000${contents.join('\u0000')}`).digest();
  const key = digest.toString('hex');
  const hit = compiled.get(key);
  if (hit) {
    compiled.delete(key);
    compiled.set(key, hit); // most recently used last
    return hit;
  }
  const c = compileUncached(firewall, direction, d, contents, (digest.readUInt32LE(0) & 0x7fffffff) || 1);
  compiled.set(key, c);
  if (compiled.size > COMPILED_KEPT) compiled.delete(compiled.keys().next().value!);
  return c;
}

function compileUncached(firewall: string, direction: 'ingress' | 'egress', d: FirewallDirection, contents: string[], id: number): CompiledRuleSet {
  const what = `firewall ${firewall} ${direction}`;
  const ranges = d.rules.map(fieldRanges);
  const pcs: [PortClasses, PortClasses] = [
    buildPortClasses(ranges.flatMap(([s]) => s ?? []), `${what} source ports`),
    buildPortClasses(ranges.flatMap(([, p]) => p ?? []), `${what} destination ports`),
  ];
  const ports: CompiledRuleSet['ports'] = [];
  pcs.forEach((pc, field) => {
    for (const iv of pc.intervals) {
      for (const [port, plen] of portPrefixes(iv.lo, iv.hi)) ports.push([{ prefixlen: 48 + plen, ruleset: id, field, port }, iv.id]);
    }
  });

  const tuples = new Map<string, Omit<FwTuple, 'tuple'>>();
  const entries = new Map<string, { tuple: string; key: Omit<FwClsKey, 'ruleset' | 'tuple'>; rule: number }>();
  const occurrences = new Map<string, number>();
  const rules: CompiledRuleSet['rules'] = [];
  d.rules.forEach((r, i) => {
    const content = contents[i]!;
    const n = occurrences.get(content) ?? 0;
    occurrences.set(content, n + 1);
    rules.push({ index: r.index, counter: (fnv1a(`fwrule\u0000${firewall}\u0000${direction}\u0000${content}\u0000${n}`) & 0x7fffffff) || 1, action: FW_ACTION[r.action] });
    const [sr, dr] = ranges[i]!;
    const proto = protoNumber(r);
    const flags = (sr ? 0 : VNF_FW_T_SPORT_ANY) | (dr ? 0 : VNF_FW_T_DPORT_ANY);
    const tk = `${r.src.prefix}/${r.dst.prefix}/${flags}/${proto}`;
    if (!tuples.has(tk)) tuples.set(tk, { min_rule: r.index, src_plen: r.src.prefix, dst_plen: r.dst.prefix, flags, proto });
    const sclasses = sr ? sr.flatMap((x) => classesIn(pcs[0], x)) : [0];
    const dclasses = dr ? dr.flatMap((x) => classesIn(pcs[1], x)) : [0];
    for (const sport of sclasses) {
      for (const dport of dclasses) {
        const ek = `${tk}|${r.src.addr}|${r.dst.addr}|${sport}|${dport}`;
        if (!entries.has(ek)) entries.set(ek, { tuple: tk, key: { proto, saddr: r.src.addr, daddr: r.dst.addr, sport, dport }, rule: r.index });
      }
    }
  });

  // Shape ids in order of first rule; per protocol class the shapes that can
  // match it (its protocol's and the any-protocol ones).
  const ordered = [...tuples.entries()].sort((a, b) => a[1].min_rule - b[1].min_rule);
  const shapeId = new Map(ordered.map(([k], i) => [k, i]));
  const perClass: FwTuple[][] = Array.from({ length: PCLASSES }, (_, pc) =>
    ordered.filter(([, t]) => t.proto === 0 || pclassOf(t.proto) === pc).map(([k, t]) => ({ ...t, tuple: shapeId.get(k)! })));
  for (const [pc, list] of perClass.entries()) {
    if (list.length > VNF_FW_MAX_TUPLES) {
      throw new FirewallTooComplexError(`${what}: ${Object.keys(PCLASS)[pc]} packets would have to visit ${list.length} distinct match shapes ` +
        `(combinations of source and destination prefix lengths, protocol and port wildcards); at most ${VNF_FW_MAX_TUPLES} are supported. ` +
        `Use fewer distinct prefix lengths.`);
    }
  }
  const cls: CompiledRuleSet['cls'] = [...entries.values()].map((e) => [{ ruleset: id, tuple: shapeId.get(e.tuple)!, ...e.key }, e.rule]);
  const defaultCounter = contentId(['fwdefault', firewall, direction]);
  return {
    id,
    set: { ntuples: perClass.map((l) => l.length), nrules: d.rules.length, default_counter: defaultCounter, default_action: FW_ACTION[d.default], version: id },
    tuples: perClass,
    cls,
    ports,
    rules,
    defaultCounter,
    portClasses: pcs,
  };
}

/**
 * The kernel's lookup, in TS (for tests of the compiler): classify the ports,
 * visit shapes in order, stop when no later shape can hold an earlier rule.
 */
export function compiledLookup(c: CompiledRuleSet): (p: FwPacket) => number {
  const index = new Map(c.cls.map(([k, v]) => [`${k.tuple}|${k.proto}|${k.saddr}|${k.daddr}|${k.sport}|${k.dport}`, v]));
  return (p) => lookup(c, index, p);
}

function lookup(c: CompiledRuleSet, index: Map<string, number>, p: FwPacket): number {
  const sclass = classOf(c.portClasses[0], p.sport) ?? VNF_FW_PORT_NONE;
  const dclass = classOf(c.portClasses[1], p.dport) ?? VNF_FW_PORT_NONE;
  let best = VNF_FW_DEFAULT_RULE;
  for (const t of c.tuples[pclassOf(p.proto)]!) {
    if (t.min_rule >= best) break;
    if (t.proto !== 0 && t.proto !== p.proto) continue; // the "other" class mixes protocols
    const s = t.flags & VNF_FW_T_SPORT_ANY ? 0 : sclass;
    const d = t.flags & VNF_FW_T_DPORT_ANY ? 0 : dclass;
    const k = `${t.tuple}|${t.proto === 0 ? 0 : p.proto}|${(p.saddr & addrMask(t.src_plen)) >>> 0}|${(p.daddr & addrMask(t.dst_plen)) >>> 0}|${s}|${d}`;
    const v = index.get(k);
    if (v !== undefined && v < best) best = v;
  }
  return best;
}


