/**
 * Names for the ids in a topology's events: interfaces by ifindex (and the container interface
 * behind a port, matched by network and MAC as `vnf-ctl get` does), networks by id, rules by the
 * modules that own them (their eventRules hook), read once when the monitor starts.
 */
import type { Observed } from '../observe/kernel.js';
import { nameView } from '../ops/topology.js';
import { readIds } from '../model/ids.js';
import { unhex } from '../model/desired.js';
import { peekRecord } from '../state/store.js';
import { portCodec } from '../vnf/common/codec.js';
import { VNFS, vnfName } from '../vnf/registry.js';
import type { EventRule } from '../vnf/types.js';
import { VNF_MAP_IDS, VNF_MAP_PORTS } from '../abi/vnf_common.js';
import type { EventNames } from './event.js';

export function eventNames(topology: string, actual: Observed): EventNames {
  const names = nameView(actual);
  const t = peekRecord(topology)?.topology;
  const owners = new Map<number, string>();
  const byNetMac = new Map((t?.containers ?? []).flatMap((c) => c.interfaces.map((i) => [`${i.network}/${i.mac}`, `${c.name}/${i.name}`] as const)));
  for (const [k, v] of actual.entries(VNF_MAP_PORTS) ?? []) {
    const p = portCodec.decode(v);
    const owner = byNetMac.get(`${names.network(p.network)}/${p.mac}`);
    if (owner) owners.set(unhex(k).readUInt32LE(0), owner);
  }
  const ids = readIds(actual.entries(VNF_MAP_IDS));
  const rules = new Map<number, (ruleset: number, rule: number) => EventRule | undefined>();
  if (t) for (const v of VNFS) if (v.id !== undefined && v.eventRules) rules.set(v.id, v.eventRules(t, ids));
  // bpf_ktime_get_ns() is CLOCK_MONOTONIC, as process.hrtime: one offset to the wall clock.
  const offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return {
    vnf: vnfName,
    ifname: names.ifname,
    owner: (i) => owners.get(i),
    network: names.network,
    rule: (vnf, ruleset, rule) => rules.get(vnf)?.(ruleset, rule),
    wallMs: (ns) => Number((ns + offsetNs) / 1_000_000n),
  };
}
