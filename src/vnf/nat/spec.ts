/**
 * NAT in the topology file: a router's `nat` key.
 *
 *   routers:
 *     r1:
 *       ports: { front: 10.1.0.1/24, back: 10.2.0.1/24, wan: 192.0.2.2/24 }
 *       nat:
 *         outside: wan                             # the world side: one of the router's port networks
 *         masquerade: [10.1.0.0/24, 10.2.0.0/24]   # sources translated to the router's address on `outside`
 *         ports: "20000-29999"                     # their source ports (default VNF_NAT_DEFAULT_PORT_MIN-MAX)
 *         floating:                                # 1:1 NAT both ways
 *           - { inside: 10.1.0.10, outside: 192.0.2.10 }
 *         forward:                                 # ports of the router's outside address
 *           - { proto: tcp, port: 8080, to: 10.1.0.10:80 }
 *
 * Every other port network of the router is an inside network. Rules check that every address
 * lies where it must (floating outside addresses in the outside network and free there, inside
 * addresses and forward targets in an inside network), that nothing is claimed twice, that a
 * forwarded port cannot be taken by a masqueraded connection, and what the maps hold.
 */
import * as z from 'zod';
import { Addr, checkedString, errorOf, networkCidr } from '../../spec/atoms.js';
import { formatPath, type SpecPath } from '../../spec/errors.js';
import { broadcastOf, contains, formatAddr, formatCidr, networkOf, overlaps, parseAddr, parseCidr, type Cidr } from '../../spec/ipv4.js';
import { parsePortSpec, PORT_SPEC_PATTERN, type PortRange } from '../../spec/ports.js';
import { failed, parsed, type Parsed } from '../../spec/result.js';
import type { RawRouter, RawTopology } from '../../spec/schema.js';
import { didYouMean } from '../../spec/suggest.js';
import { compare, listNames, must, own, sortedEntries } from '../../spec/util.js';
import type { RuleContext, SpecFragment } from '../types.js';
import {
  VNF_NAT_DEFAULT_MAX_INBOUND, VNF_NAT_DEFAULT_MAX_PER_SOURCE, VNF_NAT_DEFAULT_PORT_MAX, VNF_NAT_DEFAULT_PORT_MIN,
  VNF_NAT_FLOAT_MAX, VNF_NAT_FWD_MAX, VNF_NAT_MASQ_MAX, VNF_NAT_MAX,
} from './codec.js';
import type { NatForward, NatModel, NatProto, RouterNat } from './model.js';
import { DEFAULT_MAX_NEW_PER_PORT } from '../conntrack/model.js';

const PortNumber = z
  .int({ error: (iss) => `port ${String(iss.input)} is not a whole number` })
  .min(1, { error: (iss) => `port ${String(iss.input)} is out of range 1-65535` })
  .max(65535, { error: (iss) => `port ${String(iss.input)} is out of range 1-65535` });

/** "10.1.0.10:80" or "10.1.0.10" (then the published port). */
export function parseTarget(text: string): Parsed<{ addr: number; port?: number }> {
  const colon = text.lastIndexOf(':');
  const addr = parseAddr(colon < 0 ? text : text.slice(0, colon));
  if (!addr.ok) return addr;
  if (colon < 0) return parsed({ addr: addr.value });
  const portText = text.slice(colon + 1);
  if (!/^[0-9]{1,5}$/.test(portText)) return failed(`"${text}": "${portText}" is not a port; write ADDRESS:PORT, e.g. 10.1.0.10:80`);
  const port = Number(portText);
  if (port < 1 || port > 65535) return failed(`"${text}": port ${portText} is out of range 1-65535`);
  return parsed({ addr: addr.value, port });
}

export const NatFloatingSchema = z
  .strictObject({
    inside: Addr.meta({ description: "an address in one of the router's inside networks" }),
    outside: Addr.meta({ description: 'its public address: a free address of the outside network' }),
  })
  .meta({ description: '1:1 NAT: the inside address leaves as the outside one, and the outside address reaches it' });

