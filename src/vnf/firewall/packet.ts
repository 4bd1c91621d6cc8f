/** The fields the firewall classifies on (host-order numbers). */
export const PROTO = { icmp: 1, tcp: 6, udp: 17 } as const;

export interface FwPacket {
  proto: number;
  saddr: number;
  daddr: number;
  /** TCP/UDP ports; for ICMP sport = 0 and dport = the ICMP type; 0 for other protocols. */
  sport: number;
  dport: number;
}
