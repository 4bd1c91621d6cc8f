/**
 * The control plane's record of a topology: the last applied (normalized) topology, the file it
 * came from and whether it is a lab. Kept in /run/vnf/<name>/ (tmpfs, gone at reboot like bpffs).
 * It is a cache, not the truth: attachments are read back from the kernel, a lost record is
 * rebuilt by the next apply, and a record is trusted only when it names the generation pinned in
 * vnf_meta by the last complete apply (otherwise attach/detach would silently roll an apply back).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '../spec/model.js';
import { stateDir } from '../model/names.js';
import { serialize } from '../vnf/core/module.js';
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

/** The small part of a record: read by every command that lists topologies. */
export type RecordMeta = Omit<TopologyRecord, 'topology'>;

const metaPath = (name: string): string => join(stateDir(name), 'state.json');
const topologyPath = (name: string): string => join(stateDir(name), 'topology.json');

const corrupt = (name: string, p: string, why: string): RecordError =>
  new RecordError(`the record of topology ${name} (${p}) is ${why}. ` +
    `Run \`vnf-ctl apply -f FILE\` to rebuild it from the file and the kernel, or \`vnf-ctl destroy ${name}\`.`);

/** The record's metadata, undefined when there is none; RecordError (with the way out) when unreadable. */
export function readRecordMeta(name: string): RecordMeta | undefined {
  const p = metaPath(name);
  if (!checkPrivateDir(stateDir(name)) || !existsSync(p)) return undefined;
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw corrupt(name, p, `corrupt (${(e as Error).message})`);
  }
  const r = m as Partial<RecordMeta> | null;
  if (typeof r !== 'object' || r === null || Array.isArray(r) || typeof r.generation !== 'string' || typeof r.appliedAt !== 'string') {
    throw corrupt(name, p, 'not one this vnf wrote');
  }
  return r as RecordMeta;
}

/**
 * The whole record, undefined when there is none; RecordError when unreadable. Its topology is
 * trusted only if it is the very text that hashes to the generation written beside it (a record
 * damaged inside its topology would otherwise reach get, lab exec and attach as a broken model).
 */
export function readRecord(name: string): TopologyRecord | undefined {
  const meta = readRecordMeta(name);
  if (!meta) return undefined;
  const p = topologyPath(name);
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch {
    throw corrupt(name, p, 'missing its topology');
  }
  if (createHash('sha256').update(text).digest().readBigUInt64LE(0).toString(16) !== meta.generation) {
    throw corrupt(name, p, 'not one this vnf wrote (its topology does not match its generation)');
  }
  const t = JSON.parse(text) as Topology;
  if (typeof t !== 'object' || t === null || t.name !== name) throw corrupt(name, p, 'not one this vnf wrote');
  return { ...meta, topology: t };
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

/** readRecordMeta that treats an unreadable record as absent. */
export function peekRecordMeta(name: string): RecordMeta | undefined {
  try {
    return readRecordMeta(name);
  } catch (e) {
    if (e instanceof RecordError) return undefined;
    throw e;
  }
}

function atomicWrite(p: string, text: string): void {
  writeFileSync(p + '.tmp', text, { mode: 0o600 });
  renameSync(p + '.tmp', p); // atomic replace
}

/** Writes the topology first and the metadata naming its generation last. */
export function writeRecord(name: string, rec: TopologyRecord): void {
  ensurePrivateDir(stateDir(name));
  const { json } = serialize(rec.topology);
  const { topology: _t, ...meta } = rec;
  atomicWrite(topologyPath(name), json);
  atomicWrite(metaPath(name), JSON.stringify(meta));
}

export function removeRecord(name: string): void {
  rmSync(stateDir(name), { recursive: true, force: true });
}
