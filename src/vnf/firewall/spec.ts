/**
 * The firewall's part of the topology file: the `firewalls:` section (schema, cross-references,
 * what the kernel classifier can hold) and its normalized model (topology.ext.firewall).
 */
import * as z from 'zod';
import { checkedString, namedBy, networkCidr, PortList } from '../../spec/atoms.js';
import type { SpecPath } from '../../spec/errors.js';
import { ICMP_TYPE_NAMES, icmpTypeNumber } from '../../spec/icmp.js';
import { parseCidr } from '../../spec/ipv4.js';
import { ANY_PORT, mergeRanges, parsePortSpec, type PortRange } from '../../spec/ports.js';
import { compare, must, own, sortedEntries } from '../../spec/util.js';
import type { RawTopology } from '../../spec/schema.js';
import { didYouMean } from '../../spec/suggest.js';
import type { RuleContext, SpecFragment } from '../types.js';
import { compileRuleSet, FirewallTooComplexError } from './classifier.js';
import { VNF_FW_CLS_MAX, VNF_FW_RULES_MAX } from './codec.js';
import { shadowedRules } from './shadow.js';
import type { AttachPoint, Firewall, FirewallDirection, FirewallModel, FirewallRule } from './model.js';

const IcmpType = z.union([
  z.enum(ICMP_TYPE_NAMES, {
    error: (iss) =>
      `unknown ICMP type ${JSON.stringify(iss.input)}; use a number 0-255 or one of: ${ICMP_TYPE_NAMES.join(', ')}`,
  }),
  z
    .int({ error: (iss) => `ICMP type ${String(iss.input)} is not a whole number` })
    .min(0, { error: (iss) => `ICMP type ${String(iss.input)} is out of range 0-255` })
    .max(255, { error: (iss) => `ICMP type ${String(iss.input)} is out of range 0-255` }),
]);

const PROTOS: readonly unknown[] = ['tcp', 'udp', 'icmp', 'any'];
const PORT_PROTOS: readonly unknown[] = ['tcp', 'udp'];

/**
 * Keys of the file format are camelCase; the kebab-case spellings the rule format first had
 * (`src-ports`, `icmp-type`) are accepted as aliases of the canonical keys.
 */
export const RULE_KEY_ALIASES = { 'src-ports': 'srcPorts', 'icmp-type': 'icmpType' } as const;

const alias = (canonical: string) => `alias of ${canonical} (keys are camelCase; this spelling is also accepted)`;

export const RuleSchema = z
  .strictObject({
    action: z.enum(['allow', 'drop', 'reject']).meta({ description: 'allow; drop silently; or reject (TCP RST, or ICMP port unreachable), like Linux\'s REJECT' }),
    proto: z.optional(z.enum(['tcp', 'udp', 'icmp', 'any']).meta({ default: 'any', description: 'IP protocol to match; default any' })),
    from: z.optional(networkCidr({ bareAddressIsHost: true }).meta({ description: 'source prefix (a bare address means /32); any when omitted' })),
    to: z.optional(networkCidr({ bareAddressIsHost: true }).meta({ description: 'destination prefix (a bare address means /32); any when omitted' })),
    ports: z.optional(PortList('ports').meta({ description: 'destination ports (tcp/udp only): 80 or "5000-5100"; every port when omitted' })),
    srcPorts: z.optional(PortList('srcPorts').meta({ description: 'source ports (tcp/udp only): 80 or "5000-5100"; every port when omitted' })),
    'src-ports': z.optional(PortList('src-ports').meta({ description: alias('srcPorts') })),
    icmpType: z.optional(IcmpType.meta({ description: 'ICMP type name (echo-request, ...) or number 0-255 (icmp only); every type when omitted' })),
    'icmp-type': z.optional(IcmpType.meta({ description: alias('icmpType') })),
    name: z.optional(z.string().meta({ description: 'a label shown by `vnf-ctl get` and in metrics' })),
    comment: z.optional(z.string().meta({ description: 'free text, ignored' })),
  })
  .superRefine(
    (rule: unknown, ctx) => {
      if (typeof rule !== 'object' || rule === null) return;
      const r = rule as Record<string, unknown>;
      for (const [old, canonical] of Object.entries(RULE_KEY_ALIASES)) {
        if (r[old] !== undefined && r[canonical] !== undefined) {
          ctx.addIssue({ code: 'custom', path: [old], params: { at: 'key' }, message: `${old} is another spelling of ${canonical}; give only one of them` });
        }
      }
      const proto = r['proto'] ?? 'any';
      // An invalid proto is reported by its own schema; don't pile consequences on top of it.
      if (!PROTOS.includes(proto)) return;
      for (const key of ['ports', 'srcPorts', 'src-ports']) {
        if (r[key] !== undefined && !PORT_PROTOS.includes(proto)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            params: { at: 'key' },
            message: `only tcp and udp rules can match ${key} (this rule's proto is ${String(proto)})`,
          });
        }
      }
      for (const key of ['icmpType', 'icmp-type']) {
        if (r[key] !== undefined && proto !== 'icmp') {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            params: { at: 'key' },
            message: `only icmp rules can match ${key} (this rule's proto is ${String(proto)})`,
          });
        }
      }
    },
    { when: () => true },
  )
  .meta({ description: 'first matching rule wins, in file order' });

