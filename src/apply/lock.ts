/**
 * Serialises concurrent applies on one topology: an exclusive lock file with
 * the holder's pid; a lock whose holder is dead is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { VNF_RUN_ROOT } from '../model/names.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class LockBusyError extends Error {
  override name = 'LockBusyError';
}

export function withLock<T>(topology: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(VNF_RUN_ROOT, { recursive: true });
  const path = join(VNF_RUN_ROOT, `${topology}.lock`);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new LockBusyError(`topology ${topology} is being changed by another vnf-ctl (lock ${path})`);
        }
        throw e;
      }
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (holder && alive(holder) && holder !== process.pid) {
        throw new LockBusyError(`topology ${topology} is being changed by vnf-ctl pid ${holder} (lock ${path})`);
      }
      rmSync(path, { force: true }); // stale: its holder is gone
    }
  }
  return fn().finally(() => rmSync(path, { force: true }));
}
