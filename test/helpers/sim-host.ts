/**
 * A simulated host for agent tests: its own network namespace (with an underlay veth to a
 * "store" namespace that runs etcd), and its own mount namespace (its own bpffs and /run/vnf)
 * held by a sleeping process, so the dataplane outlives an agent that is killed. Agents run
 * inside both with nsenter. Everything is removed at teardown, even on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { createNetns, createVeth, randomName } from './netns.js';
import { ROOT } from './paths.js';
import { sh } from './sh.js';

export interface SimHost {
  netns: string;
  /** The underlay interface in the host's namespace and its address. */
  underlay: { ifname: string; ip: string };
  /** Runs a command in the host's network and mount namespaces. */
  argv(cmd: string[]): string[];
  /** Starts vnf-agent here; its stderr is collected in `log()`. */
  agent(args: string[]): Agent;
}

export interface Agent {
  proc: ChildProcess;
  log(): string;
  /** Resolves with the exit code (or the signal) when it exits. */
  exited: Promise<number | string>;
  /** Resolves when its log matches `re` (rejects after timeoutMs). */
  waitLog(re: RegExp, timeoutMs?: number): Promise<void>;
}

const exitedOf = (p: ChildProcess): Promise<number | string> => new Promise((r) => {
  if (p.exitCode !== null) return r(p.exitCode);
  if (p.signalCode !== null) return r(p.signalCode);
  p.once('exit', (code, sig) => r(code ?? sig ?? -1));
});

/** The underlay: a Linux bridge in the store's namespace (standing in for the physical network). */
export const UNDERLAY_BRIDGE = 'ulbr0';
export const STORE_IP = '192.0.2.254';

/** The namespace that holds etcd (the store, at STORE_IP) and the underlay bridge every host is plugged into. */
export function createStoreNetns(t: Test): string {
  const ns = createNetns(t, 'vq');
  sh('ip', ['-n', ns, 'link', 'add', UNDERLAY_BRIDGE, 'type', 'bridge']);
  sh('ip', ['-n', ns, 'addr', 'add', `${STORE_IP}/24`, 'dev', UNDERLAY_BRIDGE]);
  sh('ip', ['-n', ns, 'link', 'set', UNDERLAY_BRIDGE, 'up']);
  return ns;
}

/** A host on the underlay 192.0.2.0/24 (index 1..250), plugged into the store namespace's bridge. */
export async function createSimHost(t: Test, storeNs: string, index: number): Promise<SimHost> {
  const netns = createNetns(t, 'vh');
  const ip = `192.0.2.${index}`;
  const far = randomName('vu');
  createVeth(t, { name: 'ul0', ns: netns, ip: `${ip}/24` }, { name: far, ns: storeNs });
  sh('ip', ['-n', storeNs, 'link', 'set', far, 'master', UNDERLAY_BRIDGE]);
  const holder = spawn('ip', ['netns', 'exec', netns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
    'mount -t bpf bpf /sys/fs/bpf && mkdir -p /run/vnf && mount -t tmpfs -o mode=0700 tmpfs /run/vnf && echo ready && exec sleep infinity'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  const agents: ChildProcess[] = [];
  t.teardown(async () => {
    for (const a of agents) if (a.exitCode === null && a.signalCode === null) {
      a.kill('SIGKILL');
      await exitedOf(a);
    }
    holder.kill('SIGKILL');
    await exitedOf(holder);
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    holder.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', () => reject(new Error(`the host's mount namespace did not start: ${err}`)));
  });
  const argv = (cmd: string[]): string[] => ['nsenter', `--target=${holder.pid}`, '--mount', '--net', ...cmd];
  return {
    netns,
    underlay: { ifname: 'ul0', ip },
    argv,
    agent(args: string[]): Agent {
      const [cmd, ...rest] = argv([process.execPath, join(ROOT, 'dist', 'vnf-agent.js'), ...args]);
      const proc = spawn(cmd!, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
      agents.push(proc);
      let text = '';
      const waiters: Array<() => void> = [];
      proc.stderr!.on('data', (d: Buffer) => {
        text += d.toString();
        for (const w of [...waiters]) w();
      });
      const exited = exitedOf(proc);
      return {
        proc,
        log: () => text,
        exited,
        waitLog: (re, timeoutMs = 20_000) => new Promise<void>((resolve, reject) => {
          const check = (): void => {
            if (re.test(text)) {
              clearTimeout(timer);
              waiters.splice(waiters.indexOf(check), 1);
              resolve();
            }
          };
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(check), 1);
            reject(new Error(`agent log never matched ${re} in ${timeoutMs} ms:\n${text}`));
          }, timeoutMs);
          waiters.push(check);
          check();
        }),
      };
    },
  };
}
