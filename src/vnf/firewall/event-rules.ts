/**
 * What a firewall rule set id and rule index in a dataplane event stand for: each direction of a
 * firewall owns two rule set slots (group ids in vnf_ids, by groupSlotName), and the kernel's rule
 * index is the rule's place in the direction's list (VNF_FW_DEFAULT_RULE for the default).
 */
import { groupSlotName, type IdTable } from '../../model/ids.js';
import type { Topology } from '../../spec/model.js';
import { VNF_FW_DEFAULT_RULE } from '../../abi/firewall.js';
import type { EventRule } from '../types.js';
import { formatRule } from './describe.js';
import { firewallsOf, type Firewall } from './model.js';

export function firewallEventRules(t: Topology, ids: IdTable): (ruleset: number, rule: number) => EventRule | undefined {
  const sets = new Map<number, { fw: Firewall; dir: 'ingress' | 'egress' }>();
  for (const fw of firewallsOf(t)) {
    for (const dir of ['ingress', 'egress'] as const) {
      for (const slot of [0, 1] as const) {
        const id = ids.groups.get(groupSlotName('firewall', `${fw.name}/${dir}`, slot));
        if (id !== undefined) sets.set(id, { fw, dir });
      }
    }
  }
  return (ruleset, rule) => {
    const s = sets.get(ruleset);
    if (!s) return undefined;
    const d = s.fw[s.dir];
    if (rule === VNF_FW_DEFAULT_RULE) return { owner: s.fw.name, direction: s.dir, rule: 'default', text: `default ${d.default}`, action: d.default };
    const r = d.rules[rule];
    return { owner: s.fw.name, direction: s.dir, rule, ...(r ? { text: r.name ?? formatRule(r), action: r.action } : {}) };
  };
}
