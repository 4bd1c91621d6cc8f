/**
 * A topology as a Graphviz DOT graph (`vnf-ctl graph`): pure, from the normalized Topology (a
 * file's, or the record of an applied one) and, optionally, counters read from the kernel.
 *
 *   networks  ellipses, with their subnet (and the firewall attachments get by default)
 *   routers   boxes with cut corners, with static routes and NAT summarised; an edge per port
 *             with its address (the NAT outside bold and marked)
 *   containers boxes; an edge per interface: "eth0 10.1.0.10 [fw web-in]"
 *   uplinks   a "world" node per network with an uplink, joined by the uplink interface
 *   attached  interfaces attached at run time (`vnf-ctl attach`, the CNI plugin), read from the
 *             kernel: dashed boxes named by the interface and its alias (the CNI container)
 *
 * Node ids are the kind and the name ("network:front"), so they are stable across runs and never
 * collide between kinds. Every statement is sorted by code unit (not by locale), so the same
 * topology always gives the same text. Every id and label is quoted and escaped: resource names
 * are [a-z0-9-] but interface names may hold any character but '/', ':' and whitespace (quotes,
 * backslashes, '&', unicode, control characters).
 */
import { formatAddr, formatCidr } from '../spec/ipv4.js';
import type { Topology } from '../spec/model.js';
import { firewallsOf } from '../vnf/firewall/model.js';
import { natsOf, type RouterNat } from '../vnf/nat/model.js';

/** Packets a port received from its container (rx) and sent into it (tx), as `vnf-ctl stats` counts them. */
export interface PortCounters {
  rx: bigint;
  tx: bigint;
}

export interface GraphCounters {
  /** By interfaceKey(container, interface); an interface not here has no port in the kernel. */
  interfaces: ReadonlyMap<string, PortCounters>;
  /** By network name. */
  uplinks: ReadonlyMap<string, PortCounters>;
  /** Dropped packets per VNF (all reasons summed). */
  drops: ReadonlyArray<{ vnf: string; packets: bigint }>;
  /** Run-time attachments, by host interface name. */
  attached?: ReadonlyMap<string, PortCounters>;
}

/** An interface attached at run time, as read back from the kernel. */
export interface GraphAttachment {
  ifname: string;
  network: string;
  ip: number;
  /** Per-module options read back (e.g. firewall). */
  options?: Readonly<Record<string, string>>;
  /** Who it belongs to, from the interface's alias (the CNI plugin writes one). */
  alias?: string;
}

export interface DotOptions {
  /** A second line of the graph's title, e.g. the file. */
  source?: string;
  counters?: GraphCounters;
  attachments?: ReadonlyArray<GraphAttachment>;
}

/** Lines of a router's lists (static routes, floating addresses, forwards) shown before "… N more". */
export const LISTED = 4;

/** The key of a container interface in GraphCounters.interfaces (neither name can hold '/'). */
export const interfaceKey = (container: string, iface: string): string => `${container}/${iface}`;

/** Node ids: the kind, then the name. */
export const nodeId = {
  network: (name: string): string => `network:${name}`,
  router: (name: string): string => `router:${name}`,
  container: (name: string): string => `container:${name}`,
  uplink: (network: string): string => `uplink:${network}`,
  attachment: (ifname: string): string => `attached:${ifname}`,
};

