/**
 * `vnf-ctl metrics`: the dataplane's counters and occupancy in Prometheus's text format, read
 * from the kernel on every scrape (prom-client's collect callbacks), never cached between scrapes.
 * The core exports what `vnf-ctl stats` shows (per VNF and reason, per port) and each topology's
 * generation; every VNF module adds its own families (its `metrics`: firewall rule hits, route
 * counters, conntrack and NAT occupancy). Every family has the label `topology`.
 */
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { listTopologies, observe } from '../observe/kernel.js';
import { peekRecord } from '../state/store.js';
import type { Topology } from '../spec/model.js';
import { VNFS } from '../vnf/registry.js';
import type { MetricDecl, MetricSample } from '../vnf/types.js';
import { InputError } from './errors.js';
import { statsOf, statusReader } from './status.js';

/** The core's families: a topology's generation, the counters per VNF and reason, and per port. */
export const CORE_FAMILIES: readonly MetricDecl[] = [
  { name: 'vnf_topology_info', type: 'gauge', labels: ['generation'], help: 'An applied topology (1), with the generation of its last complete apply' },
  {
    name: 'vnf_vnf_packets_total', type: 'counter', labels: ['vnf', 'reason', 'verdict'],
    help: 'Packets each VNF passed or dropped, by reason (those that counted one at least)',
  },
  { name: 'vnf_vnf_bytes_total', type: 'counter', labels: ['vnf', 'reason', 'verdict'], help: 'Bytes each VNF passed or dropped, by reason' },
  {
    name: 'vnf_port_packets_total', type: 'counter', labels: ['ifname', 'direction'],
    help: 'Packets per port (direction: rx = sent by the container, tx = delivered to it)',
  },
  { name: 'vnf_port_bytes_total', type: 'counter', labels: ['ifname', 'direction'], help: 'Bytes per port (direction: rx = sent by the container, tx = delivered to it)' },
];

/** Every family: the core's, then the modules' in registry order. */
export function metricFamilies(): MetricDecl[] {
  return [...CORE_FAMILIES, ...VNFS.flatMap((v) => v.metrics?.families ?? [])];
}

/** One scrape: the samples of each family by its name, `topology` among their labels. */
export type Snapshot = Map<string, MetricSample[]>;

/** The record of a topology per kernel generation: the firewall's counters need it, and it changes only with an apply. */
type RecordCache = Map<string, { generation: bigint; topology: Topology | undefined }>;

function topologyOf(name: string, generation: bigint | undefined, cache: RecordCache): Topology | undefined {
  if (generation === undefined) return peekRecord(name)?.topology;
  const hit = cache.get(name);
  if (hit?.generation === generation) return hit.topology;
  const rec = peekRecord(name);
  // Kept only when it is the record of what the kernel holds (an apply pins its generation before it writes the record).
  if (rec?.generation !== generation.toString(16)) return undefined; // mid-apply or stale: its names would mislabel the kernel's counters
  cache.set(name, { generation, topology: rec.topology });
  return rec.topology;
}

function add(out: Snapshot, family: string, topology: string, samples: MetricSample[]): void {
  let list = out.get(family);
  if (!list) out.set(family, (list = []));
  for (const s of samples) list.push({ labels: { topology, ...s.labels }, value: s.value });
}

function readTopology(name: string, out: Snapshot, cache: RecordCache): void {
  const actual = observe(name);
  const generation = actual.meta?.generation;
  const r = statusReader(name, actual, topologyOf(name, generation, cache));
  const stats = statsOf(r);
  const part: Snapshot = new Map();
  add(part, 'vnf_topology_info', name, [{ labels: { generation: generation === undefined ? '' : generation.toString(16) }, value: 1 }]);
  const vnf = stats.vnfs.map((v) => ({ labels: { vnf: v.vnf, reason: v.reason, verdict: v.verdict }, v }));
  add(part, 'vnf_vnf_packets_total', name, vnf.map(({ labels, v }) => ({ labels, value: v.packets })));
  add(part, 'vnf_vnf_bytes_total', name, vnf.map(({ labels, v }) => ({ labels, value: v.bytes })));
  const port = stats.ports.map((p) => ({ labels: { ifname: p.ifname, direction: p.direction }, p }));
  add(part, 'vnf_port_packets_total', name, port.map(({ labels, p }) => ({ labels, value: p.packets })));
  add(part, 'vnf_port_bytes_total', name, port.map(({ labels, p }) => ({ labels, value: p.bytes })));
  for (const v of VNFS) {
    if (!v.metrics) continue;
    const samples = v.metrics.read(r);
    for (const f of v.metrics.families) add(part, f.name, name, samples[f.name] ?? []);
  }
  // Only whole topologies: one removed in the middle of its read is left out, not half shown.
  for (const [family, samples] of part) {
    const list = out.get(family);
    if (list) list.push(...samples);
    else out.set(family, samples);
  }
}

