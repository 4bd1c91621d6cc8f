/** ICMP message types (RFC 792 and successors) that rules may name instead of numbering. */

export const ICMP_TYPES = {
  'echo-reply': 0,
  'destination-unreachable': 3,
  'source-quench': 4,
  redirect: 5,
  'echo-request': 8,
  'router-advertisement': 9,
  'router-solicitation': 10,
  'time-exceeded': 11,
  'parameter-problem': 12,
  'timestamp-request': 13,
  'timestamp-reply': 14,
} as const;

export type IcmpTypeName = keyof typeof ICMP_TYPES;

export const ICMP_TYPE_NAMES = Object.keys(ICMP_TYPES) as [IcmpTypeName, ...IcmpTypeName[]];

export function icmpTypeNumber(type: IcmpTypeName | number): number {
  return typeof type === 'number' ? type : ICMP_TYPES[type];
}
