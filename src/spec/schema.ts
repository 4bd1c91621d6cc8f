/**
 * The topology file's schema (apiVersion vnf/v1): shapes, types and the syntax of every value.
 *
 * The core (networks, containers, routers, settings) is defined here; every VNF module adds its
 * keys through its spec fragment (src/vnf/<vnf>/spec.ts), composed by topologySchema(). Objects
 * are strict: an unknown key is an error at its path, so a typo never silently means "use the
 * default". Cross-references and addressing are rules (rules.ts and the fragments' rules).
 */
import * as z from 'zod';
import { VNFS } from '../vnf/registry.js';
import type { SchemaFragment } from '../vnf/types.js';
import { Addr, checkedString, HostAddr, Mac, Name, named, namedBy, networkCidr } from './atoms.js';
import { checkIfname, IFNAME_PATTERN } from './names.js';

export const API_VERSION = 'vnf/v1';
export const DEFAULT_FDB_AGING_SECONDS = 300;

/** The largest VXLAN network identifier (24 bits). */
export const VNI_MAX = 0xffffff;

const AgingSeconds = z
  .int({ error: 'expected a whole number of seconds' })
  .min(1, { error: 'must be at least 1 second' })
  .max(1_000_000, { error: 'must be at most 1000000 seconds' })
  .meta({ description: 'seconds after which an unused learned MAC is forgotten', default: DEFAULT_FDB_AGING_SECONDS });

const settingsCore = {
  fdbAgingSeconds: z.optional(AgingSeconds),
};

/** The pattern of an interface vnf can pin a link for (letters, digits, '_' and '-'). */
const PINNABLE = '^[A-Za-z0-9_-]{1,15}$';

export const UplinkSchema = z
  .strictObject({
    interface: checkedString(
      (s) => checkIfname(s) ?? (new RegExp(PINNABLE).test(s) ? undefined : `interface name "${s}" cannot be a pin name (letters, digits, '_' and '-' only)`),
      { pattern: PINNABLE, description: 'an existing host interface: the host end of a veth pair that leads out (to a namespace, a Linux bridge, a NIC)' },
    ),
    lab: z.optional(z.strictObject({
      namespace: Name('namespace name').meta({ description: 'the lab namespace `vnf-ctl lab up` creates behind the uplink (vnf.<topology>.<namespace>)' }),
      ip: HostAddr.meta({ description: "that namespace's address on the network (e.g. the routers' gateway)" }),
    }).meta({ description: 'lab mode: what sits on the uplink, created by `vnf-ctl lab up` with the interface' })),
  })
  .meta({ description: 'a host interface that is a port of this network with no identity of its own: the world (many hosts) behind it' });

export const NetworkSchema = z
  .strictObject({
    subnet: networkCidr({ bareAddressIsHost: false }).meta({
      description: "the L2 segment's IPv4 prefix, e.g. 10.1.0.0/24",
    }),
    fdbAgingSeconds: z.optional(AgingSeconds),
    uplink: z.optional(UplinkSchema),
    vni: z.optional(z.int({ error: 'expected a whole number' }).min(1, { error: 'must be at least 1' }).max(VNI_MAX, { error: `must be at most ${VNI_MAX} (24 bits)` }).meta({
      description: `the VXLAN network identifier (1-${VNI_MAX}) that carries this network between hosts, when containers name hosts; default: derived from the network name`,
    })),
  })
  .meta({ description: 'an L2 segment: one eBPF bridge' });

const interfaceCore = {
  network: z.string().meta({ description: 'name of the network this interface is plugged into' }),
  ip: HostAddr,
  mac: z.optional(Mac),
  allowedSources: z.optional(
    z.array(networkCidr({ bareAddressIsHost: true })).meta({
      description: 'prefixes the container may send from besides its own address, because it forwards for them (a router or gateway container); everything else it sends as someone else is dropped',
    }),
  ),
};

export const RouteSchema = z.strictObject({
  to: networkCidr({ bareAddressIsHost: true }).meta({ description: 'destination prefix; 0.0.0.0/0 is the default route' }),
  via: Addr.meta({ description: 'next hop, directly reachable through one of the router\'s ports' }),
});

