/**
 * vnf's own folders (/sys/fs/bpf/vnf/..., /run/vnf/...): created 0700 and checked before use.
 * A folder someone else created (another owner, or a symlink) is refused: whoever owns the pin
 * tree could swap vnf's maps and programs under it. A folder vnf owns with a wider mode (made by
 * an older vnf) is narrowed to 0700.
 */
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { VNF_PIN_ROOT, VNF_RUN_ROOT } from '../model/names.js';

export class UnsafePathError extends Error {
  override name = 'UnsafePathError';
}

const ROOTS = [VNF_PIN_ROOT, VNF_RUN_ROOT];

function check(path: string): void {
  const st = lstatSync(path);
  const euid = process.geteuid?.() ?? 0;
  if (st.isSymbolicLink()) {
    throw new UnsafePathError(`${path} is a symbolic link; vnf keeps its state only in folders it created. Remove it (after checking who made it) and run again.`);
  }
  if (!st.isDirectory()) throw new UnsafePathError(`${path} is not a folder; remove it (after checking what it is) and run again.`);
  if (st.uid !== euid) {
    throw new UnsafePathError(`${path} is owned by uid ${st.uid}, not by uid ${euid} who runs vnf: someone else created it and could replace what vnf pins there. ` +
      `Check it, remove it (rm -r ${path}) and run again.`);
  }
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o700);
}

/** Makes sure `path` (under one of vnf's roots) and the folders between it and the root exist, 0700, owned by us. */
export function ensurePrivateDir(path: string): void {
  const root = ROOTS.find((r) => path === r || path.startsWith(`${r}/`));
  if (!root) throw new UnsafePathError(`internal: ${path} is not under vnf's roots`);
  const chain: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    chain.unshift(p);
    if (p === root) break;
  }
  for (const p of chain) {
    try {
      mkdirSync(p, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    check(p);
  }
}

/** Checks a folder that should already be vnf's, without creating it; false when it does not exist. */
export function checkPrivateDir(path: string): boolean {
  try {
    lstatSync(path);
  } catch {
    return false;
  }
  check(path);
  return true;
}
