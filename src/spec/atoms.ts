/**
 * Schema atoms shared by the core schema and the VNF modules' fragments: values that need a real
 * parser (addresses, prefixes, MACs, names, ports) are plain strings refined by the parsers in
 * this folder, which give precise messages; their JSON Schema pattern is attached for editors.
 */
import * as z from 'zod';
import { isNetworkAddress, networkOf, formatAddr, parseAddr, parseCidr } from './ipv4.js';
import { parseMac } from './mac.js';
import { checkName, MAX_NAME_LENGTH, NAME_PATTERN } from './names.js';
import { parsePortSpec, PORT_SPEC_PATTERN } from './ports.js';
import type { Parsed } from './result.js';

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
export const ADDR = `${OCTET}(\\.${OCTET}){3}`;
export const PREFIX_LEN = '(3[0-2]|[12]?[0-9])';

/** A string whose syntax `check` decides; `check` returns an error message or undefined. */
export function checkedString(check: (text: string) => string | undefined, meta: z.core.JSONSchemaMeta) {
  return z
    .string()
    .superRefine((text, ctx) => {
      const error = check(text);
      if (error !== undefined) ctx.addIssue({ code: 'custom', message: error });
    })
    .meta(meta);
}

export const errorOf = <T>(result: Parsed<T>): string | undefined => (result.ok ? undefined : result.error);

/** A plain address: 10.2.0.254 */
export const Addr = checkedString((s) => errorOf(parseAddr(s)), {
  format: 'ipv4',
  pattern: `^${ADDR}$`,
});

/** A network prefix with its host bits zero: 10.1.0.0/24. With bareAddressIsHost, 10.2.0.66 means 10.2.0.66/32. */
export function networkCidr(options: { bareAddressIsHost: boolean }) {
  const pattern = options.bareAddressIsHost ? `^${ADDR}(/${PREFIX_LEN})?$` : `^${ADDR}/${PREFIX_LEN}$`;
  return checkedString(
    (s) => {
      const cidr = parseCidr(s, options.bareAddressIsHost ? { defaultPrefix: 32 } : {});
      if (!cidr.ok) return cidr.error;
      if (isNetworkAddress(cidr.value)) return undefined;
      return `not a network address (host bits set); did you mean ${formatAddr(networkOf(cidr.value))}/${cidr.value.prefix}?`;
    },
    { pattern },
  );
}

/** An interface address, with the network's prefix length or none: 10.1.0.10/24 or 10.1.0.10 */
export const HostAddr = checkedString(
  (s) => errorOf(parseCidr(s, { defaultPrefix: 32 })),
  { pattern: `^${ADDR}(/${PREFIX_LEN})?$`, description: 'address, optionally with the network prefix length' },
);

export const Mac = checkedString((s) => errorOf(parseMac(s)), {
  pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$',
  description: 'unicast MAC address; derived from the names when omitted',
});

export const Name = (what: string) =>
  checkedString((s) => checkName(s, what), { pattern: NAME_PATTERN, maxLength: MAX_NAME_LENGTH });

/** A map from names to `value`; invalid names are reported at their key. */
export function named<T extends z.ZodType>(value: T, checkKey: (key: string) => string | undefined, keyMeta: z.core.JSONSchemaMeta) {
  return z
    .record(z.string(), value)
    .superRefine(
      (record: unknown, ctx) => {
        if (typeof record !== 'object' || record === null) return;
        for (const key of Object.keys(record)) {
          const error = checkKey(key);
          if (error !== undefined) ctx.addIssue({ code: 'custom', message: error, path: [key], params: { at: 'key' } });
        }
      },
      // Check the names even when some values are invalid, so every issue shows up in one pass.
      { when: () => true },
    )
    .meta({ propertyNames: { type: 'string', ...keyMeta } });
}

export const namedBy = <T extends z.ZodType>(what: string, value: T) =>
  named(value, (key) => checkName(key, what), { pattern: NAME_PATTERN, maxLength: MAX_NAME_LENGTH });

/** A list of ports: 80, or "5000-5100". */
export const PortList = (what: string) =>
  z
    .array(
      z.union([
        z
          .int({ error: (iss) => `port ${String(iss.input)} is not a whole number` })
          .min(1, { error: (iss) => `port ${String(iss.input)} is out of range 1-65535` })
          .max(65535, { error: (iss) => `port ${String(iss.input)} is out of range 1-65535` }),
        checkedString((s) => errorOf(parsePortSpec(s)), { pattern: PORT_SPEC_PATTERN }),
      ]),
    )
    .min(1, { error: `${what} must list at least one port; omit it to match every port` });
