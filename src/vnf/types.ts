/**
 * The VNF driver seam. A VNF is a module: it declares its spec fragment
 * (schema, rules, normalization), its maps (the typed map registry), the
 * entries it wants in them, its place in the port chains, and how its state
 * is shown. Generic stages (spec, compile, observe, plan, apply, get/stats)
 * only iterate the registry (src/vnf/registry.ts): adding a VNF means adding
 * bpf/<vnf>.bpf.c, bpf/abi/<vnf>.h, src/vnf/<vnf>/ and one registry line.
 * docs/adding-a-vnf.md walks through it.
 */
import type * as z from 'zod';
import type { MapEntries } from '../model/desired.js';
import type { IdTable } from '../model/ids.js';
import type { PendingIssue, SpecPath } from '../spec/errors.js';
import type { RawTopology } from '../spec/schema.js';
import type { Topology } from '../spec/model.js';

/* ---- maps ---------------------------------------------------------------- */

/** BPF map types the registry knows, by their kernel names. */
export type MapType = 'hash' | 'lru_hash' | 'lpm_trie' | 'array' | 'percpu_array' | 'percpu_hash' | 'prog_array' | 'ringbuf';

/**
 * Who owns a map's entries:
 * - config:  the control plane owns every entry; the desired set is exact.
 * - group:   double-buffered groups (firewall rule sets): the standby is
 *            rewritten where it differs, then the bindings flip; see GroupDecl.
 * - learned: the dataplane writes; the control plane only removes entries
 *            that lost their meaning (their port or network is gone).
 * - stats:   counters the dataplane writes; entries of removed things go.
 * - kernel:  the dataplane's own scratch state; never read or written.
 */
export type MapKind = 'config' | 'group' | 'learned' | 'stats' | 'kernel';

/**
 * When a config map's upserts run (deletes run in the reverse order):
 * - define:  things nothing refers to yet (ids, chains, flood lists, bindings)
 * - bind:    port entries (which refer to chains and bindings)
 * - (the links of new ports are attached here)
 * - publish: what makes ports reachable (networks, static FDB and
 *            neighbours, routes): only once a new port's policy is in place.
 * - commit:  after everything else, removals included (the applied generation).
 */
export type Stage = 'define' | 'bind' | 'publish' | 'commit';

/** What learned/stats entries are judged against: the desired state. */
export interface Live {
  /** Port ifindex -> network id. */
  ports: ReadonlyMap<number, number>;
  networks: ReadonlySet<number>;
  routers: ReadonlySet<number>;
  /** Desired entries of the config maps. */
  config: Readonly<Record<string, MapEntries>>;
  groups: readonly DesiredGroup[];
}

/** What a learned/stats map's entries depend on: when one of these loses something, the map is swept. */
export type Dependency = 'ports' | 'networks' | 'routers' | 'groups' | { map: string };

/** Names for ids, for describing entries. */
export interface NameView {
  network(id: number): string;
  router(id: number): string;
  ifname(ifindex: number): string;
}

export interface MapDecl {
  /** The pinned name (≤ 15 characters), as in bpf/abi/<vnf>.h. */
  name: string;
  type: MapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  kind: MapKind;
  /** config maps: when upserts run, and the order within the stage (lower first). */
  stage?: Stage;
  order?: number;
  /** One line describing an entry, for plan and get. */
  describe?(key: Buffer, value: Buffer | undefined, names: NameView): string;
  /** learned/stats maps: whether an entry still means something. */
  keep?(key: Buffer, value: Buffer, live: Live): boolean;
  /** learned/stats maps: what `keep` depends on. The map is read and swept only when one of them loses entries. */
  dependsOn?: Dependency[];
}

/**
 * Double-buffered groups (firewall rule sets): one root entry per group in `root` (keyed by the
 * group id, a u32), and leaves in `leaves` whose keys carry the group id. Each owner (e.g. one
 * direction of a firewall) has two stable group ids — slots — allocated once from the vnf_ids
 * counter, never reused. Config entries (bindings, see `refs`) point at the live slot; a change
 * is written into the other one, the standby, which nothing points at: only the entries that
 * differ, between its root marked incomplete and its root without the mark. Then the bindings
 * flip and the former live slot becomes the standby. A root marked incomplete means "being
 * written or being removed": packets treat it as no policy, and the next plan finishes the job.
 * Complete groups whose root is the wanted one are never dumped; leaves are read only to write
 * or remove a group.
 */
export interface GroupDecl {
  root: string;
  leaves: string[];
  /** The group id in a leaf key (or a root key). */
  groupOf(map: string, key: Buffer): number;
  /** The root value marked incomplete, and the test for it. */
  incomplete(root: Buffer): Buffer;
  isIncomplete(root: Buffer): boolean;
  /** Config maps whose values point at groups (the group a value names): a group pointed at is live, never written. */
  refs: Array<{ map: string; groupOf(value: Buffer): number }>;
}

/** Entries packed key after key and value after value: no object per entry (rule sets reach millions). */
export interface PackedEntries {
  keys: Buffer;
  values: Buffer;
  count: number;
  keySize: number;
  /** Bytes per value in `values`. */
  valueSize: number;
}