export const DirectionSchema = z.strictObject({
  default: z.optional(z.enum(['allow', 'drop']).meta({ default: 'allow', description: 'verdict when no rule matches; default allow' })),
  rules: z.optional(z.array(RuleSchema).meta({ description: 'ordered: the first rule that matches decides; replies of allowed connections always pass' })),
});

export const FirewallSchema = z
  .strictObject({
    attach: z.optional(
      z
        .array(
          checkedString(
            (s) => (/^[^/]+\/[^/]+$/.test(s) ? undefined : `expected "container/interface", e.g. "web/eth0", got "${s}"`),
            { pattern: '^[^/]+/[^/]+$' },
          ),
        )
        .meta({ description: 'container/interface pairs to protect; may be empty' }),
    ),
    networks: z.optional(
      z
        .array(z.string())
        .meta({ description: 'networks whose run-time interfaces (vnf-ctl attach, the CNI plugin) this firewall protects when they name no firewall of their own; at most one firewall per network' }),
    ),
    ingress: z.optional(DirectionSchema.meta({ description: 'traffic going into the container' })),
    egress: z.optional(DirectionSchema.meta({ description: 'traffic leaving the container' })),
  })
  .meta({ description: 'a stateful firewall: replies of allowed connections pass' });

export type RawRule = z.infer<typeof RuleSchema>;
export type RawDirection = z.infer<typeof DirectionSchema>;
export type RawFirewall = z.infer<typeof FirewallSchema>;

const rawFirewalls = (raw: RawTopology): Record<string, RawFirewall> => (raw['firewalls'] as Record<string, RawFirewall> | undefined) ?? {};

/* ---- normalize ------------------------------------------------------------- */

function parseAttach(ref: string): AttachPoint {
  const [container = '', iface = ''] = ref.split('/');
  return { container, interface: iface };
}

function portRanges(specs: (number | string)[] | undefined): PortRange[] {
  if (specs === undefined) return [[...ANY_PORT]];
  return mergeRanges(specs.map((spec) => must(parsePortSpec(spec))));
}

const ANY_ADDRESS = { addr: 0, prefix: 0 };

/** Normalized directions by raw object: validation (capacity) and normalize see the same raw data. */
const normalizedDirections = new WeakMap<RawDirection, FirewallDirection>();

export function normalizeDirection(spec: RawDirection | undefined): FirewallDirection {
  if (spec === undefined) return normalizeUncached(spec);
  let d = normalizedDirections.get(spec);
  if (!d) {
    d = normalizeUncached(spec);
    normalizedDirections.set(spec, d);
  }
  return d;
}

