/** Small helpers for benchmarks: scratch ports, statistics, cleanup. */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { native } from '../src/native/binding.js';

export const sh = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });

export class Scratch {
  private undo: Array<() => void> = [];
  readonly ns = `vnfb${randomBytes(3).toString('hex')}`;

  constructor() {
    sh('ip', 'netns', 'add', this.ns);
    this.undo.push(() => spawnSync('ip', ['netns', 'del', this.ns]));
  }

  /** A veth pair: host end here, other end in the scratch namespace. */
  port(): { name: string; ifindex: number } {
    const name = `vnfb${randomBytes(3).toString('hex')}`;
    sh('ip', 'link', 'add', name, 'type', 'veth', 'peer', 'name', `p${name}`, 'netns', this.ns);
    sh('ip', 'link', 'set', name, 'up');
    this.undo.push(() => spawnSync('ip', ['link', 'del', name]));
    return { name, ifindex: native.ifindex(name) };
  }

  defer(f: () => void): void {
    this.undo.push(f);
  }

  close(): void {
    for (const f of this.undo.reverse()) {
      try {
        f();
      } catch {
        /* best effort */
      }
    }
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
