/** Connection tracking settings in the topology file: `settings.conntrack.timeouts`. */
import * as z from 'zod';
import type { SpecFragment } from '../types.js';
import { DEFAULT_CONNTRACK_TIMEOUTS, type ConntrackModel, type ConntrackTimeouts } from './model.js';

const TimeoutSeconds = z.number().int().min(1).max(10_000_000);

/** Connection tracking timeouts in seconds; defaults are Linux's (nf_conntrack). */
export const ConntrackTimeoutsSchema = z.strictObject({
  tcpSynSent: z.optional(TimeoutSeconds),
  tcpSynRecv: z.optional(TimeoutSeconds),
  tcpEstablished: z.optional(TimeoutSeconds),
  tcpFinWait: z.optional(TimeoutSeconds),
  tcpCloseWait: z.optional(TimeoutSeconds),
  tcpLastAck: z.optional(TimeoutSeconds),
  tcpTimeWait: z.optional(TimeoutSeconds),
  tcpClose: z.optional(TimeoutSeconds),
  udp: z.optional(TimeoutSeconds),
  udpStream: z.optional(TimeoutSeconds),
  icmp: z.optional(TimeoutSeconds),
});

export const conntrackSpec: SpecFragment = {
  schema: {
    settings: { conntrack: z.optional(z.strictObject({ timeouts: z.optional(ConntrackTimeoutsSchema) })) },
  },
  normalize(raw): ConntrackModel {
    const set = (raw.settings?.['conntrack'] as { timeouts?: Partial<ConntrackTimeouts> } | undefined)?.timeouts;
    return { timeouts: { ...DEFAULT_CONNTRACK_TIMEOUTS, ...set } };
  },
};