function normalizeUncached(spec: RawDirection | undefined): FirewallDirection {
  return {
    default: spec?.default ?? 'allow',
    rules: (spec?.rules ?? []).map((rule, index): FirewallRule => {
      const out: FirewallRule = {
        index,
        action: rule.action,
        proto: rule.proto ?? 'any',
        src: rule.from !== undefined ? must(parseCidr(rule.from, { defaultPrefix: 32 })) : { ...ANY_ADDRESS },
        dst: rule.to !== undefined ? must(parseCidr(rule.to, { defaultPrefix: 32 })) : { ...ANY_ADDRESS },
        dports: portRanges(rule.ports),
        sports: portRanges(rule.srcPorts ?? rule['src-ports']),
      };
      const icmpType = rule.icmpType ?? rule['icmp-type'];
      if (icmpType !== undefined) out.icmpType = icmpTypeNumber(icmpType);
      if (rule.name !== undefined) out.name = rule.name;
      if (rule.comment !== undefined) out.comment = rule.comment;
      return out;
    }),
  };
}

function normalizeFirewall(name: string, spec: RawFirewall): Firewall {
  return {
    name,
    attach: (spec.attach ?? [])
      .map(parseAttach)
      .sort((a, b) => compare(a.container, b.container) || compare(a.interface, b.interface)),
    networks: [...new Set(spec.networks ?? [])].sort(compare),
    ingress: normalizeDirection(spec.ingress),
    egress: normalizeDirection(spec.egress),
  };
}

/* ---- rules ------------------------------------------------------------------- */

function checkAttach(ctx: RuleContext): void {
  const containers = ctx.raw.containers ?? {};
  const attached = new Map<string, string>();
  for (const [name, firewall] of Object.entries(rawFirewalls(ctx.raw))) {
    for (const [index, ref] of (firewall.attach ?? []).entries()) {
      const path: SpecPath = ['firewalls', name, 'attach', index];
      const [containerName = '', iface = ''] = ref.split('/');
      const container = own(containers, containerName);
      if (!container) {
        if (!ctx.invalid.has(`containers/${containerName}`)) {
          ctx.report(path, `unknown container "${containerName}"${didYouMean(containerName, Object.keys(containers))}`);
        }
        continue;
      }
      const ifaces = Object.keys(container.interfaces);
      if (!Object.hasOwn(container.interfaces, iface)) {
        const has = ifaces.length > 0 ? ` (it has ${ifaces.join(', ')})` : '';
        ctx.report(path, `container "${containerName}" has no interface "${iface}"${didYouMean(iface, ifaces) || has}`);
        continue;
      }
      const other = attached.get(ref);
      if (other === name) {
        ctx.report(path, `${ref} is listed twice`);
      } else if (other !== undefined) {
        ctx.report(path, `${ref} is already attached to firewall "${other}"; an interface takes at most one firewall`);
      } else {
        attached.set(ref, name);
      }
    }
  }
}

/** `networks:` names networks of the file, and each network has at most one default firewall. */
function checkNetworks(ctx: RuleContext): void {
  const networks = Object.keys(ctx.raw.networks ?? {});
  const owner = new Map<string, string>();
  for (const [name, firewall] of Object.entries(rawFirewalls(ctx.raw))) {
    for (const [index, net] of (firewall.networks ?? []).entries()) {
      const path: SpecPath = ['firewalls', name, 'networks', index];
      if (!networks.includes(net)) {
        ctx.report(path, `unknown network "${net}"${didYouMean(net, networks)}`);
        continue;
      }
      const other = owner.get(net);
      if (other === name) ctx.report(path, `network "${net}" is listed twice`);
      else if (other !== undefined) ctx.report(path, `network "${net}" already has firewall "${other}" for its attached interfaces; a network takes at most one`);
      else owner.set(net, name);
    }
  }
}

