/**
 * What a runtime hands the plugin: CNI_* environment variables and the network configuration on
 * stdin (CNI spec 1.1.0). Parsed and checked here, so the commands see only valid input; every
 * problem is a CniError with the spec's code.
 */
import * as z from 'zod';
import { CNI_CODES, CniError } from './errors.js';
import { SUPPORTED_VERSIONS, supported } from './versions.js';
export type { Env } from './env.js';

/** The spec's network name. */
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const Ipam = z.looseObject({ type: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'an IPAM plugin name (letters, digits, ".", "_", "-")') });

const NetConf = z.looseObject({
  cniVersion: z.string(),
  name: z.string().regex(NETWORK_NAME, 'a CNI network name (letters, digits, ".", "_", "-")'),
  type: z.string(),
  topology: z.string().min(1),
  network: z.string().min(1),
  firewall: z.optional(z.string().min(1)),
  mtu: z.optional(z.int().min(576).max(65535)),
  ipam: z.optional(Ipam),
  prevResult: z.optional(z.unknown()),
  'cni.dev/valid-attachments': z.optional(z.array(z.looseObject({ containerID: z.string(), ifname: z.string() }))),
});
export type NetConf = z.infer<typeof NetConf>;

export function parseConfig(stdin: string): NetConf {
  let json: unknown;
  try {
    json = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(CNI_CODES.decode, 'the network configuration on stdin is not JSON', (e as Error).message);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CniError(CNI_CODES.decode, 'the network configuration on stdin is not a JSON object');
  const v = (json as { cniVersion?: unknown }).cniVersion;
  if (typeof v === 'string' && !supported(v)) {
    throw new CniError(CNI_CODES.incompatibleVersion, `vnf supports CNI versions ${SUPPORTED_VERSIONS.join(', ')}; the configuration asks for ${v}`);
  }
  const r = NetConf.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(config)'}: ${i.message}`);
    throw new CniError(CNI_CODES.invalidConfig, `invalid network configuration: ${problems.join('; ')}`, problems.join('\n'));
  }
  if (r.data.ipam?.type === 'vnf') throw new CniError(CNI_CODES.invalidConfig, 'ipam.type "vnf": vnf is not an IPAM plugin (leave ipam out for vnf\'s own addresses)');
  if (r.data.type !== 'vnf') throw new CniError(CNI_CODES.invalidConfig, `this is the vnf plugin; the configuration is for type ${JSON.stringify(r.data.type)}`);
  return r.data;
}