export const NatForwardSchema = z
  .strictObject({
    proto: z.enum(['tcp', 'udp'], { error: (iss) => `unknown protocol ${JSON.stringify(iss.input)}; a forward is tcp or udp` }).meta({ description: 'tcp or udp' }),
    port: PortNumber.meta({ description: "the published port, on the router's outside address" }),
    to: checkedString((s) => errorOf(parseTarget(s)), {
      pattern: '^[0-9.]+(:[0-9]{1,5})?$',
      description: 'ADDRESS[:PORT] in an inside network; the same port when omitted',
    }),
  })
  .meta({ description: "a port of the router's outside address forwarded to an inside host (DNAT)" });

const Quota = z
  .int({ error: 'expected a whole number of connections' })
  .min(1, { error: 'must be at least 1' })
  .max(VNF_NAT_MAX / 2, { error: `must be at most ${VNF_NAT_MAX / 2} (the mapping table holds two entries per connection)` });

export const NatSchema = z
  .strictObject({
    outside: z.string().meta({ description: "the world side: one of the router's port networks; the others are inside" }),
    masquerade: z.optional(
      z.array(networkCidr({ bareAddressIsHost: true })).meta({
        description: "source prefixes translated to the router's address on the outside network",
      }),
    ),
    ports: z.optional(
      z.union([PortNumber, checkedString((s) => errorOf(parsePortSpec(s)), { pattern: PORT_SPEC_PATTERN })]).meta({
        description: 'source ports of masqueraded connections: "20000-29999" or a single port',
        default: `${VNF_NAT_DEFAULT_PORT_MIN}-${VNF_NAT_DEFAULT_PORT_MAX}`,
      }),
    ),
    floating: z.optional(z.array(NatFloatingSchema).meta({ description: '1:1 NAT pairs (inside address <-> outside address)' })),
    forward: z.optional(z.array(NatForwardSchema).meta({ description: 'port forwarding from the outside address to inside hosts (DNAT)' })),
    maxPerSource: z.optional(Quota.meta({
      description: 'connections one inside address may have translated at once; more are dropped (drop:nat-quota), so one container cannot take the NAT from the others',
      default: VNF_NAT_DEFAULT_MAX_PER_SOURCE,
    })),
    maxInbound: z.optional(Quota.meta({
      description: 'connections from the world (to forwarded ports and floating addresses) translated at once; a flood from outside cannot take the NAT from the containers',
      default: VNF_NAT_DEFAULT_MAX_INBOUND,
    })),
  })
  .meta({ description: "network address translation between the outside network and the router's other port networks" });

export type RawNat = z.infer<typeof NatSchema>;

const natOfRouter = (router: RawRouter): RawNat | undefined => router['nat'] as RawNat | undefined;

const portRangeOf = (nat: RawNat): PortRange =>
  nat.ports === undefined ? [VNF_NAT_DEFAULT_PORT_MIN, VNF_NAT_DEFAULT_PORT_MAX] : must(parsePortSpec(nat.ports));

const formatRange = ([lo, hi]: PortRange): string => (lo === hi ? String(lo) : `${lo}-${hi}`);

/* ---- rules ------------------------------------------------------------------- */

interface PortNet {
  name: string;
  subnet: Cidr;
  /** The router's address on it (undefined when its own entry has an issue). */
  ip: number | undefined;
}

function portNetworks(raw: RawTopology, router: RawRouter): PortNet[] {
  const out: PortNet[] = [];
  for (const [name, text] of Object.entries(router.ports)) {
    const net = own(raw.networks, name);
    const subnet = net ? parseCidr(net.subnet) : undefined;
    if (!subnet?.ok) continue; // an unknown or invalid network: reported by the core
    const ip = parseCidr(text, { defaultPrefix: subnet.value.prefix });
    out.push({ name, subnet: subnet.value, ip: ip.ok && contains(subnet.value, ip.value.addr) ? ip.value.addr : undefined });
  }
  return out;
}

