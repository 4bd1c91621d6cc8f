/**
 * A running monitor: consumes the topology's vnf_events ring buffer (the binding's worker thread;
 * the event loop never waits), asks the dataplane for the event types it shows by writing their
 * heartbeat into vnf_mon_cfg every second (the programs stop sending a type whose heartbeat is
 * older than VNF_MON_TTL_MS, so a monitor killed with SIGKILL leaves no cost behind), and reads
 * what was lost from the per-CPU vnf_mon_state. stop() clears its heartbeats and closes the
 * consumer: the process may then exit.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { u32 } from '../codec/struct.js';
import { native, type NativeRingBuffer } from '../native/binding.js';
import { pinDir } from '../model/names.js';
import { observe } from '../observe/kernel.js';
import { InputError } from '../ops/errors.js';
import { VNF_MAP_EVENTS, VNF_MAP_MON_CFG, VNF_MAP_MON_STATE } from '../abi/monitor.js';
import { monCfgCodec, monStateCodec, type MonState } from './codec.js';
import { decodeEvent, TYPE_IDS, type EventNames, type MonitorEvent } from './event.js';
import { matches, type MonitorFilter } from './filter.js';
import { eventNames } from './names.js';

export const HEARTBEAT_MS = 1000;

export interface LostCounts {
  /** Events that reached this monitor, and those of them its filters showed. */
  received: number;
  shown: number;
  /** Since this monitor started, over all CPUs (the dataplane's counters: every listener's together). */
  emitted: number;
  lostRate: number;
  lostFull: number;
  /** Heartbeats the dataplane found stale and cleared (monitors that went away without stopping). */
  expired: number;
}

export interface MonitorOptions {
  topology: string;
  filter: MonitorFilter;
  /** Events per second per CPU the dataplane may send (token bucket); the kernel's default when absent. */
  rate?: number;
  onEvent(e: MonitorEvent): void;
  /** The consumer failed: nothing more comes. */
  onError(e: Error): void;
}

type Totals = Pick<MonState, 'emitted' | 'lost_full' | 'lost_rate' | 'expired'>;

/** The dataplane's monitor state summed over CPUs. */
/** The per-CPU monitor state summed over CPUs (the map holds one slot). */
export function sumMonitorState(m: BpfMap): Totals {
  const t: Totals = { emitted: 0n, lost_full: 0n, lost_rate: 0n, expired: 0n };
  const v = m.lookup(u32(0));
  for (const slot of v ? m.splitPerCpu(v) : []) {
    const s = monStateCodec.decode(slot);
    t.emitted += s.emitted;
    t.lost_full += s.lost_full;
    t.lost_rate += s.lost_rate;
    t.expired += s.expired;
  }
  return t;
}

export function readMonitorState(topology: string): Totals {
  const m = BpfMap.openPinned(join(pinDir(topology), VNF_MAP_MON_STATE));
  try {
    return sumMonitorState(m);
  } finally {
    m.close();
  }
}

/** The heartbeats in vnf_mon_cfg, per type (0: nobody listens). */
export function readHeartbeats(topology: string): bigint[] {
  const m = BpfMap.openPinned(join(pinDir(topology), VNF_MAP_MON_CFG));
  try {
    const v = m.lookup(u32(0));
    return v ? monCfgCodec.decode(v).heartbeat_ns : [0n, 0n, 0n];
  } finally {
    m.close();
  }
}

export class MonitorSession {
  private readonly cfg: BpfMap;
  private readonly rb: NativeRingBuffer;
  private readonly timer: NodeJS.Timeout;
  private readonly base: Totals;
  private received = 0;
  private shown = 0;
  private stopped = false;
  /** Names of ports, firewalls and rules, rebuilt when an apply (or attach) changes the topology. */
  private names: EventNames;
  private generation: bigint | undefined;

  private constructor(private readonly o: MonitorOptions) {
    const dir = pinDir(o.topology);
    for (const m of [VNF_MAP_EVENTS, VNF_MAP_MON_CFG, VNF_MAP_MON_STATE]) {
      if (!existsSync(join(dir, m))) {
        throw new InputError(`topology ${o.topology} has no ${m} map: it was applied by a vnf without the monitor; apply it again (the next apply adds the maps)`);
      }
    }
    const actual = observe(o.topology);
    this.names = eventNames(o.topology, actual);
    this.generation = actual.meta?.generation;
    this.base = readMonitorState(o.topology);
    this.cfg = BpfMap.openPinned(join(dir, VNF_MAP_MON_CFG));
    try {
      this.rb = native.openRingBuffer(join(dir, VNF_MAP_EVENTS), (err, records) => {
        if (err) return o.onError(err);
        for (const r of records ?? []) {
          if (this.stopped) return; // closed: batches already queued are not shown
          const e = decodeEvent(r, this.names);
          if (!e) continue;
          this.received++;
          if (!matches(o.filter, e)) continue;
          this.shown++;
          o.onEvent(e);
          if (this.stopped) return; // onEvent may stop the monitor (--count)
        }
      });
    } catch (e) {
      this.cfg.close();
      throw e;
    }
    this.beat();
    this.timer = setInterval(() => this.beat(), HEARTBEAT_MS);
  }

  static start(o: MonitorOptions): MonitorSession {
    return new MonitorSession(o);
  }

  /** Writes this monitor's heartbeats (now, or 0 to leave), keeping the other types' as they are. */
  private writeHeartbeats(now: bigint): void {
    const v = this.cfg.lookup(u32(0));
    const c = v ? monCfgCodec.decode(v) : { heartbeat_ns: [0n, 0n, 0n], rate: 0, burst: 0 };
    for (const t of this.o.filter.types) c.heartbeat_ns[TYPE_IDS[t]] = now;
    if (this.o.rate !== undefined && now !== 0n) {
      c.rate = this.o.rate;
      c.burst = 0;
    }
    // Leaving: a rate this monitor set does not outlive it (0 = the dataplane's default).
    if (now === 0n && this.o.rate !== undefined && c.rate === this.o.rate) {
      c.rate = 0;
      c.burst = 0;
    }
    this.cfg.update(u32(0), monCfgCodec.encode(c));
  }

  private beat(): void {
    try {
      this.writeHeartbeats(process.hrtime.bigint()); // CLOCK_MONOTONIC, as bpf_ktime_get_ns()
      const actual = observe(this.o.topology);
      const g = actual.meta?.generation;
      if (g !== this.generation) {
        this.names = eventNames(this.o.topology, actual);
        this.generation = g;
      }
    } catch (e) {
      this.o.onError(e as Error);
    }
  }

  lost(): LostCounts {
    const now = readMonitorState(this.o.topology);
    return {
      received: this.received,
      shown: this.shown,
      emitted: Number(now.emitted - this.base.emitted),
      lostRate: Number(now.lost_rate - this.base.lost_rate),
      lostFull: Number(now.lost_full - this.base.lost_full),
      expired: Number(now.expired - this.base.expired),
    };
  }

  /** Stops asking for events and closes the consumer; idempotent. Returns the final counts. */
  stop(): LostCounts {
    if (!this.stopped) {
      this.stopped = true;
      clearInterval(this.timer);
      try {
        this.writeHeartbeats(0n);
      } finally {
        this.rb.close();
        this.cfg.close();
      }
    }
    return this.lost();
  }
}
