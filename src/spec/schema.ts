/**
 * The topology file's schema (apiVersion vnf/v1): shapes, types and the syntax of every value.
 *
 * Objects are strict: an unknown key is an error at its path, so a typo never silently means
 * "use the default". Values that need a real parser (addresses, ports, MACs, names) are plain
 * strings refined by the parsers in this folder, which give precise messages; their JSON Schema
 * pattern is attached as metadata for editors. Cross-references and addressing are rules.ts.
 */
import * as z from 'zod';
import { ICMP_TYPE_NAMES } from './icmp.js';
import { isNetworkAddress, networkOf, formatAddr, parseAddr, parseCidr } from './ipv4.js';
import { parseMac } from './mac.js';
import { checkIfname, checkName, IFNAME_PATTERN, MAX_NAME_LENGTH, NAME_PATTERN } from './names.js';
import { parsePortSpec, PORT_SPEC_PATTERN } from './ports.js';
import type { Parsed } from './result.js';

export const API_VERSION = 'vnf/v1';
export const DEFAULT_FDB_AGING_SECONDS = 300;

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const ADDR = `${OCTET}(\\.${OCTET}){3}`;
const PREFIX_LEN = '(3[0-2]|[12]?[0-9])';

/** A string whose syntax `check` decides; `check` returns an error message or undefined. */
function checkedString(check: (text: string) => string | undefined, meta: z.core.JSONSchemaMeta) {
  return z
    .string()
    .superRefine((text, ctx) => {
      const error = check(text);
      if (error !== undefined) ctx.addIssue({ code: 'custom', message: error });
    })
    .meta(meta);
}

const errorOf = <T>(result: Parsed<T>): string | undefined => (result.ok ? undefined : result.error);

/** A plain address: 10.2.0.254 */
const Addr = checkedString((s) => errorOf(parseAddr(s)), {
  format: 'ipv4',
  pattern: `^${ADDR}$`,
});

/** A network prefix with its host bits zero: 10.1.0.0/24. With bareAddressIsHost, 10.2.0.66 means 10.2.0.66/32. */
function networkCidr(options: { bareAddressIsHost: boolean }) {
  const pattern = options.bareAddressIsHost ? `^${ADDR}(/${PREFIX_LEN})?$` : `^${ADDR}/${PREFIX_LEN}$`;
  return checkedString(
    (s) => {
      const cidr = parseCidr(s, options.bareAddressIsHost ? { defaultPrefix: 32 } : {});
      if (!cidr.ok) return cidr.error;
      if (isNetworkAddress(cidr.value)) return undefined;
      return `not a network address (host bits set); did you mean ${formatAddr(networkOf(cidr.value))}/${cidr.value.prefix}?`;
    },
    { pattern },
  );
}

/** An interface address, with the network's prefix length or none: 10.1.0.10/24 or 10.1.0.10 */
const HostAddr = checkedString(
  (s) => errorOf(parseCidr(s, { defaultPrefix: 32 })),
  { pattern: `^${ADDR}(/${PREFIX_LEN})?$`, description: 'address, optionally with the network prefix length' },
);

const Mac = checkedString((s) => errorOf(parseMac(s)), {
  pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$',
  description: 'unicast MAC address; derived from the names when omitted',
});

const Name = (what: string) =>
  checkedString((s) => checkName(s, what), { pattern: NAME_PATTERN, maxLength: MAX_NAME_LENGTH });

/** A map from names to `value`; invalid names are reported at their key. */
function named<T extends z.ZodType>(value: T, checkKey: (key: string) => string | undefined, keyMeta: z.core.JSONSchemaMeta) {
  return z
    .record(z.string(), value)
    .superRefine(
      (record: unknown, ctx) => {
        if (typeof record !== 'object' || record === null) return;
        for (const key of Object.keys(record)) {
          const error = checkKey(key);
          if (error !== undefined) ctx.addIssue({ code: 'custom', message: error, path: [key], params: { at: 'key' } });
        }
      },
      // Check the names even when some values are invalid, so every issue shows up in one pass.
      { when: () => true },
    )
    .meta({ propertyNames: { type: 'string', ...keyMeta } });
}

