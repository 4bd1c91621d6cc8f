/**
 * Connection tracking settings in the topology file: `settings.conntrack.timeouts`, and the
 * per-port quotas `settings.conntrack.maxPerPort` (protected, i.e. ASSURED, connections) and
 * `maxNewPerPort` (new and unreplied ones), each at most the table's size.
 */
import * as z from 'zod';
import type { SpecFragment } from '../types.js';
import { VNF_CT_MAX } from '../../abi/conntrack.js';
import {
  DEFAULT_CONNTRACK_TIMEOUTS, DEFAULT_MAX_NEW_PER_PORT, DEFAULT_MAX_PER_PORT, type ConntrackModel, type ConntrackTimeouts,
} from './model.js';

const TimeoutSeconds = z.number().int().min(1).max(10_000_000);

/** Connection tracking timeouts in seconds; defaults are Linux's (nf_conntrack). */
export const ConntrackTimeoutsSchema = z.strictObject({
  tcpSynSent: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before a TCP connection after its SYN is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.tcpSynSent })),
  tcpSynRecv: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before a TCP connection after the SYN-ACK is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.tcpSynRecv })),
  tcpEstablished: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before an established TCP connection, idle is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.tcpEstablished })),
  tcpFinWait: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before TCP after the first FIN is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.tcpFinWait })),
  tcpCloseWait: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before TCP after the peer\'s FIN is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.tcpCloseWait })),
  tcpLastAck: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before TCP waiting for the last ACK is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.tcpLastAck })),
  tcpTimeWait: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before TCP in TIME_WAIT is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.tcpTimeWait })),
  tcpClose: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before TCP after a RST is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.tcpClose })),
  udp: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before a UDP flow seen one way is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.udp })),
  udpStream: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before a UDP flow answered (a stream) is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.udpStream })),
  icmp: z.optional(TimeoutSeconds.meta({ description: 'seconds idle before an ICMP echo is forgotten', default: DEFAULT_CONNTRACK_TIMEOUTS.icmp })),
}).meta({ description: "connection tracking timeouts in seconds, per state; defaults are Linux's nf_conntrack" });

/** A per-port quota: a count of connections, 1 .. the table's size. */
const Quota = z
  .number()
  .int({ error: 'must be a whole number of connections' })
  .min(1, { error: 'must be at least 1' })
  .max(VNF_CT_MAX, { error: (iss) => `${String(iss.input)} is more than the connection table holds (${VNF_CT_MAX})` });

export const ConntrackSettingsSchema = z.strictObject({
  timeouts: z.optional(ConntrackTimeoutsSchema),
  maxPerPort: z.optional(Quota.meta({ description: 'connections per port that are protected (answered, ASSURED): never evicted by new flows', default: DEFAULT_MAX_PER_PORT })),
  maxNewPerPort: z.optional(Quota.meta({ description: 'new and unanswered connections per port; beyond it the oldest unprotected ones make room, or the new one is refused (drop:ct-full)', default: DEFAULT_MAX_NEW_PER_PORT })),
}).meta({ description: 'connection tracking shared by the firewalls and NATs' });

interface RawConntrack {
  timeouts?: Partial<ConntrackTimeouts>;
  maxPerPort?: number;
  maxNewPerPort?: number;
}

export const conntrackSpec: SpecFragment = {
  schema: {
    settings: { conntrack: z.optional(ConntrackSettingsSchema) },
  },
  normalize(raw): ConntrackModel {
    const c = raw.settings?.['conntrack'] as RawConntrack | undefined;
    return {
      timeouts: { ...DEFAULT_CONNTRACK_TIMEOUTS, ...c?.timeouts },
      maxPerPort: c?.maxPerPort ?? DEFAULT_MAX_PER_PORT,
      maxNewPerPort: c?.maxNewPerPort ?? DEFAULT_MAX_NEW_PER_PORT,
    };
  },
};
