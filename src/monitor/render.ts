/**
 * One line per event, like `cilium monitor`:
 *   12:00:01.123 drop drop:policy by firewall web ingress rule #0 (deny tcp 22) on vh-web-eth0 [web/eth0] net lan: tcp 10.0.0.2:40000 -> 10.0.0.3:22 (74 B)
 * and lost-event summaries. -o json prints the events as they are (one object per line).
 */
import type { MonitorEvent, PortRef } from './event.js';
import type { LostCounts } from './session.js';

const portText = (p: PortRef): string => (p.owner ? `${p.ifname} [${p.owner}]` : p.ifname);

function endpoint(addr: string | undefined, port: number | undefined): string {
  return port === undefined ? addr ?? '?' : `${addr}:${port}`;
}

export function formatEvent(e: MonitorEvent): string {
  const time = e.time.slice(11, 23);
  const parts = [time, e.type];
  if (e.type === 'verdict') parts.push(e.action ?? '?');
  parts.push(e.reason, 'by', e.vnf);
  if (e.rule) {
    const r = e.rule;
    const which = r.index === 'default' ? 'default' : `rule #${r.index}`;
    parts.push(r.owner ? `${r.owner}${r.direction ? ` ${r.direction}` : ''} ${which}${r.text && r.index !== 'default' ? ` (${r.text})` : ''}` : `rule set ${r.ruleset} ${which}`);
  }
  parts.push('on', portText(e.port));
  if (e.in && e.in.ifindex !== e.port.ifindex) parts.push('from', portText(e.in));
  if (e.out && e.out.ifindex !== e.port.ifindex) parts.push('to', portText(e.out));
  if (e.network) parts.push('net', e.network);
  let l3 = '';
  if (e.proto) {
    l3 = e.proto === 'icmp'
      ? `icmp ${e.src} -> ${e.dst}${e.icmpType !== undefined ? ` type ${e.icmpType} code ${e.icmpCode}` : ''}`
      : `${e.proto} ${endpoint(e.src, e.sport)} -> ${endpoint(e.dst, e.dport)}`;
  }
  return `${parts.join(' ')}:${l3 ? ` ${l3}` : ''} (${e.len} B)`;
}

export function formatLost(l: LostCounts, final = false): string {
  return `${final ? 'monitor stopped' : 'monitor'}: ${l.received} received, ${l.shown} shown, lost ${l.lostRate} to the rate limit and ${l.lostFull} to a full ring buffer`;
}