const namedBy = <T extends z.ZodType>(what: string, value: T) =>
  named(value, (key) => checkName(key, what), { pattern: NAME_PATTERN, maxLength: MAX_NAME_LENGTH });

const AgingSeconds = z
  .int({ error: 'expected a whole number of seconds' })
  .min(1, { error: 'must be at least 1 second' })
  .max(1_000_000, { error: 'must be at most 1000000 seconds' })
  .meta({ description: 'seconds after which an unused learned MAC is forgotten', default: DEFAULT_FDB_AGING_SECONDS });

const TimeoutSeconds = z.number().int().min(1).max(10_000_000);
/** Connection tracking timeouts in seconds; defaults are Linux's (nf_conntrack). */
export const ConntrackTimeoutsSchema = z.strictObject({
  tcpSynSent: z.optional(TimeoutSeconds),
  tcpSynRecv: z.optional(TimeoutSeconds),
  tcpEstablished: z.optional(TimeoutSeconds),
  tcpFinWait: z.optional(TimeoutSeconds),
  tcpCloseWait: z.optional(TimeoutSeconds),
  tcpLastAck: z.optional(TimeoutSeconds),
  tcpTimeWait: z.optional(TimeoutSeconds),
  tcpClose: z.optional(TimeoutSeconds),
  udp: z.optional(TimeoutSeconds),
  udpStream: z.optional(TimeoutSeconds),
  icmp: z.optional(TimeoutSeconds),
});

export const SettingsSchema = z.strictObject({
  fdbAgingSeconds: z.optional(AgingSeconds),
  conntrack: z.optional(z.strictObject({ timeouts: z.optional(ConntrackTimeoutsSchema) })),
});

export const NetworkSchema = z
  .strictObject({
    subnet: networkCidr({ bareAddressIsHost: false }).meta({
      description: "the L2 segment's IPv4 prefix, e.g. 10.1.0.0/24",
    }),
    fdbAgingSeconds: z.optional(AgingSeconds),
  })
  .meta({ description: 'an L2 segment: one eBPF bridge' });

export const InterfaceSchema = z.strictObject({
  network: z.string().meta({ description: 'name of the network this interface is plugged into' }),
  ip: HostAddr,
  mac: z.optional(Mac),
});

export const ContainerSchema = z
  .strictObject({
    interfaces: named(InterfaceSchema, checkIfname, { pattern: IFNAME_PATTERN }),
  })
  .meta({ description: 'a network namespace that `vnf-ctl lab up` creates' });

export const RouteSchema = z.strictObject({
  to: networkCidr({ bareAddressIsHost: true }).meta({ description: 'destination prefix; 0.0.0.0/0 is the default route' }),
  via: Addr.meta({ description: 'next hop, directly reachable through one of the router\'s ports' }),
});

export const RouterSchema = z
  .strictObject({
    ports: namedBy('network name', HostAddr.meta({ description: 'the router\'s address on that network (its gateway)' }))
      .superRefine((ports: unknown, ctx) => {
        if (typeof ports === 'object' && ports !== null && Object.keys(ports).length === 0) {
          ctx.addIssue({ code: 'custom', message: 'a router needs at least one port' });
        }
      })
      .meta({ description: 'network name -> the router\'s address on it' }),
    routes: z.optional(z.array(RouteSchema)),
  })
  .meta({ description: 'an IPv4 router joining networks' });

const PortList = (what: string) =>
  z
    .array(
      z.union([
        z
          .int({ error: (iss) => `port ${String(iss.input)} is not a whole number` })
          .min(1, { error: (iss) => `port ${String(iss.input)} is out of range 1-65535` })
          .max(65535, { error: (iss) => `port ${String(iss.input)} is out of range 1-65535` }),
        checkedString((s) => errorOf(parsePortSpec(s)), { pattern: PORT_SPEC_PATTERN }),
      ]),
    )
    .min(1, { error: `${what} must list at least one port; omit it to match every port` });

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

