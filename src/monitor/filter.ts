/**
 * What `vnf-ctl monitor` shows: event types (which the dataplane is asked for: the others cost
 * nothing), ports (by host interface name, or the container interface "web/eth0" behind one) and
 * source/destination addresses or prefixes. Parsed from the command line with one readable error
 * per mistake (InputError: exit 2).
 */
import { contains, parseCidr, type Cidr } from '../spec/ipv4.js';
import { InputError } from '../ops/errors.js';
import { EVENT_TYPES, type EventType, type MonitorEvent, type PortRef } from './event.js';

export interface MonitorFilter {
  types: EventType[];
  ports: string[];
  from?: Cidr;
  to?: Cidr;
}

export interface FilterInput {
  type?: string[];
  port?: string[];
  from?: string;
  to?: string;
}

function cidr(flag: string, text: string): Cidr {
  const c = parseCidr(text, { defaultPrefix: 32 });
  if (!c.ok) throw new InputError(`--${flag} ${text}: ${c.error}`);
  return c.value;
}

/** Types given as repeated flags or comma lists; default: drops only. */
export function parseFilter(o: FilterInput): MonitorFilter {
  const types = new Set<EventType>();
  for (const t of (o.type ?? []).flatMap((x) => x.split(',')).map((x) => x.trim().toLowerCase()).filter(Boolean)) {
    if (t === 'all') EVENT_TYPES.forEach((x) => types.add(x));
    else if ((EVENT_TYPES as readonly string[]).includes(t)) types.add(t as EventType);
    else throw new InputError(`--type ${t}: not an event type (${EVENT_TYPES.join(', ')} or all)`);
  }
  if (types.size === 0) types.add('drop');
  const ports = (o.port ?? []).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
  return {
    types: EVENT_TYPES.filter((t) => types.has(t)),
    ports,
    ...(o.from !== undefined ? { from: cidr('from', o.from) } : {}),
    ...(o.to !== undefined ? { to: cidr('to', o.to) } : {}),
  };
}

const named = (p: PortRef | undefined, name: string): boolean => p !== undefined && (p.ifname === name || p.owner === name);

function addrIn(c: Cidr, addr: string | undefined): boolean {
  if (addr === undefined) return false;
  const p = parseCidr(addr, { defaultPrefix: 32 });
  return p.ok && contains(c, p.value.addr);
}

export function matches(f: MonitorFilter, e: MonitorEvent): boolean {
  if (!f.types.includes(e.type)) return false;
  if (f.ports.length && !f.ports.some((n) => named(e.port, n) || named(e.in, n) || named(e.out, n))) return false;
  if (f.from && !addrIn(f.from, e.src)) return false;
  if (f.to && !addrIn(f.to, e.dst)) return false;
  return true;
}
