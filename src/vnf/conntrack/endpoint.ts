/** One end of a tracked connection or NAT mapping, as `conntrack -o json` and `nat -o json` give it. */
import { formatAddr } from '../../spec/ipv4.js';

export interface Endpoint {
  address: string;
  /** TCP/UDP port; null for protocols without ports. */
  port: number | null;
  /** ICMP echo identifier (where the end has one); null otherwise. */
  icmpId: number | null;
}

const TCP = 6;
const UDP = 17;

/** An end from the conntrack key's fields: `port` is the echo identifier for ICMP, 0 when it has none. */
export function endpoint(proto: number, addr: number, port: number): Endpoint {
  const ported = proto === TCP || proto === UDP;
  return { address: formatAddr(addr), port: ported ? port : null, icmpId: !ported && port !== 0 ? port : null };
}

/** `10.1.0.10:80`, `10.1.0.10#77` (ICMP echo identifier), or the bare address. */
export function formatEndpoint(e: Endpoint): string {
  if (e.port !== null) return `${e.address}:${e.port}`;
  return e.icmpId !== null ? `${e.address}#${e.icmpId}` : e.address;
}