/**
 * What the classifier can hold: at most VNF_FW_MAX_TUPLES match shapes per protocol class, and
 * every rule set twice (the live one, and the standby a change is written into) within the maps.
 */
function checkCapacity(ctx: RuleContext): void {
  let cls = 0;
  let rules = 0;
  const over: Array<{ path: SpecPath; what: string }> = [];
  for (const [name, spec] of sortedEntries(rawFirewalls(ctx.raw))) {
    for (const dir of ['ingress', 'egress'] as const) {
      try {
        const c = compileRuleSet(name, dir, normalizeDirection(spec[dir]));
        cls += c.cls.length;
        rules += c.rules.length;
        over.push({ path: ['firewalls', name, dir], what: `${name} ${dir}` });
      } catch (e) {
        if (!(e instanceof FirewallTooComplexError)) throw e;
        ctx.report(['firewalls', name, dir], e.message, 'key');
      }
    }
  }
  const last = over[over.length - 1];
  if (last && cls * 2 > VNF_FW_CLS_MAX) {
    ctx.report(last.path, `the firewalls need ${cls} classifier entries; every rule set is kept twice (live and standby), so at most ${VNF_FW_CLS_MAX / 2} fit (vnf_fw_cls holds ${VNF_FW_CLS_MAX})`, 'key');
  }
  if (last && rules * 2 > VNF_FW_RULES_MAX) {
    ctx.report(last.path, `the firewalls have ${rules} rules; every rule set is kept twice (live and standby), so at most ${VNF_FW_RULES_MAX / 2} fit (vnf_fw_rules holds ${VNF_FW_RULES_MAX})`, 'key');
  }
}

/** Rules an earlier rule of the same direction shadows entirely: warnings, never errors. */
/**
 * Shadowed rules are warned one by one up to SHADOW_LISTED per firewall direction, then summed up
 * in one warning: a generated rule set can shadow tens of thousands of its rules, and each
 * warning costs a file position and a line of output.
 */
export const SHADOW_LISTED = 10;

function checkShadowed(ctx: RuleContext): void {
  for (const [name, spec] of Object.entries(rawFirewalls(ctx.raw))) {
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = normalizeDirection(spec[dir]).rules;
      const shadowed = shadowedRules(rules);
      const label = (i: number): string => `rule ${i}${rules[i]?.name !== undefined ? ` (${rules[i]!.name})` : ''}`;
      for (const { rule, by } of shadowed.slice(0, SHADOW_LISTED)) {
        ctx.warn(['firewalls', name, dir, 'rules', rule],
          `${label(rule)} can never match: ${label(by)} before it matches every packet it would (first match wins)`);
      }
      if (shadowed.length > SHADOW_LISTED) {
        const rest = shadowed.slice(SHADOW_LISTED);
        ctx.warn(['firewalls', name, dir, 'rules'],
          `${rest.length.toLocaleString('en-US')} more rules can never match (shadowed by earlier rules; the first ${SHADOW_LISTED} are listed), from rule ${rest[0]!.rule} to rule ${rest[rest.length - 1]!.rule}`);
      }
    }
  }
}

export const firewallSpec: SpecFragment = {
  schema: { top: { firewalls: z.optional(namedBy('firewall name', FirewallSchema).meta({ description: 'firewall name -> a stateful firewall attached to container interfaces' })) } },
  rules(ctx) {
    checkAttach(ctx);
    checkNetworks(ctx);
    checkCapacity(ctx);
    checkShadowed(ctx);
  },
  normalize(raw): FirewallModel {
    return { firewalls: sortedEntries(rawFirewalls(raw)).map(([name, spec]) => normalizeFirewall(name, spec)) };
  },
  summary: (t) => {
    const n = t.ext.firewall?.firewalls.length ?? 0;
    return `${n} firewall${n === 1 ? '' : 's'}`;
  },
};