/**
 * Characters that would be invisible or reorder the text around them (C0 and C1 controls, DEL,
 * bidirectional marks and overrides): shown as <U+XXXX> instead.
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A DOT quoted string holding `s` as it is (for ids): '\' and '"' escaped. */
export function quoteId(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * One line of a label, escaped so Graphviz shows it as written: '&' as an entity (labels decode
 * HTML entities), '\' doubled (labels expand \N, \G, \l, ...), '"' escaped, unprintable
 * characters spelled out.
 */
export function labelText(s: string): string {
  return s
    .replace(UNPRINTABLE, (c) => `<U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}>`)
    .replace(/&/g, '&amp;')
    .replace(/[\\"]/g, (c) => `\\${c}`);
}

/** A quoted label of several lines (centred, joined by DOT's \n). */
export function label(lines: string[]): string {
  return `"${lines.map(labelText).join('\\n')}"`;
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sortedBy = <T>(xs: readonly T[], key: (x: T) => string): T[] => [...xs].sort((a, b) => byCodeUnit(key(a), key(b)));

function attrs(a: Record<string, string | undefined>): string {
  const parts = Object.entries(a).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return parts.length ? ` [${parts.join(', ')}]` : '';
}

const node = (id: string, a: Record<string, string | undefined>): string => `  ${quoteId(id)}${attrs(a)};`;
const edge = (from: string, to: string, a: Record<string, string | undefined>): string => `  ${quoteId(from)} -- ${quoteId(to)}${attrs(a)};`;

/** At most LISTED lines, then how many more there are. */
function listed(lines: string[], what: string): string[] {
  if (lines.length <= LISTED) return lines;
  return [...lines.slice(0, LISTED), `… ${lines.length - LISTED} more ${what}`];
}

function natLines(n: RouterNat): string[] {
  const lines = [`NAT outside ${n.outside} (${formatAddr(n.outsideIp)})`];
  if (n.masquerade.length) {
    lines.push(...listed(n.masquerade.map((p) => `masquerade ${formatCidr(p)}`), 'masqueraded prefixes'));
    lines.push(`masquerade ports ${n.ports[0]}-${n.ports[1]}`);
  }
  lines.push(...listed(n.floating.map((f) => `floating ${formatAddr(f.inside)} = ${formatAddr(f.outside)}`), 'floating addresses'));
  lines.push(...listed(n.forward.map((f) => `forward ${f.proto} ${f.port} → ${formatAddr(f.to)}:${f.toPort}`), 'forwards'));
  return lines;
}

const counterLine = (c: PortCounters | undefined): string => (c ? `rx ${c.rx} / tx ${c.tx}` : 'no port in the kernel');

/** The topology as a DOT graph (undirected), ending with a newline. */
export function topologyDot(t: Topology, o: DotOptions = {}): string {
  const counters = o.counters;
  const firewallOf = new Map<string, string>();
  const defaults = new Map<string, string[]>();
  for (const f of firewallsOf(t)) {
    for (const a of f.attach) firewallOf.set(interfaceKey(a.container, a.interface), f.name);
    for (const n of f.networks) defaults.set(n, [...(defaults.get(n) ?? []), f.name]);
  }
  const nats = new Map(natsOf(t).map((n) => [n.router, n] as const));

  const title = [`topology ${t.name}`];
  if (o.source !== undefined) title.push(o.source);
  if (counters) {
    const drops = sortedBy(counters.drops.filter((d) => d.packets > 0n), (d) => d.vnf);
    title.push(drops.length ? `drops: ${drops.map((d) => `${d.vnf} ${d.packets}`).join(', ')}` : 'no drops');
  }

  const out: string[] = [
    `// vnf topology ${t.name.replace(/[^a-z0-9-]/g, '?')}: render with \`dot -Tsvg\``,
    `graph ${quoteId(t.name)} {`,
    `  graph [label=${label(title)}, labelloc=t, fontname="Helvetica"];`,
    '  node [fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];

  const networks = sortedBy(t.networks, (n) => n.name);
  const routers = sortedBy(t.routers, (r) => r.name);
  const containers = sortedBy(t.containers, (c) => c.name);
  const uplinked = networks.filter((n) => n.uplink);

  out.push('', '  // networks');
  for (const n of networks) {
    const lines = [n.name, formatCidr(n.subnet)];
    const fw = defaults.get(n.name);
    if (fw) lines.push(`attached: [fw ${sortedBy(fw, (x) => x).join(', ')}]`);
    out.push(node(nodeId.network(n.name), { shape: 'ellipse', style: 'filled', fillcolor: '"#dbeafe"', label: label(lines) }));
  }

  if (routers.length) out.push('', '  // routers');
  for (const r of routers) {
    const statics = r.routes.filter((x) => x.kind === 'static').map((x) => `route ${formatCidr(x.to)}${x.via !== undefined ? ` via ${formatAddr(x.via)}` : ''}`);
    const nat = nats.get(r.name);
    const lines = [r.name, ...listed(statics, 'routes'), ...(nat ? natLines(nat) : [])];
    out.push(node(nodeId.router(r.name), { shape: 'box', style: '"filled,diagonals"', fillcolor: '"#fde68a"', label: label(lines) }));
  }

  if (containers.length) out.push('', '  // containers');
  for (const c of containers) {
    out.push(node(nodeId.container(c.name), { shape: 'box', style: '"rounded,filled"', fillcolor: '"#e5e7eb"', label: label([c.name]) }));
  }

  if (uplinked.length) out.push('', '  // the world behind uplinks');
  for (const n of uplinked) {
    const lab = n.uplink!.lab;
    const lines = ['world', ...(lab ? [`${lab.namespace} ${formatAddr(lab.ip)} (lab)`] : [])];
    out.push(node(nodeId.uplink(n.name), { shape: 'egg', style: 'filled', fillcolor: '"#d1fae5"', label: label(lines) }));
  }

  if (routers.length) out.push('', '  // router ports');
  for (const r of routers) {
    const nat = nats.get(r.name);
    for (const p of sortedBy(r.ports, (x) => x.network)) {
      const outside = nat?.outside === p.network;
      const lines = [`${formatAddr(p.ip)}/${p.prefix}`, ...(outside ? ['NAT outside'] : [])];
      out.push(edge(nodeId.router(r.name), nodeId.network(p.network), { label: label(lines), style: outside ? 'bold' : undefined }));
    }
  }

  if (containers.length) out.push('', '  // container interfaces');
  for (const c of containers) {
    for (const i of sortedBy(c.interfaces, (x) => x.name)) {
      const key = interfaceKey(c.name, i.name);
      const fw = firewallOf.get(key);
      const lines = [`${i.name} ${formatAddr(i.ip)}${fw ? ` [fw ${fw}]` : ''}`];
      if (i.allowedSources.length) lines.push(`sends for ${i.allowedSources.map(formatCidr).join(', ')}`);
      if (counters) lines.push(counterLine(counters.interfaces.get(key)));
      out.push(edge(nodeId.container(c.name), nodeId.network(i.network), { label: label(lines) }));
    }
  }

  if (uplinked.length) out.push('', '  // uplinks');
  for (const n of uplinked) {
    const lines = [`uplink ${n.uplink!.interface}`];
    if (counters) lines.push(counterLine(counters.uplinks.get(n.name)));
    out.push(edge(nodeId.uplink(n.name), nodeId.network(n.name), { label: label(lines), style: 'dashed' }));
  }

  const attached = sortedBy(o.attachments ?? [], (a) => a.ifname);
  if (attached.length) out.push('', '  // attached at run time (vnf-ctl attach, CNI)');
  for (const a of attached) {
    out.push(node(nodeId.attachment(a.ifname), { shape: 'box', style: '"rounded,dashed"', label: label([a.ifname, ...(a.alias ? [a.alias] : [])]) }));
  }
  for (const a of attached) {
    const fw = a.options?.firewall;
    const lines = [`${formatAddr(a.ip)}${fw ? ` [fw ${fw}]` : ''}`];
    if (counters) lines.push(counterLine(counters.attached?.get(a.ifname)));
    out.push(edge(nodeId.attachment(a.ifname), nodeId.network(a.network), { label: label(lines), style: 'dashed' }));
  }

  out.push('}');
  return `${out.join('\n')}\n`;
}
