/**
 * The control plane's own record of a topology, beside the kernel state: the
 * last applied (normalized) topology and the interfaces attached with
 * `vnf-ctl attach`. Kept in /run/vnf/<name>/ — tmpfs, gone at reboot like
 * bpffs, so the two never disagree about a topology's existence for long.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '../spec/model.js';
import type { Attachment } from '../model/compile.js';
import { stateDir } from '../model/names.js';

export interface TopologyRecord {
  topology: Topology;
  file?: string;
  /** Lab topologies own their namespaces (lab down removes them). */
  lab?: boolean;
  attachments: Attachment[];
  appliedAt: string;
}

const recordPath = (name: string): string => join(stateDir(name), 'state.json');

export function readRecord(name: string): TopologyRecord | undefined {
  const p = recordPath(name);
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, 'utf8')) as TopologyRecord;
}

export function writeRecord(name: string, rec: TopologyRecord): void {
  mkdirSync(stateDir(name), { recursive: true });
  const p = recordPath(name);
  writeFileSync(p + '.tmp', JSON.stringify(rec, null, 2));
  renameSync(p + '.tmp', p); // atomic replace
}

export function removeRecord(name: string): void {
  rmSync(stateDir(name), { recursive: true, force: true });
}