/** Why `addr` cannot be a host of `net` (its network or broadcast address, or the router's own), or undefined. */
function notAHost(addr: number, net: PortNet, router: string): string | undefined {
  const shown = formatAddr(addr);
  const where = `network "${net.name}" (${formatCidr(net.subnet)})`;
  if (net.subnet.prefix < 31 && addr === networkOf(net.subnet)) return `${shown} is the network address of ${where}, not a host address`;
  if (net.subnet.prefix < 31 && addr === broadcastOf(net.subnet)) return `${shown} is the broadcast address of ${where}, not a host address`;
  if (addr === net.ip) return `${shown} is router "${router}"'s own address on network "${net.name}"`;
  return undefined;
}

/** Container addresses by network, from the valid part of the file. */
function containerAddresses(raw: RawTopology): Map<string, Map<number, SpecPath>> {
  const out = new Map<string, Map<number, SpecPath>>();
  for (const [container, spec] of Object.entries(raw.containers ?? {})) {
    for (const [iface, i] of Object.entries(spec.interfaces)) {
      const ip = parseCidr(i.ip, { defaultPrefix: 32 });
      if (!ip.ok) continue;
      const m = out.get(i.network) ?? new Map<number, SpecPath>();
      out.set(i.network, m);
      if (!m.has(ip.value.addr)) m.set(ip.value.addr, ['containers', container, 'interfaces', iface]);
    }
  }
  return out;
}

