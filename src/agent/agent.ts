/**
 * The per-host agent: a reconciler from the store to this host's kernel. It keeps no state of its
 * own beyond what etcd and the kernel hold (the caches below only spare work):
 *   - registers hosts/<host> on a lease kept alive, and registers again when the lease is lost;
 *   - reads the prefix at one revision, computes this host's slice (src/hosts/slice.ts) and
 *     applies it with applyTopology (which diffs against the kernel), then writes applied/<host>;
 *   - watches the prefix from the read revision + 1: any change → debounce → recompute → apply;
 *   - resyncs every 2 s (containers whose interfaces appeared; a missed event): compare, apply
 *     only when the slice changed;
 *   - the store unreachable: the dataplane stays as it is, retries with backoff (≤ 2 s), and
 *     re-reads everything when it answers again. Only a stored topology that is gone (read
 *     successfully) removes the local one.
 */
import type { Lease, Watcher } from 'etcd3';
import type { Store } from '../store/client.js';
import { StoreUnreachableError } from '../store/client.js';
import { readSnapshot, type Snapshot } from '../store/snapshot.js';
import { decodeValue, encodeValue, hostValue, type AppliedValue, type HostValue } from '../store/values.js';
import { parseTopology, SpecError } from '../spec/index.js';
import { parseAddr } from '../spec/ipv4.js';
import type { Topology } from '../spec/model.js';
import { sliceFor } from '../hosts/slice.js';
import { spansHosts } from '../spec/hosts.js';
import { applyTopology, destroyTopology } from '../ops/topology.js';
import { generationOf } from '../vnf/core/module.js';
import { ensureVxlan } from './device.js';
import { containerReady, localSlices } from './local.js';
import type { Underlay } from './underlay.js';
import type { Log } from './log.js';

export const DEBOUNCE_MS = 50;
export const RESYNC_MS = 2000;
export const MAX_BACKOFF_MS = 2000;

export interface AgentOptions {
  store: Store;
  host: string;
  underlay: Underlay;
  /** Whether --underlay named the interface (then the device is bound to it). */
  bindDevice: boolean;
  device: string;
  ttl: number;
  version: string;
  log: Log;
}

const addrOf = (s: string): number => {
  const p = parseAddr(s);
  if (!p.ok) throw new Error(p.error);
  return p.value;
};

/** Another host holds this agent's host name (another underlay address, on a live lease). */
export class HostNameTakenError extends Error {
  override name = 'HostNameTakenError';
}

export class Agent {
  private lease: Lease | undefined;
  private watcher: Watcher | undefined;
  private watching = false;
  private timer: NodeJS.Timeout | undefined;
  private due = 0;
  private resync: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private failures = 0;
  private unreachable = false;
  /** The slice last applied without error (JSON), and the applied value last written. */
  private lastSlice: string | undefined;
  private lastApplied: string | undefined;
  private lastProblem: string | undefined;
  private readonly startedAt = new Date().toISOString();
  /** The stored topology last parsed (a cache: the store holds the text). */
  private parsed: { revision: number; source: string; result: ReturnType<typeof parseTopology> } | undefined;

  constructor(private readonly o: AgentOptions) {}

  start(): void {
    this.resync = setInterval(() => this.schedule(0), RESYNC_MS);
    this.schedule(0);
  }

  /** Stops watching and reconciling; the dataplane keeps forwarding and the lease is left to expire (not revoked). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.resync);
    await this.running;
    this.lease?.release();
    await this.watcher?.cancel().catch(() => undefined);
    this.o.store.close();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    const due = Date.now() + ms;
    if (this.timer && this.due <= due) return;
    clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, ms);
  }

  private kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.cycle().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.schedule(0);
      }
    });
  }

  private async cycle(): Promise<void> {
    try {
      await this.reconcile();
      this.failures = 0;
      if (this.unreachable) {
        this.unreachable = false;
        this.o.log('store reachable again: caught up');
      }
    } catch (e) {
      if (this.stopped) return;
      if (e instanceof StoreUnreachableError) {
        if (!this.unreachable) this.o.log(`store unreachable — retrying (${e.message}); the dataplane keeps its last state`);
        this.unreachable = true;
      } else {
        this.problem(`error: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.failures++;
      this.schedule(Math.min(MAX_BACKOFF_MS, 100 * 2 ** this.failures));
    }
  }

  /** Logs a problem once (not again every resync while it lasts). */
  private problem(line: string): void {
    if (line !== this.lastProblem) this.o.log(line);
    this.lastProblem = line;
  }

