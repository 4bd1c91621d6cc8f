/**
 * Traffic through a path: TCP throughput (iperf3), request/response latency (the bench's own
 * TCP ping-pong, build/bench/pingpong) and the 64-byte UDP packet rate (trafgen, counting what
 * arrives at the server's interface).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/native/binding.js';
import type { Cleanup } from './cleanup.js';
import { counters } from './net.js';
import { PORT, type Path } from './paths.js';
import { background, inNs, now, run, sleep, type Background } from './sys.js';

const PINGPONG = (): string => join(projectRoot(), 'build', 'bench', 'pingpong');

/** iperf3 and ping-pong servers in the path's server namespace, stopped by the cleanup. */
export async function startServers(p: Path, cleanup: Cleanup, dir: string): Promise<void> {
  const tag = p.server.ns.replace(/[^a-z0-9.]/gi, '_');
  const servers = [
    background(inNs(p.server.ns, ['iperf3', '-s', '-p', String(PORT.iperf)]), cleanup, dir, `${tag}.iperf3`),
    background(inNs(p.server.ns, [PINGPONG(), 'server', String(PORT.pingpong)]), cleanup, dir, `${tag}.pingpong`),
  ];
  // Both listen within milliseconds; wait until they do (or died).
  for (let i = 0; i < 50; i++) {
    const ss = run(inNs(p.server.ns, ['ss', '-Hltn']), { check: false }).stdout;
    if (ss.includes(`:${PORT.iperf} `) && ss.includes(`:${PORT.pingpong} `)) return;
    for (const s of servers) if (!s.running) throw new Error(`${p.kind}: ${s.argv.slice(4).join(' ')} exited: ${s.output().trim().slice(-300)}`);
    await sleep(100);
  }
  throw new Error(`${p.kind}: servers did not start listening in ${p.server.ns}`);
}

/** TCP throughput from client to server in Gbit/s (receiver side). */
export function tcpThroughput(p: Path, streams: number, seconds: number): number {
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = run(inNs(p.client.ns, ['iperf3', '-c', p.server.ip, '-p', String(PORT.iperf), '-t', String(seconds), '-P', String(streams), '-J']), {
      check: false, timeoutMs: (seconds + 20) * 1000,
    });
    try {
      const j = JSON.parse(r.stdout) as { error?: string; end?: { sum_received?: { bits_per_second: number } } };
      if (j.error) last = j.error;
      else if (j.end?.sum_received) return j.end.sum_received.bits_per_second / 1e9;
    } catch {
      last = (r.stderr || r.stdout).trim().slice(-200);
    }
    // "the server is busy running a test": the previous test's teardown; try again.
    run(['sleep', '0.3']);
  }
  throw new Error(`${p.kind}: iperf3 -P ${streams} failed: ${last}`);
}

export interface Latency {
  n: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  min_us: number;
  max_us: number;
  mean_us: number;
}

/** Round trips of 64-byte messages over one TCP connection. */
export function tcpLatency(p: Path, n: number): Latency {
  const r = run(inNs(p.client.ns, [PINGPONG(), 'client', p.server.ip, String(PORT.pingpong), String(n), '64']), { timeoutMs: 120_000 });
  return JSON.parse(r.stdout.trim()) as Latency;
}

export interface UdpRate {
  /** Packets per second that arrived at the server's interface. */
  rxPps: number;
  /** Packets per second the client's interface sent. */
  txPps: number;
  /**
   * CPU time spent per arrived packet, in ns: trafgen's processes (sending, and the whole
   * receive path, which the kernel runs in the sender's context as softirq on the same CPU)
   * plus the ksoftirqd threads (receive work the kernel deferred). Unlike the rate, this does
   * not drop when other work on the machine takes the CPU away.
   */
  cpuNsPerPacket: number;
}

const TICK_NS = 1e9 / 100; // USER_HZ: /proc/<pid>/stat counts clock ticks of 10 ms

/** utime + stime (ticks) of a process, or 0 when it is gone. */
function procTicks(pid: number): { pgrp: number; ticks: number } | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return { pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

let ksoftirqds: number[] | undefined;
function ksoftirqdPids(): number[] {
  if (!ksoftirqds) {
    ksoftirqds = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('ksoftirqd/');
      } catch {
        return false;
      }
    });
  }
  return ksoftirqds;
}