/** What a module wants in one slot pair: the group's content, whatever id it lands in. */
export interface GroupSpec {
  /** Stable name of the owner within its module (e.g. "web/ingress"): it keeps its two ids. */
  owner: string;
  /** The root value (complete). Equal roots mean equal groups: the root names the content (a version). */
  root: Buffer;
  /** Every leaf entry, per map, with keys for group `id`, packed: built only when the group is written. */
  leaves(id: number): Record<string, PackedEntries>;
  /** A name for plan output, e.g. "firewall web ingress (9 rules)". */
  label: string;
}

/** A group the desired state wants, placed in a slot by compile. */
export interface DesiredGroup extends GroupSpec {
  /** The slot (group id) it must be in. */
  id: number;
  /** The other slot of its owner: kept as the standby. */
  standby: number;
  /** The module that wants it. */
  module: string;
}

/* ---- spec ---------------------------------------------------------------- */

/** Where a fragment adds keys to the topology file's schema. */
export interface SchemaFragment {
  top?: Record<string, z.ZodType>;
  settings?: Record<string, z.ZodType>;
  router?: Record<string, z.ZodType>;
  interface?: Record<string, z.ZodType>;
}

/** What the rules of a fragment can see and report. */
export interface RuleContext {
  /** The part of the file that passed the schema (entries with schema issues are left out). */
  raw: RawTopology;
  /** Names of entries left out because of schema issues: references to them are not "unknown". */
  invalid: ReadonlySet<string>;
  report(path: SpecPath, message: string, at?: 'key'): void;
  /** Something legal but almost certainly not meant (a rule that can never match): shown, never fatal. */
  warn(path: SpecPath, message: string, at?: 'key'): void;
}

export interface SpecFragment {
  schema?: SchemaFragment;
  /** Cross-references, addressing and capacity, on the valid part of the file. */
  rules?(ctx: RuleContext): void;
  /** The module's part of the normalized model (topology.ext[module name]). */
  normalize?(raw: RawTopology, core: Topology): unknown;
  /** A few words for `vnf-ctl validate`, e.g. "2 firewalls". */
  summary?(t: Topology): string | undefined;
}

/* ---- compile --------------------------------------------------------------- */

/**
 * An interface that carries a port: a lab/file container interface, an attachment, or a
 * network's uplink (a host interface with the world behind it: no identity of its own).
 */
export interface PortInterface {
  ifname: string;
  ifindex: number;
  /** 'overlay': this host's VXLAN device (a slice with ext.overlay): a port of no network (network '', id 0). */
  source: 'file' | 'attach' | 'uplink' | 'overlay';
  container?: string;
  iface?: string;
  network: string;
  networkId: number;
  ip: number;
  prefix: number;
  /** Lowercase MAC, or undefined when unknown (attachment without a namespace). */
  mac?: string;
  /** Prefixes the port may send from besides `ip` (it forwards for them). */
  allowedSources: Array<{ addr: number; prefix: number }>;
  /** Per-module options of this port (e.g. firewall: "web-in"), by module name. */
  options: Record<string, string>;
}

export interface CompileContext {
  topology: Topology;
  ports: PortInterface[];
  ids: IdTable;
  networkId(name: string): number;
  routerId(name: string): number;
  /** The chains of a port, composed from the modules that run on it. */
  chains(port: PortInterface): { chainIn: number[]; chainOut: number[] };
  /** The group id an owner's config entries must point at (desiredGroups placed first); undefined when it has none. */
  groupId(module: string, owner: string): number | undefined;
}

/* ---- status ---------------------------------------------------------------- */

/** What a module's status view reads: pinned maps of the topology, and names. */
export interface StatusReader {
  names: NameView;
  topology: Topology | undefined;
  /** Every entry of a pinned map ([] when it is not pinned). Per-CPU values are summed by `counter`. */
  entries(map: string): Array<[Buffer, Buffer]>;
  /** A per-CPU counter map's value summed over CPUs. */
  counter(map: string, value: Buffer): { packets: bigint; bytes: bigint };
  /** Nanoseconds on the kernel's CLOCK_MONOTONIC (bpf_ktime_get_ns). */
  now: bigint;
}

/** A table in `vnf-ctl get`: `key` names it in -o json/yaml. */
/**
 * A value of a status row. Rows are data (`get -o json` prints them as they are): an absent
 * value is null, never a "-" placeholder; a list is an array; a count is a number named ...Count.
 */
export type StatusValue = string | number | bigint | boolean | null | readonly string[];

export interface StatusSection {
  /** The section's key in `get -o json` and `get --only`. */
  key: string;
  title: string;
  /** The row keys the table shows, in order (a row may hold more: -o json shows everything). */
  columns: string[];
  /** Table headings for the columns, when they differ from the keys. */
  headers?: string[];
  rows: Array<Record<string, StatusValue>>;
}