  private async register(): Promise<void> {
    const { store, ttl } = this.o;
    this.lease?.release();
    this.lease = undefined;
    const lease = store.client.lease(ttl, { autoKeepAlive: true });
    lease.on('lost', () => {
      if (this.lease !== lease || this.stopped) return;
      this.lease = undefined;
      this.o.log('lease lost — registering again');
      this.schedule(0);
    });
    try {
      const id = await store.call(() => lease.grant());
      const value: HostValue = { underlay: this.o.underlay.address, version: this.o.version, startedAt: this.startedAt };
      await this.claim(id, encodeValue(value));
      this.lease = lease;
      this.lastApplied = undefined; // applied/<host> was on the old lease
      this.o.log(`registered (underlay ${this.o.underlay.address} on ${this.o.underlay.ifname}, lease ${id}, ttl ${ttl} s)`);
    } catch (e) {
      lease.release();
      throw e;
    }
  }

  /**
   * Puts hosts/<host> on lease `id` only if no other host holds the name: the key is absent, or
   * it names this very underlay address (this host's previous agent, its lease not yet expired).
   * Another address keeps the name until its lease expires; until then this agent only retries.
   */
  private async claim(id: string, value: string): Promise<void> {
    const { store, host } = this.o;
    const key = store.keys.host(host);
    const fresh = await store.call((c) => c.if(key, 'Create', '==', 0).then(c.put(key).value(value).lease(id)).commit());
    if (fresh.succeeded) return;
    const r = await store.call((c) => c.get(key).exec());
    const kv = r.kvs[0];
    if (!kv) throw new HostNameTakenError(`host name ${host} was released while registering: trying again`);
    const held = decodeValue(hostValue, key, kv.value.toString());
    if (held.ok && held.value.underlay !== this.o.underlay.address) {
      throw new HostNameTakenError(`host name ${host} is already registered by underlay ${held.value.underlay} (lease ${kv.lease}): ` +
        `not taking it over; retrying until that lease expires`);
    }
    // This host's own earlier registration (or an unreadable value): replace it, unless it changed meanwhile.
    const own = await store.call((c) => c.if(key, 'Mod', '==', kv.mod_revision).then(c.put(key).value(value).lease(id)).commit());
    if (!own.succeeded) throw new HostNameTakenError(`host name ${host} changed while registering: trying again`);
  }

  private watch(revision: number): void {
    if (this.watching) return;
    this.watching = true;
    const { store } = this.o;
    store.client.watch().prefix(store.keys.prefix).startRevision(String(revision + 1)).create().then((w) => {
      if (this.stopped) return void w.cancel();
      this.watcher = w;
      w.on('put', () => this.schedule(DEBOUNCE_MS));
      w.on('delete', () => this.schedule(DEBOUNCE_MS));
      // Reconnected after an outage: re-read everything (events may have been compacted away).
      w.on('connected', () => this.schedule(0));
      w.on('error', (e) => this.problem(`watch error: ${e.message}`));
    }, () => {
      this.watching = false; // the next cycle tries again
    });
  }