/** CPU ticks of a process group (all its processes) plus the ksoftirqd threads. */
function groupTicks(pgid: number): number {
  let t = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const p = procTicks(Number(d));
    if (p && p.pgrp === pgid) t += p.ticks;
  }
  for (const pid of ksoftirqdPids()) t += procTicks(pid)?.ticks ?? 0;
  return t;
}

export type Flows = 'one' | 'new';

/**
 * trafgen's packet description: 64-byte frames (60 + FCS) of UDP from the client to the server.
 * 'one': a single 5-tuple; 'new': source port counting up and destination port random in
 * 10000–59999, so (nearly) every packet starts a new flow (every packet classified by a firewall).
 */
export function trafgenConfig(p: Path, flows: Flows): string {
  const udp = flows === 'one' ? `udp(sp=40000, dp=${PORT.udp})` : 'udp(sp=dinc(1024, 65535), dp=drnd(10000, 59999))';
  return `{ eth(da=${p.dstMac}, sa=${p.client.mac}), ipv4(saddr=${p.client.ip}, daddr=${p.server.ip}, ttl=64), ${udp}, fill(0x00, 18) }\n`;
}

export interface UdpOptions {
  seconds: number;
  warmup: number;
  flows: Flows;
  dir: string;
  cleanup: Cleanup;
}

/**
 * The UDP packet rate through a path: trafgen on one CPU (-P 1, its AF_PACKET TX ring), counting
 * the server interface's received packets over a window after a warm-up. trafgen is stopped
 * (its process group) before this returns.
 */
export async function udpRate(p: Path, o: UdpOptions): Promise<UdpRate> {
  const cfg = join(o.dir, `${p.kind}-${o.flows}.trafgen`);
  writeFileSync(cfg, trafgenConfig(p, o.flows));
  const cl = o.cleanup.child(`trafgen ${p.kind}`);
  try {
    const tg: Background = background(inNs(p.client.ns, ['trafgen', '-o', p.client.ifname, '-i', cfg, '-P', '1', '--no-sock-mem']), cl, o.dir, `trafgen-${p.kind}`);
    await sleep(o.warmup * 1000);
    if (!tg.running) throw new Error(`${p.kind}: trafgen exited: ${tg.output().trim().slice(-400)}`);
    const r0 = counters(p.server.ns, p.server.ifname);
    const s0 = counters(p.client.ns, p.client.ifname);
    const c0 = groupTicks(tg.pid);
    const t0 = now();
    await sleep(o.seconds * 1000);
    const r1 = counters(p.server.ns, p.server.ifname);
    const s1 = counters(p.client.ns, p.client.ifname);
    const c1 = groupTicks(tg.pid);
    const dt = now() - t0;
    if (!tg.running) throw new Error(`${p.kind}: trafgen exited: ${tg.output().trim().slice(-400)}`);
    await tg.stop('SIGINT', 2000);
    const rx = r1.rxPackets - r0.rxPackets;
    return { rxPps: rx / dt, txPps: (s1.txPackets - s0.txPackets) / dt, cpuNsPerPacket: rx > 0 ? ((c1 - c0) * TICK_NS) / rx : NaN };
  } finally {
    await cl.close();
  }
}

/**
 * A paced flow of `count` packets at `pps` (trafgen's slow path: sendto with a gap), started in
 * the background; returns a function that waits for it to finish.
 */
export function pacedFlow(p: Path, pps: number, count: number, dir: string, cleanup: Cleanup): { done: () => Promise<void> } {
  const cfg = join(dir, `${p.kind}-paced.trafgen`);
  writeFileSync(cfg, trafgenConfig(p, 'one'));
  const tg = background(inNs(p.client.ns, ['trafgen', '-o', p.client.ifname, '-i', cfg, '-P', '1', '--no-sock-mem', '-b', `${pps}pps`, '-n', String(count)]), cleanup, dir, `paced-${p.kind}`);
  return {
    done: async () => {
      const code = await tg.exited;
      if (code !== 0) throw new Error(`${p.kind}: paced trafgen exited ${code}: ${tg.output().trim().slice(-300)}`);
    },
  };
}
