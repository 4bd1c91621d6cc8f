/** A plan as text: one line per operation (terraform-style), bulky maps summarised per map. */
import { mapDecl } from '../vnf/registry.js';
import type { NameView } from '../vnf/types.js';
import { ENTRY_PROGRAM, summarize, type Op, type Plan } from './plan.js';

/** Maps whose entry changes are summarised per map rather than listed one by one. */
const BULK = 12;

export const plainNames: NameView = {
  network: (id) => `#${id}`,
  router: (id) => `#${id}`,
  ifname: (ifindex) => `ifindex ${ifindex}`,
};

function describe(map: string, key: Buffer, value: Buffer | undefined, names: NameView): string {
  const d = mapDecl(map);
  return d.describe ? d.describe(key, value, names) : `${map} ${key.toString('hex')}`;
}

export function formatPlan(p: Plan, names: NameView = plainNames): string {
  if (p.blocked.length) {
    return [`topology ${p.topology}: cannot be applied by this vnf:`, ...p.blocked.map((b) => `  ${b}`)].join('\n');
  }
  if (p.ops.length === 0) return [`topology ${p.topology}: no changes (the kernel matches the file)`, ...p.notes.map((n) => `note: ${n}`)].join('\n');
  const perMap = new Map<string, { add: number; change: number; remove: number }>();
  for (const op of p.ops) {
    if (op.kind !== 'upsert' && op.kind !== 'delete') continue;
    const c = perMap.get(op.map) ?? { add: 0, change: 0, remove: 0 };
    if (op.kind === 'delete') c.remove++;
    else if (op.previous) c.change++;
    else c.add++;
    perMap.set(op.map, c);
  }
  const bulky = new Set([...perMap.entries()].filter(([, c]) => c.add + c.change + c.remove > BULK).map(([m]) => m));
  const summarised = new Set<string>();
  const line = (op: Op): string[] => {
    if ((op.kind === 'upsert' || op.kind === 'delete') && bulky.has(op.map)) {
      const tag = `${op.map}/${op.kind}`;
      if (summarised.has(tag)) return [];
      summarised.add(tag);
      const c = perMap.get(op.map)!;
      return op.kind === 'delete'
        ? [`  - ${op.map.padEnd(16)} ${c.remove} entries to remove`]
        : [`  ± ${op.map.padEnd(16)} ${c.add} to add, ${c.change} to change`];
    }
    switch (op.kind) {
      case 'load': return [`  load     ${op.object} (${op.why})`];
      case 'slot': return [`  slot     ${op.vnf} -> ${op.program} (${op.why})`];
      case 'upsert': return [`  ${op.previous ? '~' : '+'} ${op.map.padEnd(16)} ${describe(op.map, op.key, op.value, names)}`];
      case 'delete': return [`  - ${op.map.padEnd(16)} ${describe(op.map, op.key, op.previous, names)}`];
      case 'group-write': {
        const what = op.from === 'empty' ? `into new rule set ${op.group.id}` : `into standby ${op.group.id}${op.from === 'incomplete' ? ' (left incomplete by an interrupted apply)' : ''}`;
        const counts = `${op.written} entr${op.written === 1 ? 'y' : 'ies'} written, ${op.deleted} deleted${op.from === 'empty' ? '' : `, ${op.unchanged} unchanged`}`;
        return [`  ${op.from === 'empty' ? '+' : '~'} ${op.group.label} ${what}: ${counts}`];
      }
      case 'group-remove': return [`  - ${op.module} group ${op.id} (${op.why})`];
      case 'sweep': return [`  - ${op.map.padEnd(16)} ${op.keys.length} learned entr${op.keys.length === 1 ? 'y' : 'ies'} (${op.why})`];
      case 'attach': return [`  attach   ${ENTRY_PROGRAM[op.direction]} to ${op.ifname} (${op.direction}, ifindex ${op.ifindex})`];
      case 'update-link': return [`  replace  ${op.direction} program on ${op.ifname} (atomic link update: ${op.why})`];
      case 'detach': return [`  detach   ${op.ifname} ${op.direction} (${op.why})`];
      case 'unpin-program': return [`  unpin    old program ${op.name}`];
    }
  };
  const s = summarize(p);
  return [
    `topology ${p.topology}: ${s.add} to add, ${s.change} to change, ${s.remove} to remove${s.other ? `, ${s.other} other` : ''}`,
    ...p.notes,
    ...p.ops.flatMap(line),
  ].join('\n');
}
