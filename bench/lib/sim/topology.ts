/**
 * Topology files that span hosts, as the simulation reads them (the project's parser: containers
 * name their `host:`, networks carry a VNI, the file's or derived from the name), and
 * `multiHostFile`, which writes such a file from plain data.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { parseTopology } from '../../../src/spec/index.js';
import type { Topology } from '../../../src/spec/model.js';

export interface MultiHostTopology {
  topology: Topology;
  /** Container name → host name. */
  hostOf: Map<string, string>;
  /** Network name → VNI. */
  vniOf: Map<string, number>;
}

export function readMultiHost(text: string, file?: string): MultiHostTopology {
  const r = parseTopology(text, file);
  if (!r.ok) throw new Error(`${file ?? 'topology'}: ${r.issues.filter((i) => i.severity !== 'warning').map((i) => `${i.line !== undefined ? `line ${i.line}: ` : ''}${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const t = r.topology;
  const hostOf = new Map<string, string>();
  for (const c of t.containers) {
    if (c.host === undefined) throw new Error(`${file ?? 'topology'}: container ${c.name} names no host`);
    hostOf.set(c.name, c.host);
  }
  const vniOf = new Map<string, number>();
  for (const n of t.networks) {
    if (n.vni === undefined) throw new Error(`${file ?? 'topology'}: network ${n.name} has no VNI`);
    vniOf.set(n.name, n.vni);
  }
  return { topology: t, hostOf, vniOf };
}

/** Writes plain topology data (with host: and vni:) as YAML; returns what readMultiHost makes of it. */
export function multiHostFile(path: string, data: Record<string, unknown>): MultiHostTopology {
  const text = stringify(data);
  writeFileSync(path, text);
  return readMultiHost(text, path);
}