const routerCore = {
  ports: namedBy('network name', HostAddr.meta({ description: 'the router\'s address on that network (its gateway)' }))
    .superRefine((ports: unknown, ctx) => {
      if (typeof ports === 'object' && ports !== null && Object.keys(ports).length === 0) {
        ctx.addIssue({ code: 'custom', message: 'a router needs at least one port' });
      }
    })
    .meta({ description: 'network name -> the router\'s address on it' }),
  routes: z.optional(z.array(RouteSchema).meta({ description: 'static routes; connected networks are routed without one' })),
};

function topLevel(fragments: SchemaFragment[]) {
  const pick = (k: keyof SchemaFragment): Record<string, z.ZodType> => Object.assign({}, ...fragments.map((f) => f[k] ?? {}));
  const InterfaceSchema = z.strictObject({ ...interfaceCore, ...pick('interface') });
  const ContainerSchema = z
    .strictObject({
      host: z.optional(Name('host name').meta({ description: 'the host it runs on, in a topology that spans hosts (applied with `vnf-ctl apply --store`; every container then names one)' })),
      interfaces: named(InterfaceSchema, checkIfname, { pattern: IFNAME_PATTERN }).meta({ description: 'interface name inside the namespace (at most 15 characters) -> its network and address' }),
    })
    .meta({ description: 'a network namespace that `vnf-ctl lab up` creates' });
  const RouterSchema = z.strictObject({ ...routerCore, ...pick('router') }).meta({ description: 'an IPv4 router joining networks' });
  const SettingsSchema = z.strictObject({ ...settingsCore, ...pick('settings') });
  return z.strictObject({
    $schema: z.optional(z.string().meta({ description: 'the JSON Schema of this format, for editors (JSON files; YAML files use a yaml-language-server comment); ignored by vnf' })),
    apiVersion: z.literal(API_VERSION, {
      error: (iss) =>
        iss.input === undefined
          ? `missing apiVersion; start the file with "apiVersion: ${API_VERSION}"`
          : `unsupported apiVersion ${JSON.stringify(iss.input)}; this version of vnf reads "${API_VERSION}"`,
    }).meta({ description: `the file format version; required: ${API_VERSION}` }),
    name: Name('topology name').meta({ description: 'pins live under /sys/fs/bpf/vnf/<name>/' }),
    settings: z.optional(SettingsSchema.meta({ description: 'defaults and limits for the whole topology' })),
    containers: z.optional(namedBy('container name', ContainerSchema).meta({ description: 'container name -> its interfaces; the namespaces `vnf-ctl lab up` creates (leave out for namespaces of your own)' })),
    networks: namedBy('network name', NetworkSchema).meta({ description: 'network name -> an L2 segment (an eBPF bridge); required' }),
    routers: z.optional(namedBy('router name', RouterSchema).meta({ description: 'router name -> an IPv4 router joining networks' })),
    ...pick('top'),
  });
}

let composed: ReturnType<typeof topLevel> | undefined;

/** The whole schema: the core plus every VNF module's fragment. */
export function topologySchema(): ReturnType<typeof topLevel> {
  composed ??= topLevel(VNFS.flatMap((v) => (v.spec?.schema ? [v.spec.schema] : [])));
  return composed;
}

export interface RawInterface {
  network: string;
  ip: string;
  mac?: string;
  allowedSources?: string[];
  [key: string]: unknown;
}
export interface RawContainer {
  host?: string;
  interfaces: Record<string, RawInterface>;
}
export interface RawUplink {
  interface: string;
  lab?: { namespace: string; ip: string };
}
export interface RawNetwork {
  subnet: string;
  fdbAgingSeconds?: number;
  uplink?: RawUplink;
  vni?: number;
}
export interface RawRoute {
  to: string;
  via: string;
}
export interface RawRouter {
  ports: Record<string, string>;
  routes?: RawRoute[];
  [key: string]: unknown;
}

/** A topology file that passed the schema: raw user input, defaults not yet applied. Module keys are theirs to type. */
export interface RawTopology {
  apiVersion: typeof API_VERSION;
  name: string;
  settings?: { fdbAgingSeconds?: number; [key: string]: unknown };
  containers?: Record<string, RawContainer>;
  networks: Record<string, RawNetwork>;
  routers?: Record<string, RawRouter>;
  [key: string]: unknown;
}