export const RuleSchema = z
  .strictObject({
    action: z.enum(['allow', 'drop', 'reject']),
    proto: z.optional(z.enum(['tcp', 'udp', 'icmp', 'any']).meta({ default: 'any' })),
    from: z.optional(networkCidr({ bareAddressIsHost: true }).meta({ description: 'source prefix; any when omitted' })),
    to: z.optional(networkCidr({ bareAddressIsHost: true }).meta({ description: 'destination prefix; any when omitted' })),
    ports: z.optional(PortList('ports').meta({ description: 'destination ports (tcp/udp only): 80 or "5000-5100"' })),
    'src-ports': z.optional(PortList('src-ports').meta({ description: 'source ports (tcp/udp only)' })),
    'icmp-type': z.optional(IcmpType.meta({ description: 'ICMP type name or number (icmp only)' })),
    name: z.optional(z.string()),
    comment: z.optional(z.string()),
  })
  .superRefine(
    (rule: unknown, ctx) => {
      if (typeof rule !== 'object' || rule === null) return;
      const r = rule as Record<string, unknown>;
      const proto = r['proto'] ?? 'any';
      // An invalid proto is reported by its own schema; don't pile consequences on top of it.
      if (!PROTOS.includes(proto)) return;
      for (const key of ['ports', 'src-ports']) {
        if (r[key] !== undefined && !PORT_PROTOS.includes(proto)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            params: { at: 'key' },
            message: `only tcp and udp rules can match ${key} (this rule's proto is ${String(proto)})`,
          });
        }
      }
      if (r['icmp-type'] !== undefined && proto !== 'icmp') {
        ctx.addIssue({
          code: 'custom',
          path: ['icmp-type'],
          params: { at: 'key' },
          message: `only icmp rules can match icmp-type (this rule's proto is ${String(proto)})`,
        });
      }
    },
    { when: () => true },
  )
  .meta({ description: 'first matching rule wins, in file order' });

export const DirectionSchema = z.strictObject({
  default: z.optional(z.enum(['allow', 'drop']).meta({ default: 'allow', description: 'verdict when no rule matches' })),
  rules: z.optional(z.array(RuleSchema)),
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
    ingress: z.optional(DirectionSchema.meta({ description: 'traffic going into the container' })),
    egress: z.optional(DirectionSchema.meta({ description: 'traffic leaving the container' })),
  })
  .meta({ description: 'a stateful firewall: replies of allowed connections pass' });

export const TopologySchema = z.strictObject({
  apiVersion: z.literal(API_VERSION, {
    error: (iss) =>
      iss.input === undefined
        ? `missing apiVersion; start the file with "apiVersion: ${API_VERSION}"`
        : `unsupported apiVersion ${JSON.stringify(iss.input)}; this version of vnf reads "${API_VERSION}"`,
  }),
  name: Name('topology name').meta({ description: 'pins live under /sys/fs/bpf/vnf/<name>/' }),
  settings: z.optional(SettingsSchema),
  containers: z.optional(namedBy('container name', ContainerSchema)),
  networks: namedBy('network name', NetworkSchema),
  routers: z.optional(namedBy('router name', RouterSchema)),
  firewalls: z.optional(namedBy('firewall name', FirewallSchema)),
});

/** A topology file that passed the schema: raw user input, defaults not yet applied. */
export type RawTopology = z.infer<typeof TopologySchema>;
export type RawNetwork = z.infer<typeof NetworkSchema>;
export type RawContainer = z.infer<typeof ContainerSchema>;
export type RawInterface = z.infer<typeof InterfaceSchema>;
export type RawRouter = z.infer<typeof RouterSchema>;
export type RawRoute = z.infer<typeof RouteSchema>;
export type RawFirewall = z.infer<typeof FirewallSchema>;
export type RawDirection = z.infer<typeof DirectionSchema>;
export type RawRule = z.infer<typeof RuleSchema>;
