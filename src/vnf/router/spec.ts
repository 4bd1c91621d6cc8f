/**
 * Router settings in the topology file, `settings.router`: the neighbour state machine's timers
 * (in seconds, fractions allowed, as Linux's neighbour sysctls) and the ICMP error rate limit.
 *
 *   settings:
 *     router:
 *       neighbours: { reachableSeconds: 30, retransSeconds: 1, failedSeconds: 3, unicastProbes: 3, broadcastProbes: 3 }
 *       icmpRatelimitMs: 1000
 */
import * as z from 'zod';
import type { SpecFragment } from '../types.js';
import { DEFAULT_NEIGHBOUR_SETTINGS, DEFAULT_ROUTER_MODEL, type RouterModel } from './model.js';

const seconds = (min: number, max: number, description: string, def: number) =>
  z.number().min(min, { error: `must be at least ${min} seconds` }).max(max, { error: `must be at most ${max} seconds` })
    .meta({ description, default: def });
const probes = (min: number, description: string, def: number) =>
  z.int({ error: 'expected a whole number' }).min(min, { error: `must be at least ${min}` }).max(10, { error: 'must be at most 10' })
    .meta({ description, default: def });

export const NeighbourSettingsSchema = z.strictObject({
  reachableSeconds: z.optional(seconds(0.01, 86_400, 'a confirmed neighbour is REACHABLE this long, then STALE (Linux base_reachable_time)', DEFAULT_NEIGHBOUR_SETTINGS.reachableMs / 1000)),
  retransSeconds: z.optional(seconds(0.01, 3600, 'at most one ARP request per next hop this often (Linux retrans_time)', DEFAULT_NEIGHBOUR_SETTINGS.retransMs / 1000)),
  failedSeconds: z.optional(seconds(0.01, 3600, 'a next hop that never answered gets ICMP host unreachable this long, then a new resolution', DEFAULT_NEIGHBOUR_SETTINGS.failedMs / 1000)),
  unicastProbes: z.optional(probes(0, 'unicast probes of a STALE neighbour before it is resolved anew by broadcast (Linux ucast_solicit)', DEFAULT_NEIGHBOUR_SETTINGS.unicastProbes)),
  broadcastProbes: z.optional(probes(1, 'broadcast ARP requests for an unresolved next hop before it FAILS (Linux mcast_solicit)', DEFAULT_NEIGHBOUR_SETTINGS.broadcastProbes)),
}).meta({ description: "the routers' neighbour (ARP) timers; Linux's defaults" });

export const RouterSettingsSchema = z.strictObject({
  neighbours: z.optional(NeighbourSettingsSchema),
  icmpRatelimitMs: z.optional(z.int({ error: 'expected whole milliseconds' }).min(0, { error: 'must be at least 0' }).max(3_600_000, { error: 'must be at most 3600000' })
    .meta({ description: 'one ICMP error per destination host this often, in bursts of 6 (Linux icmp_ratelimit); 0 = no limit', default: DEFAULT_ROUTER_MODEL.icmpRatelimitMs })),
}).meta({ description: 'settings of every router' });

type RawNeighbours = z.infer<typeof NeighbourSettingsSchema>;

const ms = (s: number | undefined, def: number): number => (s === undefined ? def : Math.max(1, Math.round(s * 1000)));

export const routerSpec: SpecFragment = {
  schema: { settings: { router: z.optional(RouterSettingsSchema) } },
  normalize(raw): RouterModel {
    const set = raw.settings?.['router'] as { neighbours?: RawNeighbours; icmpRatelimitMs?: number } | undefined;
    const n = set?.neighbours ?? {};
    const d = DEFAULT_NEIGHBOUR_SETTINGS;
    return {
      neighbours: {
        reachableMs: ms(n.reachableSeconds, d.reachableMs),
        retransMs: ms(n.retransSeconds, d.retransMs),
        failedMs: ms(n.failedSeconds, d.failedMs),
        unicastProbes: n.unicastProbes ?? d.unicastProbes,
        broadcastProbes: n.broadcastProbes ?? d.broadcastProbes,
      },
      icmpRatelimitMs: set?.icmpRatelimitMs ?? DEFAULT_ROUTER_MODEL.icmpRatelimitMs,
    };
  },
};
