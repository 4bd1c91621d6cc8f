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

/** A per-port quota: a count of connections, 1 .. the table's size. */
const Quota = z
  .number()
  .int({ error: 'must be a whole number of connections' })
  .min(1, { error: 'must be at least 1' })
  .max(VNF_CT_MAX, { error: (iss) => `${String(iss.input)} is more than the connection table holds (${VNF_CT_MAX})` });

export const ConntrackSettingsSchema = z.strictObject({
  timeouts: z.optional(ConntrackTimeoutsSchema),
  maxPerPort: z.optional(Quota),
  maxNewPerPort: z.optional(Quota),
});

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