function checkNats(ctx: RuleContext): void {
  const containers = containerAddresses(ctx.raw);
  const floatingOutside = new Map<number, SpecPath>();
  const floatingInside = new Map<number, SpecPath>();
  const totals = { masq: 0, float: 0, fwd: 0 };
  let last: SpecPath | undefined;
  for (const [name, router] of Object.entries(ctx.raw.routers ?? {})) {
    const nat = natOfRouter(router);
    if (!nat) continue;
    const base: SpecPath = ['routers', name, 'nat'];
    last = base;
    // Fairness holds only below the NAT's conntrack quota of new connections (its zone's):
    // otherwise one source, or the world, could still fill it for everyone.
    const zoneNew = (ctx.raw.settings?.['conntrack'] as { maxNewPerPort?: number } | undefined)?.maxNewPerPort ?? DEFAULT_MAX_NEW_PER_PORT;
    for (const [key, value] of [['maxPerSource', nat.maxPerSource ?? VNF_NAT_DEFAULT_MAX_PER_SOURCE], ['maxInbound', nat.maxInbound ?? VNF_NAT_DEFAULT_MAX_INBOUND]] as const) {
      if (value >= zoneNew) {
        ctx.report(nat[key] === undefined ? base : [...base, key], `${key} ${value} is not below settings.conntrack.maxNewPerPort (${zoneNew}), the NAT's own quota of new connections: ${key === 'maxInbound' ? 'a flood from the world' : 'one container'} could fill it for everyone; set ${key} lower`, nat[key] === undefined ? 'key' : undefined);
      }
    }
    const nets = portNetworks(ctx.raw, router);
    const portNames = Object.keys(router.ports);
    let outside: PortNet | undefined;
    if (!Object.hasOwn(router.ports, nat.outside)) {
      ctx.report([...base, 'outside'], `network "${nat.outside}" is not a port network of router "${name}"${didYouMean(nat.outside, portNames) || ` (its ports: ${listNames(portNames)})`}`);
    } else {
      outside = nets.find((n) => n.name === nat.outside);
    }
    const inside = nets.filter((n) => n.name !== nat.outside);
    const insideList = inside.map((n) => `${n.name} ${formatCidr(n.subnet)}`).join(', ');
    const hasInside = portNames.length > 1;
    if (outside && !hasInside) {
      ctx.report(base, `router "${name}" has no port besides the outside network "${nat.outside}": NAT translates between it and the router's other port networks`, 'key');
    }
    /** The inside network `addr` lies in, or an issue at `path`. */
    const insideNet = (addr: number, path: SpecPath, what: string): PortNet | undefined => {
      const net = inside.find((n) => contains(n.subnet, addr));
      if (!net) {
        // With a port on an unknown network, where the address lies cannot be judged; that issue is enough.
        if (hasInside && inside.length === portNames.length - 1) {
          ctx.report(path, `${what} ${formatAddr(addr)} lies in none of router "${name}"'s inside networks (${insideList || 'none'})`);
        }
        return undefined;
      }
      const why = notAHost(addr, net, name);
      if (why) {
        ctx.report(path, why);
        return undefined;
      }
      return net;
    };

    const masqueraded = nat.masquerade ?? [];
    const seenMasq = new Map<string, number>();
    for (const [i, text] of masqueraded.entries()) {
      const path: SpecPath = [...base, 'masquerade', i];
      const p = parseCidr(text, { defaultPrefix: 32 });
      if (!p.ok) continue;
      const key = formatCidr(p.value);
      const first = seenMasq.get(key);
      if (first !== undefined) {
        ctx.report(path, `${key} is listed twice (first at ${formatPath([...base, 'masquerade', first])})`);
        continue;
      }
      seenMasq.set(key, i);
      if (outside && overlaps(outside.subnet, p.value)) {
        ctx.report(path, `${key} overlaps the outside network "${outside.name}" (${formatCidr(outside.subnet)}): masquerade translates sources from the inside`);
      }
    }
    totals.masq += seenMasq.size;

    const range = portRangeOf(nat);

    for (const [i, f] of (nat.floating ?? []).entries()) {
      const path: SpecPath = [...base, 'floating', i];
      const out = parseAddr(f.outside);
      if (out.ok && outside) {
        const a = out.value;
        const shown = formatAddr(a);
        const other = floatingOutside.get(a);
        const user = containers.get(outside.name)?.get(a);
        const hop = (router.routes ?? []).findIndex((r) => parseAddr(r.via).ok && must(parseAddr(r.via)) === a);
        if (!contains(outside.subnet, a)) {
          ctx.report([...path, 'outside'], `${shown} is not in the outside network "${outside.name}" (${formatCidr(outside.subnet)})`);
        } else if (notAHost(a, outside, name)) {
          ctx.report([...path, 'outside'], `${notAHost(a, outside, name)!}${a === outside.ip ? '; a floating address needs an address of its own' : ''}`);
        } else if (user) {
          ctx.report([...path, 'outside'], `${shown} is already used on network "${outside.name}" by ${formatPath(user)}`);
        } else if (hop >= 0) {
          ctx.report([...path, 'outside'], `${shown} is the next hop of ${formatPath(['routers', name, 'routes', hop])}; a floating address needs an address of its own`);
        } else if (other) {
          ctx.report([...path, 'outside'], `${shown} is already a floating address (${formatPath(other)})`);
        } else {
          floatingOutside.set(a, [...path, 'outside']);
        }
      }
      const ins = parseAddr(f.inside);
      if (ins.ok) {
        const other = floatingInside.get(ins.value);
        if (other) {
          ctx.report([...path, 'inside'], `${formatAddr(ins.value)} already has a floating address (${formatPath(other)})`);
        } else if (insideNet(ins.value, [...path, 'inside'], 'inside address')) {
          floatingInside.set(ins.value, [...path, 'inside']);
        }
      }
    }
    totals.float += (nat.floating ?? []).length;

    const forwarded = new Map<string, SpecPath>();
    for (const [i, f] of (nat.forward ?? []).entries()) {
      const path: SpecPath = [...base, 'forward', i];
      const key = `${f.proto}/${f.port}`;
      const other = forwarded.get(key);
      if (other) {
        ctx.report([...path, 'port'], `${f.proto} port ${f.port} is already forwarded (${formatPath(other)})`);
      } else {
        forwarded.set(key, path);
        if (masqueraded.length > 0 && f.port >= range[0] && f.port <= range[1]) {
          ctx.report([...path, 'port'], `port ${f.port} is in the masquerade port range ${formatRange(range)}: a masqueraded connection could take it; publish a port outside the range, or set "ports" to a range without it`);
        }
      }
      const target = parseTarget(f.to);
      if (target.ok) insideNet(target.value.addr, [...path, 'to'], 'forward target');
    }
    totals.fwd += (nat.forward ?? []).length;
  }
  if (last && totals.masq > VNF_NAT_MASQ_MAX) {
    ctx.report(last, `the NATs masquerade ${totals.masq} prefixes; the dataplane holds at most ${VNF_NAT_MASQ_MAX} (vnf_nat_masq)`, 'key');
  }
  if (last && totals.float * 2 > VNF_NAT_FLOAT_MAX) {
    ctx.report(last, `the NATs have ${totals.float} floating addresses; each takes two entries, so at most ${VNF_NAT_FLOAT_MAX / 2} fit (vnf_nat_float holds ${VNF_NAT_FLOAT_MAX})`, 'key');
  }
  if (last && totals.fwd > VNF_NAT_FWD_MAX) {
    ctx.report(last, `the NATs forward ${totals.fwd} ports; the dataplane holds at most ${VNF_NAT_FWD_MAX} (vnf_nat_fwd)`, 'key');
  }
}

