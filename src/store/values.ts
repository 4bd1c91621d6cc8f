/**
 * The values under the store's keys: JSON, checked on every read. A value that does not parse or
 * validate is reported (with its key), never trusted.
 */
import { z } from 'zod';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** <prefix>topology: the file as the user wrote it, and its name. */
export const topologyValue = z.object({
  source: z.string().min(1),
  file: z.string(),
}).strict();
export type TopologyValue = z.infer<typeof topologyValue>;

/**
 * Whether a dotted IPv4 address can be a host's VTEP: a unicast address a frame can be sent to
 * over the underlay — not 0.0.0.0/8 ("this network"), 127.0.0.0/8 (loopback: the frames would
 * come back to the sending host), 224.0.0.0/4 (multicast: every host on the underlay would get
 * them) or 240.0.0.0/4 (reserved, and the limited broadcast 255.255.255.255).
 */
export function isVtepAddress(text: string): boolean {
  if (!IPV4.test(text)) return false;
  const first = Number(text.split('.')[0]);
  return first !== 0 && first !== 127 && first < 224;
}

/** <prefix>hosts/<host>: a registration (on the host's lease). */
export const hostValue = z.object({
  underlay: z.string().refine(isVtepAddress, 'a unicast IPv4 address (not 0/8, loopback, multicast or broadcast)'),
  version: z.string(),
  startedAt: z.string().datetime(),
}).strict();
export type HostValue = z.infer<typeof hostValue>;

/** <prefix>applied/<host>: what the host's agent last applied (on the host's lease). */
export const appliedValue = z.object({
  /** The topology revision it applied (0: there was none). */
  revision: z.number().int().nonnegative(),
  /** The generation of its slice (hex), null when it has none (no topology, or an error). */
  generation: z.string().regex(/^[0-9a-f]+$/).nullable(),
  at: z.string().datetime(),
  error: z.string().nullable(),
}).strict();
export type AppliedValue = z.infer<typeof appliedValue>;

export type Decoded<T> = { ok: true; value: T } | { ok: false; problem: string };

/** Parses and validates one stored value; the problem names the key. */
export function decodeValue<T>(schema: z.ZodType<T>, key: string, text: string): Decoded<T> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { ok: false, problem: `${key}: not JSON (${e instanceof Error ? e.message : String(e)})` };
  }
  const r = schema.safeParse(data);
  if (r.success) return { ok: true, value: r.data };
  const first = r.error.issues[0];
  const where = first && first.path.length ? `${first.path.join('.')}: ` : '';
  return { ok: false, problem: `${key}: invalid value (${where}${first?.message ?? 'does not validate'})` };
}

export const encodeValue = (v: TopologyValue | HostValue | AppliedValue): string => JSON.stringify(v);