/**
 * A reader of the named topologies (all applied ones when none, also those applied later), one
 * fresh read of the kernel per call. A topology removed meanwhile is left out.
 */
export function metricsReader(names: readonly string[] = []): () => Snapshot {
  const cache: RecordCache = new Map();
  return () => {
    const out: Snapshot = new Map();
    const present = listTopologies();
    for (const name of names.length ? names.filter((n) => present.includes(n)) : present) {
      try {
        readTopology(name, out, cache);
      } catch (e) {
        if (listTopologies().includes(name)) throw e;
        cache.delete(name); // destroyed while it was read
      }
    }
    return out;
  };
}

/**
 * A prom-client registry with one metric per family, whose collect callbacks fill it from one
 * snapshot per exposition: `expose()` reads the kernel once and renders every family from it.
 */
export class DataplaneMetrics {
  readonly registry = new Registry();
  private current: Snapshot | undefined;

  constructor(private readonly read: () => Snapshot, families: readonly MetricDecl[] = metricFamilies()) {
    const samples = (name: string): MetricSample[] => (this.current ??= this.read()).get(name) ?? [];
    for (const f of families) {
      const common = { name: f.name, help: f.help, labelNames: ['topology', ...f.labels], registers: [this.registry] };
      if (f.type === 'counter') {
        new Counter({
          ...common,
          collect(this: Counter) {
            this.reset(); // series of what is gone go with it
            for (const s of samples(f.name)) this.inc(s.labels, Number(s.value));
          },
        });
      } else {
        new Gauge({
          ...common,
          collect(this: Gauge) {
            this.reset();
            for (const s of samples(f.name)) this.set(s.labels, Number(s.value));
          },
        });
      }
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition of one fresh read. */
  async expose(): Promise<string> {
    // The collect callbacks run synchronously from metrics() before it awaits anything: they all
    // see this snapshot, and a concurrent exposition cannot interleave with them.
    this.current = this.read();
    try {
      return await this.registry.metrics();
    } finally {
      this.current = undefined;
    }
  }
}

export const DEFAULT_LISTEN = '127.0.0.1:9469';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * host:port, [v6]:port, or a port alone (then on 127.0.0.1). The host is an IP address or
 * localhost; port 0 lets the kernel choose one.
 */
export function parseListen(v: string): ListenAddress {
  const bad = (why: string): InputError =>
    new InputError(`--listen ${JSON.stringify(v)}: ${why} (expected host:port, e.g. ${DEFAULT_LISTEN}, [::1]:9469 or 0.0.0.0:9469)`);
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(/^\d+$/.test(v) ? `:${v}` : v);
  if (!m) throw bad('not host:port');
  const [, v6, v4, port = ''] = m;
  const host = v6 ?? (v4 || '127.0.0.1');
  if (v6 !== undefined && isIP(host) !== 6) throw bad(`${host || 'the brackets'} is not an IPv6 address`);
  if (v6 === undefined && host !== 'localhost' && isIP(host) !== 4) throw bad(`${host} is not an IPv4 address or localhost (IPv6 in brackets)`);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw bad(`${port || 'no port'}: the port is a number from 0 to 65535`);
  return { host, port: Number(port) };
}

export interface MetricsServer {
  server: Server;
  /** http://host:port/metrics, with the port the kernel chose for port 0. */
  url: string;
  close(): Promise<void>;
}

/** Serves GET (and HEAD) /metrics, a fresh read per request; anything else is 404 (or 405 for other methods). */
export async function serveMetrics(metrics: DataplaneMetrics, at: ListenAddress): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    metrics.expose().then(
      (body) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (e: unknown) => {
        const message = e instanceof Error ? e.message : String(e);
        console.error(`vnf-ctl: scrape failed: ${message}`);
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`scrape failed: ${message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (e: NodeJS.ErrnoException): void => {
      reject(new Error(`cannot serve metrics: ${e.message}`));
    };
    server.once('error', fail);
    server.listen(at.port, at.host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const a = server.address();
  const port = a && typeof a === 'object' ? a.port : at.port;
  return {
    server,
    url: `http://${isIP(at.host) === 6 ? `[${at.host}]` : at.host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
