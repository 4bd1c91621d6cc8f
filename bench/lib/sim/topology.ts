/**
 * Topology files that span hosts, as the simulation reads them: the project's own parser for
 * everything it knows, and `host:` (containers) and `vni:` (networks) read from the file
 * alongside — so the simulation creates the same containers before and after the parser learns
 * those keys. `multiHostFile` writes such a file from plain data.
 */
import { writeFileSync } from 'node:fs';
import { parse as parseYaml, stringify } from 'yaml';
import { validateTopology } from '../../../src/spec/index.js';
import type { Topology } from '../../../src/spec/model.js';

export interface MultiHostTopology {
  topology: Topology;
  /** Container name → host name. */
  hostOf: Map<string, string>;
  /** Network name → VNI (from the file; else 100 + its position in name order). */
  vniOf: Map<string, number>;
}

type Raw = Record<string, unknown>;
const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

export function readMultiHost(text: string, file?: string): MultiHostTopology {
  const raw = parseYaml(text) as unknown;
  if (!isRecord(raw)) throw new Error(`${file ?? 'topology'}: not a mapping`);
  const hostOf = new Map<string, string>();
  const fileVni = new Map<string, number>();
  const stripped: Raw = { ...raw };
  if (isRecord(raw['containers'])) {
    const cs: Raw = {};
    for (const [name, c] of Object.entries(raw['containers'])) {
      if (!isRecord(c)) continue;
      const { host, ...rest } = c;
      if (typeof host !== 'string') throw new Error(`${file ?? 'topology'}: container ${name} names no host`);
      hostOf.set(name, host);
      cs[name] = rest;
    }
    stripped['containers'] = cs;
  }
  if (isRecord(raw['networks'])) {
    const ns: Raw = {};
    for (const [name, n] of Object.entries(raw['networks'])) {
      if (!isRecord(n)) continue;
      const { vni, ...rest } = n;
      if (typeof vni === 'number') fileVni.set(name, vni);
      ns[name] = rest;
    }
    stripped['networks'] = ns;
  }
  const r = validateTopology(stripped, undefined, file);
  if (!r.ok) throw new Error(`${file ?? 'topology'}: ${r.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const t = r.topology;
  for (const c of t.containers) c.host = hostOf.get(c.name)!;
  const vniOf = new Map<string, number>();
  t.networks.forEach((n, i) => {
    n.vni = fileVni.get(n.name) ?? 100 + i;
    vniOf.set(n.name, n.vni);
  });
  return { topology: t, hostOf, vniOf };
}

/** Writes plain topology data (with host: and vni:) as YAML; returns what readMultiHost makes of it. */
export function multiHostFile(path: string, data: Raw): MultiHostTopology {
  const text = stringify(data);
  writeFileSync(path, text);
  return readMultiHost(text, path);
}
