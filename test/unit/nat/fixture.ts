// Shared fixtures for the NAT tests (tap lists this file as "no tests found"; that is expected).
import { parseTopology, formatIssue } from '../../../src/spec/index.js';
import type { Topology } from '../../../src/spec/model.js';

/** The router key `nat` of the brief, with a container per network (isp is the next hop). */
export const NAT = `apiVersion: vnf/v1
name: nt
containers:
  web:
    interfaces:
      eth0: { network: front, ip: 10.1.0.10/24 }
  dns:
    interfaces:
      eth0: { network: back, ip: 10.2.0.10/24 }
  isp:
    interfaces:
      eth0: { network: wan, ip: 192.0.2.1/24 }
  other:
    interfaces:
      eth0: { network: lan, ip: 10.9.0.10/24 }
networks:
  front: { subnet: 10.1.0.0/24 }
  back: { subnet: 10.2.0.0/24 }
  wan: { subnet: 192.0.2.0/24 }
  lan: { subnet: 10.9.0.0/24 }
routers:
  r1:
    ports: { front: 10.1.0.1/24, back: 10.2.0.1/24, wan: 192.0.2.2/24 }
    routes: [ { to: 0.0.0.0/0, via: 192.0.2.1 } ]
    nat:
      outside: wan
      masquerade: [10.1.0.0/24, 10.2.0.0/24]
      ports: "20000-29999"
      floating:
        - { inside: 10.1.0.10, outside: 192.0.2.10 }
      forward:
        - { proto: tcp, port: 8080, to: 10.1.0.10:80 }
        - { proto: udp, port: 5353, to: 10.2.0.10 }
  r2:
    ports: { lan: 10.9.0.1/24 }
`;

export function topologyOf(text: string): Topology {
  const r = parseTopology(text, 'nat.yaml');
  if (!r.ok) throw new Error(`fixture invalid:\n${r.issues.map(formatIssue).join('\n')}`);
  return r.topology;
}
