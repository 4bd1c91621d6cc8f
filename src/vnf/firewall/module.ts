/**
 * The firewall VNF: compiled rule sets (content-addressed, written beside the
 * old ones), one binding per (port, direction) — the pointer that flips —
 * and the conntrack timeouts.
 */
import { u32 } from '../../codec/struct.js';
import { put, type MapEntries } from '../../model/desired.js';
import type { CompileContext, PortInterface, VnfModule } from '../types.js';
import { VNF_DIR_RX, VNF_DIR_TX } from '../common/codec.js';
import { ctCfgCodec, timeoutTable } from '../conntrack/codec.js';
import { compileRuleSet, type CompiledRuleSet } from './classifier.js';
import {
  fwBindCodec, fwBindKeyCodec, fwClsKeyCodec, fwPortKeyCodec, fwRuleKeyCodec, fwSetCodec, fwTupleKeyCodec, VNF_ID_FIREWALL,
} from './codec.js';
import { emptyRuleSetEntries, ruleSetEntries } from './entries.js';

/** Compiled rule sets by firewall name, cached per topology object (compile is pure but costly at 100k rules). */
const cache = new WeakMap<object, Map<string, { ingress: CompiledRuleSet; egress: CompiledRuleSet }>>();

export function compiledFirewalls(ctx: CompileContext): Map<string, { ingress: CompiledRuleSet; egress: CompiledRuleSet }> {
  let m = cache.get(ctx.topology);
  if (!m) {
    m = new Map();
    for (const f of ctx.topology.firewalls) {
      m.set(f.name, { ingress: compileRuleSet(f.name, 'ingress', f.ingress), egress: compileRuleSet(f.name, 'egress', f.egress) });
    }
    cache.set(ctx.topology, m);
  }
  return m;
}

function entries(ctx: CompileContext): Record<string, MapEntries> {
  const cfg: MapEntries = new Map();
  put(cfg, u32(0), ctCfgCodec.encode({ timeout: timeoutTable(ctx.topology.settings.conntrackTimeouts) }));
  const bind: MapEntries = new Map();
  const sets = emptyRuleSetEntries();
  const fws = compiledFirewalls(ctx);
  const used = new Set<string>();
  for (const p of ctx.ports) {
    if (!p.firewall) continue;
    const fw = fws.get(p.firewall);
    if (!fw) continue; // validated by the spec; an attachment may name a firewall that left the file
    // RX = traffic from the container = the firewall's egress rules; TX = ingress rules.
    put(bind, fwBindKeyCodec.encode({ ifindex: p.ifindex, dir: VNF_DIR_RX }), fwBindCodec.encode({ ruleset: fw.egress.id, flags: 0 }));
    put(bind, fwBindKeyCodec.encode({ ifindex: p.ifindex, dir: VNF_DIR_TX }), fwBindCodec.encode({ ruleset: fw.ingress.id, flags: 0 }));
    used.add(p.firewall);
  }
  for (const name of used) {
    const fw = fws.get(name)!;
    ruleSetEntries(fw.ingress, sets);
    ruleSetEntries(fw.egress, sets);
  }
  return { vnf_ct_cfg: cfg, vnf_fw_bind: bind, ...sets };
}

function describe(map: string, key: Buffer, value: Buffer | undefined): string {
  switch (map) {
    case 'vnf_fw_bind': {
      const k = fwBindKeyCodec.decode(key);
      return `firewall binding ifindex ${k.ifindex} ${k.dir === VNF_DIR_RX ? 'egress' : 'ingress'}${value ? ` -> rule set ${fwBindCodec.decode(value).ruleset}` : ''}`;
    }
    case 'vnf_fw_sets': {
      const id = key.readUInt32LE(0);
      if (!value) return `rule set ${id}`;
      const s = fwSetCodec.decode(value);
      return `rule set ${id}: ${s.nrules} rules, ${s.ntuples.join('/')} shapes, default ${s.default_action === 0 ? 'allow' : 'drop'}`;
    }
    case 'vnf_fw_tuples': return `rule set ${fwTupleKeyCodec.decode(key).ruleset} shape`;
    case 'vnf_fw_cls': return `rule set ${fwClsKeyCodec.decode(key).ruleset} classifier entry`;
    case 'vnf_fw_ports': return `rule set ${fwPortKeyCodec.decode(key).ruleset} port class`;
    case 'vnf_fw_rules': {
      const k = fwRuleKeyCodec.decode(key);
      return `rule set ${k.ruleset} rule ${k.index}`;
    }
    case 'vnf_ct_cfg': return 'conntrack timeouts';
    default: return `${map} ${key.toString('hex')}`;
  }
}

export const firewallModule: VnfModule = {
  id: VNF_ID_FIREWALL,
  name: 'firewall',
  object: 'firewall',
  programs: ['vnf_firewall'],
  slotProgram: 'vnf_firewall',
  // Rule sets and bindings are written before the ports whose chains use
  // them, and deleted after (deletes run in reverse order).
  maps: [
    { name: 'vnf_ct_cfg', owns: 'all', order: -20 },
    { name: 'vnf_fw_rules', owns: 'all', order: -19 },
    { name: 'vnf_fw_ports', owns: 'all', order: -18 },
    { name: 'vnf_fw_cls', owns: 'all', order: -17 },
    { name: 'vnf_fw_tuples', owns: 'all', order: -16 },
    { name: 'vnf_fw_sets', owns: 'all', order: -15 },
    { name: 'vnf_fw_bind', owns: 'all', order: -14 },
  ],
  entries,
  describe,
  inChain: (p: PortInterface) => p.firewall !== undefined,
};