/**
 * A metric family of `vnf-ctl metrics` (Prometheus): a stable name with the `vnf_` prefix, its
 * labels besides `topology` (which every family has), and whether it is a counter (monotonic, from
 * the kernel's per-CPU sums; named `..._total`) or a gauge (occupancy).
 */
export interface MetricDecl {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labels: readonly string[];
}

/** One series of a family: a value for every label of its declaration. */
export interface MetricSample {
  labels: Record<string, string>;
  value: bigint | number;
}

/**
 * A module's metrics: its families, declared once, and a read of their samples per scrape. The
 * read runs on every scrape: it must not dump big maps (the connection table, the FDB) when a
 * counter kept by the dataplane says the same.
 */
export interface MetricsDecl {
  families: readonly MetricDecl[];
  read(r: StatusReader): Record<string, MetricSample[]>;
}

/* ---- the module ---------------------------------------------------------- */

export interface VnfModule {
  name: string;
  /** Slot in vnf_progs and counter id (VNF_ID_* of its ABI header); absent for modules without a program. */
  id?: number;
  /** build/bpf/<object>.bpf.o */
  object?: string;
  /** Every program of the object (pinned per build). */
  programs?: string[];
  /** The program that fills slot `id` of vnf_progs. */
  slotProgram?: string;
  spec?: SpecFragment;
  maps: MapDecl[];
  groups?: GroupDecl;
  /** Desired entries of this module's config maps. */
  entries?(ctx: CompileContext): Record<string, MapEntries>;
  /** Desired groups, one per owner (ctx.groupId is not available yet). */
  desiredGroups?(ctx: CompileContext): GroupSpec[];
  /** A per-port option from the topology file (e.g. the firewall of a container interface). */
  portOption?(t: Topology, container: string, iface: string): string | undefined;
  /**
   * Whether (and in what order) this VNF runs in a port's chains, before the forwarder and before
   * delivery. `topology` is the one being compiled: a VNF may run on a port because of what its
   * network is (e.g. NAT on every port network of a router with `nat`), not only because of the
   * port's own options.
   */
  chain?: {
    /**
     * Place in the chains (lower first), or per port and chain: a VNF that works at the edge of
     * the world (NAT on an outside port) runs first in what comes in and last in what goes out.
     */
    order: number | ((port: PortInterface, topology: Topology, chain: 'in' | 'out') => number);
    runsOn(port: PortInterface, topology: Topology, chain: 'in' | 'out'): boolean;
  };
  /**
   * Addresses this module gives a role on a network, with who has them: never given to an
   * attachment, or — `reserved` — given only when asked for by address (a NAT forward target, an
   * address meant for a container attached later), never by vnf's own IPAM.
   */
  addresses?(t: Topology, network: string): Array<{ addr: number; who: string; reserved?: boolean }>;
  /** The module's option of run-time attachments (vnf-ctl attach, the CNI plugin): see AttachOptionDecl. */
  attachOption?: AttachOptionDecl;
  /** Sections of `vnf-ctl get NAME`. */
  status?(r: StatusReader): StatusSection[];
  /** Families of `vnf-ctl metrics`. */
  metrics?: MetricsDecl;
  /** Human-level changes between two topologies (e.g. rules added/removed), shown with the plan. */
  changes?(before: Topology | undefined, after: Topology): string[];
  /**
   * `vnf-ctl monitor`: what a rule set id and rule index in an event of this VNF stand for (e.g.
   * firewall web, ingress, rule 2), from the applied topology and the ids the kernel holds.
   */
  eventRules?(t: Topology, ids: IdTable): (ruleset: number, rule: number) => EventRule | undefined;
}

/** A rule named by a dataplane event. */
export interface EventRule {
  /** The owner of the rule set, e.g. the firewall's name. */
  owner: string;
  direction?: string;
  /** The rule's index in its list, or 'default'. */
  rule: number | 'default';
  /** The rule's name, or a readable form of it. */
  text?: string;
  action?: string;
}

/**
 * A per-port option of attachments (e.g. the firewall of an attached interface). Attachments live
 * only in the kernel, so the option is read back from what the module's entries say about the port.
 */
export interface AttachOptionDecl {
  /**
   * The option of a new attachment to `network`: `asked` (a name; null for "none") or the
   * module's default for the network. Throws an Error with a readable message when it cannot be.
   */
  choose(t: Topology, network: string, asked: string | null | undefined): string | undefined;
  /** The option of an attached port as the kernel holds it; `runs` says whether the port's chains run this VNF. */
  read(k: AttachedPortReader): string | undefined;
  /** Why topology `t` cannot keep an attachment with this option (e.g. its firewall left the file). */
  problem(t: Topology, option: string): string | undefined;
}

/**
 * The option of an attached port whose module runs on it but whose entries name nothing the
 * files know: the port fails closed until it is detached (plan notes it).
 */
export const LOST_ATTACH_OPTION = '(unknown)';

export interface AttachedPortReader {
  ifindex: number;
  runs: boolean;
  entries(map: string): MapEntries | undefined;
  ids: IdTable;
  /** Topologies whose names the option may come from (the applied one, the one being applied). */
  topologies: Topology[];
}

export type { MapEntries, PendingIssue };
