/**
 * The control plane's record of a topology: the last applied (normalized) topology, the file it
 * came from and whether it is a lab. Kept in /run/vnf/<name>/ (tmpfs, gone at reboot like bpffs).
 * It is a cache, not the truth: attachments are read back from the kernel, a lost record is
 * rebuilt by the next apply, and a record is trusted only when it names the generation pinned in
 * vnf_meta by the last complete apply (otherwise attach/detach would silently roll an apply back).
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '../spec/model.js';
import { stateDir } from '../model/names.js';
import { generationOf } from '../vnf/core/module.js';
import { checkPrivateDir, ensurePrivateDir } from './dirs.js';

export interface TopologyRecord {
  topology: Topology;
  file?: string;
  /** Lab topologies own their namespaces (lab down removes them). */
  lab?: boolean;
  appliedAt: string;
  /** vnf_meta.generation of the apply that wrote this record, hex. */
  generation: string;
}

export class RecordError extends Error {
  override name = 'RecordError';
}

const recordPath = (name: string): string => join(stateDir(name), 'state.json');

/**
 * Whether a parsed record is one this vnf wrote for `name`: the right shape, and a topology that
 * hashes to the generation written beside it (writeRecord stores generationOf(topology)). A record
 * damaged inside its topology would otherwise reach get, lab exec and attach as a broken model.
 */
function wellFormed(name: string, r: Partial<TopologyRecord> | null): r is TopologyRecord {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return false;
  const t = r.topology as Partial<Topology> | null | undefined;
  if (typeof t !== 'object' || t === null || Array.isArray(t) || t.name !== name || typeof r.generation !== 'string') return false;
  return generationOf(t as Topology).toString(16) === r.generation;
}

/** The record, undefined when there is none; RecordError (with the way out) when it is unreadable. */
export function readRecord(name: string): TopologyRecord | undefined {
  const p = recordPath(name);
  if (!checkPrivateDir(stateDir(name)) || !existsSync(p)) return undefined;
  let rec: unknown;
  try {
    rec = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new RecordError(`the record of topology ${name} (${p}) is corrupt (${(e as Error).message}). ` +
      `Run \`vnf-ctl apply -f FILE\` to rebuild it from the file and the kernel, or \`vnf-ctl destroy ${name}\`.`);
  }
  const r = rec as Partial<TopologyRecord>;
  if (!wellFormed(name, r)) {
    throw new RecordError(`the record of topology ${name} (${p}) is not one this vnf wrote. ` +
      `Run \`vnf-ctl apply -f FILE\` to rebuild it, or \`vnf-ctl destroy ${name}\`.`);
  }
  return r as TopologyRecord;
}

/** readRecord that treats an unreadable record as absent (for read-only views). */
export function peekRecord(name: string): TopologyRecord | undefined {
  try {
    return readRecord(name);
  } catch (e) {
    if (e instanceof RecordError) return undefined;
    throw e;
  }
}

export function writeRecord(name: string, rec: TopologyRecord): void {
  ensurePrivateDir(stateDir(name));
  const p = recordPath(name);
  writeFileSync(p + '.tmp', JSON.stringify(rec), { mode: 0o600 });
  renameSync(p + '.tmp', p); // atomic replace
}

export function removeRecord(name: string): void {
  rmSync(stateDir(name), { recursive: true, force: true });
}
