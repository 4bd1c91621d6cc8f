/**
 * Serialises changes to one topology: flock(2) on /run/vnf/<name>.lock. The kernel releases the
 * lock when its holder's descriptor closes — also when the holder is killed — so there is no
 * stale lock to detect and no window in which two takers can both win. The lock file is never
 * removed (removing it while another process waits on it would let a third one lock a new file).
 * Who holds it is written into the file, only for the message of whoever waits.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { native } from '../native/binding.js';
import { lockPath, VNF_RUN_ROOT } from '../model/names.js';
import { ensurePrivateDir } from '../state/dirs.js';

export interface LockOptions {
  /** Called once when the lock is held by someone else, with who it is. */
  onWait?: (holder: string) => void;
  /** Give up after this many milliseconds (default: wait as long as it takes). */
  timeoutMs?: number;
}

export class LockBusyError extends Error {
  override name = 'LockBusyError';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function holderOf(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim() || 'another vnf-ctl';
  } catch {
    return 'another vnf-ctl';
  }
}

export async function withLock<T>(topology: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  ensurePrivateDir(VNF_RUN_ROOT);
  const path = lockPath(topology);
  const fd = openSync(path, 'a+', 0o600);
  try {
    const start = Date.now();
    let told = false;
    while (!native.flock(fd, true)) {
      const holder = holderOf(path);
      if (opts.timeoutMs !== undefined && Date.now() - start >= opts.timeoutMs) {
        throw new LockBusyError(`topology ${topology} is being changed by ${holder} (lock ${path})`);
      }
      if (!told) {
        opts.onWait?.(holder);
        told = true;
      }
      await sleep(50);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `vnf-ctl pid ${process.pid} (${process.argv.slice(2).join(' ')})\n`, 0);
    return await fn();
  } finally {
    closeSync(fd); // releases the lock
  }
}
