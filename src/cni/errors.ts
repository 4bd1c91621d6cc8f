/**
 * CNI errors: the spec's well-known codes (1-11, 50-51) and vnf's own (100+). Every error the
 * plugin reports is one of these, printed as the spec's error object on stdout with exit 1.
 */
export const CNI_CODES = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  io: 5,
  decode: 6,
  invalidConfig: 7,
  tryAgain: 11,
  notAvailable: 50,
  notAvailableLimited: 51,
  // vnf's own
  unknownTopology: 100,
  unknownNetwork: 101,
  attachRefused: 102,
  ipam: 103,
  kernel: 104,
  alreadyAdded: 105,
  checkFailed: 106,
} as const;

export class CniError extends Error {
  override name = 'CniError';
  constructor(readonly code: number, message: string, readonly details = '') {
    super(message);
  }
}

/** The spec's error object. */
export function errorResult(cniVersion: string, e: CniError): { cniVersion: string; code: number; msg: string; details?: string } {
  return { cniVersion, code: e.code, msg: e.message, ...(e.details ? { details: e.details } : {}) };
}
