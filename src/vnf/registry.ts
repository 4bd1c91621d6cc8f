/**
 * Every VNF module the control plane knows. Generic stages (spec, compile, observe, plan, apply,
 * get/stats) iterate this list and nothing else: adding a VNF is one line here (see
 * docs/adding-a-vnf.md). Chain order is each module's `chain.order`, not its place here.
 */
import { bridgeModule } from './bridge/module.js';
import { conntrackModule } from './conntrack/module.js';
import { coreModule } from './core/module.js';
import { firewallModule } from './firewall/module.js';
import { natModule } from './nat/module.js';
import { overlayModule } from './overlay/module.js';
import { routerModule } from './router/module.js';
import type { MapDecl, VnfModule } from './types.js';

export const VNFS: readonly VnfModule[] = [coreModule, bridgeModule, routerModule, conntrackModule, firewallModule, natModule, overlayModule];

/** Every pinned map of a topology, by name. */
export const MAPS: ReadonlyMap<string, MapDecl & { module: string }> = new Map(
  VNFS.flatMap((v) => v.maps.map((m) => [m.name, { ...m, module: v.name }] as const)),
);

export function mapDecl(name: string): MapDecl & { module: string } {
  const m = MAPS.get(name);
  if (!m) throw new Error(`internal: no VNF declares map ${name}`);
  return m;
}

/** The modules with a BPF object (loaded, and pinned per build). */
export const OBJECTS = (): VnfModule[] => VNFS.filter((v) => v.object !== undefined);

export const vnfName = (id: number): string => VNFS.find((v) => v.id === id)?.name ?? `vnf${id}`;
