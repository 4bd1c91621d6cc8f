/** The active NAT mappings of a topology, read back from the kernel (`vnf-ctl nat`). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { pinDir } from '../model/names.js';
import { readIds, reverseIds } from '../model/ids.js';
import { readMap, readRaw } from '../observe/kernel.js';
import { VNF_MAP_CT, VNF_MAP_CT_CFG } from '../abi/conntrack.js';
import { VNF_MAP_IDS } from '../abi/vnf_common.js';
import { VNF_MAP_NAT } from '../abi/nat.js';
import { natMappings, type NatMapping } from '../vnf/nat/mappings.js';
import { requireTopology } from './status.js';

export type { NatMapping };

/** One row per live connection (its conntrack entry exists and has not expired), sorted by router, kind, inside. */
export function natMappingsOf(name: string): NatMapping[] {
  requireTopology(name);
  const dir = pinDir(name);
  const nat = readRaw(join(dir, VNF_MAP_NAT)) ?? [];
  if (nat.length === 0) return [];
  const names = reverseIds(readIds(readMap(join(dir, VNF_MAP_IDS))));
  const ctPath = join(dir, VNF_MAP_CT);
  const ct = existsSync(ctPath) ? BpfMap.openPinned(ctPath) : undefined;
  try {
    return natMappings({
      nat,
      ct: (key) => ct?.lookup(key) ?? undefined,
      ctCfg: readRaw(join(dir, VNF_MAP_CT_CFG))?.[0]?.[1],
      now: process.hrtime.bigint(), // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns()
      routerName: names.router,
    });
  } finally {
    ct?.close();
  }
}
