/** Every VNF the control plane knows, in chain order. */
import { bridgeModule } from './bridge/module.js';
import { coreModule } from './core/module.js';
import { routerModule } from './router/module.js';
import { firewallModule } from './firewall/module.js';
import type { VnfModule } from './types.js';
import type { ManagedMap } from '../model/desired.js';

/** In chain order: VNFs with inChain run in this order before the bridge / delivery. */
export const VNFS: readonly VnfModule[] = [coreModule, bridgeModule, routerModule, firewallModule];

export const managedMaps = (): ManagedMap[] => VNFS.flatMap((v) => v.maps).sort((a, b) => a.order - b.order);

export function moduleOfMap(map: string): VnfModule {
  const m = VNFS.find((v) => v.maps.some((x) => x.name === map));
  if (!m) throw new Error(`no VNF manages map ${map}`);
  return m;
}

export const vnfName = (id: number): string => VNFS.find((v) => v.id === id)?.name ?? `vnf${id}`;