/* ---- normalize --------------------------------------------------------------- */

function normalizeNat(name: string, nat: RawNat, core: RouterNatCore): RouterNat {
  const masq = new Map<string, Cidr>();
  for (const text of nat.masquerade ?? []) {
    const p = must(parseCidr(text, { defaultPrefix: 32 }));
    masq.set(formatCidr(p), { addr: networkOf(p), prefix: p.prefix });
  }
  const forward: NatForward[] = (nat.forward ?? []).map((f) => {
    const t = must(parseTarget(f.to));
    return { proto: f.proto as NatProto, port: f.port, to: t.addr, toPort: t.port ?? f.port };
  });
  return {
    router: name,
    outside: nat.outside,
    outsideIp: core.outsideIp,
    inside: core.inside,
    masquerade: [...masq.values()].sort((a, b) => a.addr - b.addr || a.prefix - b.prefix),
    ports: portRangeOf(nat),
    maxPerSource: nat.maxPerSource ?? VNF_NAT_DEFAULT_MAX_PER_SOURCE,
    maxInbound: nat.maxInbound ?? VNF_NAT_DEFAULT_MAX_INBOUND,
    floating: (nat.floating ?? [])
      .map((f) => ({ inside: must(parseAddr(f.inside)), outside: must(parseAddr(f.outside)) }))
      .sort((a, b) => a.outside - b.outside),
    forward: forward.sort((a, b) => compare(a.proto, b.proto) || a.port - b.port),
  };
}

interface RouterNatCore {
  outsideIp: number;
  inside: string[];
}

export const natSpec: SpecFragment = {
  schema: { router: { nat: z.optional(NatSchema) } },
  rules: checkNats,
  normalize(raw, core): NatModel | undefined {
    const routers: RouterNat[] = [];
    for (const [name, spec] of sortedEntries(raw.routers)) {
      const nat = natOfRouter(spec);
      if (!nat) continue;
      const r = core.routers.find((x) => x.name === name);
      const out = r?.ports.find((p) => p.network === nat.outside);
      if (!r || !out) throw new Error(`normalize: router "${name}" has no port on its NAT's outside network "${nat.outside}"`);
      routers.push(normalizeNat(name, nat, { outsideIp: out.ip, inside: r.ports.filter((p) => p !== out).map((p) => p.network) }));
    }
    // No key at all without NAT: the model (and the generation) of a topology without it is unchanged.
    return routers.length > 0 ? { routers } : undefined;
  },
  summary: (t) => {
    const n = t.ext.nat?.routers.length ?? 0;
    return n > 0 ? `${n} NAT${n === 1 ? '' : 's'}` : undefined;
  },
};