  private async reconcile(): Promise<void> {
    let snap = await readSnapshot(this.o.store);
    const shadowed = snap.shadowed.get(this.o.host);
    if (shadowed?.underlay === this.o.underlay.address && this.lease) {
      this.problem(`this host's underlay ${shadowed.underlay} is registered by an earlier host too: the other hosts leave this one out until that is resolved`);
    }
    const held = (snap.hosts.get(this.o.host) ?? shadowed)?.underlay;
    if (!this.lease || held !== this.o.underlay.address) {
      if (held !== undefined && held !== this.o.underlay.address) {
        // Checked again atomically in claim(); this spares a lease per retry.
        throw new HostNameTakenError(`host name ${this.o.host} is already registered by underlay ${held}: not taking it over; retrying until that lease expires`);
      }
      await this.register();
      snap = await readSnapshot(this.o.store);
    }
    this.watch(snap.revision);
    if (this.stopped) return;
    await this.converge(snap);
  }

  private async converge(snap: Snapshot): Promise<void> {
    const { host } = this.o;
    if (!snap.topology) {
      if (snap.problems.some((p) => p.startsWith(this.o.store.keys.topology))) {
        return this.report(0, null, `the stored topology is not usable: ${snap.problems.join('; ')}`);
      }
      for (const name of localSlices(host)) {
        await destroyTopology(name);
        this.o.log(`topology ${name} is gone from the store: destroyed here`);
      }
      this.lastSlice = undefined;
      return this.report(0, null, null);
    }
    const rev = snap.topology.revision;
    // Parsed once per stored revision, not on every resync (a large file costs about a second).
    if (this.parsed?.revision !== rev || this.parsed.source !== snap.topology.source) {
      this.parsed = { revision: rev, source: snap.topology.source, result: parseTopology(snap.topology.source, snap.topology.file) };
    }
    const parsed = this.parsed.result;
    if (!parsed.ok) return this.report(rev, null, `the stored topology does not validate: ${new SpecError(parsed.issues, snap.topology.file).message}`);
    const t: Topology = parsed.topology;
    if (!spansHosts(t)) return this.report(rev, null, `the stored topology ${t.name} names no host`);
    const hosts = new Map([...snap.hosts].map(([name, v]) => [name, addrOf(v.underlay)]));
    const slice = sliceFor({
      topology: t, host, hosts, device: this.o.device, local: addrOf(this.o.underlay.address), underlayMtu: this.o.underlay.mtu,
      ready: (c) => containerReady(t, c),
    });
    ensureVxlan(this.o.device, slice.ext.overlay!.mtu, this.o.bindDevice ? this.o.underlay.ifname : undefined);
    const key = JSON.stringify(slice);
    const generation = generationOf(slice).toString(16);
    if (key === this.lastSlice) return this.report(rev, generation, null);
    for (const name of localSlices(host)) {
      if (name === t.name) continue;
      await destroyTopology(name);
      this.o.log(`topology ${name} was replaced by ${t.name} in the store: destroyed here`);
    }
    const started = performance.now();
    try {
      const r = await applyTopology(slice, { file: snap.topology.file });
      this.lastSlice = key;
      this.lastProblem = undefined;
      const local = slice.containers.length;
      const waiting = t.containers.filter((c) => c.host === host).length - local;
      this.o.log(`applied revision ${rev} (${r.applied} changes, ${Math.round(performance.now() - started)} ms; ` +
        `${local} local container${local === 1 ? '' : 's'}${waiting ? `, ${waiting} waiting for their interfaces` : ''}, ${slice.ext.overlay!.hosts.length} other live hosts)`);
      await this.report(rev, generation, null);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.problem(`apply of revision ${rev} failed: ${msg}`);
      await this.report(rev, null, msg);
    }
  }

  /** Writes applied/<host> (on the lease) when it says something new. */
  private async report(revision: number, generation: string | null, error: string | null): Promise<void> {
    if (error) this.problem(`revision ${revision}: ${error}`);
    const { store, host } = this.o;
    const lease = this.lease;
    if (!lease) return;
    const same = JSON.stringify({ revision, generation, error });
    if (same === this.lastApplied) return;
    const value: AppliedValue = { revision, generation, at: new Date().toISOString(), error };
    await store.call(() => lease.put(store.keys.appliedBy(host)).value(encodeValue(value)).exec());
    this.lastApplied = same;
  }
}
