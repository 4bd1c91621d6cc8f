/** vnf-ctl trace as text: the probe, each stage in order, what matched, and the answer. */
import type { TracePacket, TraceResult } from './trace.js';

type Table = (head: string[], rows: Array<Array<string | number | undefined>>) => Promise<string>;

export function packetLine(p: TracePacket): string {
  const ports = p.proto === 'icmp' ? (p.sport !== undefined ? ` id ${p.sport}` : '') : `:${p.sport ?? '-'} -> ${p.dst}:${p.dport ?? '-'}`;
  const head = p.proto === 'icmp' ? `${p.src} -> ${p.dst} icmp${ports}` : `${p.src}${ports} ${p.proto}`;
  return `${head} (${p.srcMac} -> ${p.dstMac}, ttl ${p.ttl})`;
}

export async function renderTrace(r: TraceResult, table: Table): Promise<string> {
  const out: string[] = [];
  out.push(`trace ${r.topology}: from ${r.from.port} (${r.from.ifname}, network ${r.from.network}) to ${r.to.address}${r.to.port ? ` (${r.to.port})` : ''} via ${r.to.nextHop}`);
  out.push(`packet: ${packetLine(r.packet)}`);
  out.push(await table(['#', 'vnf', 'event', 'decision', 'detail'], r.stages.map((s, i) => [i + 1, s.vnf, s.event, s.what, s.detail || undefined])));
  for (const m of r.matched) out.push(`matched: ${m.section.toLowerCase()}: ${Object.entries(m.row).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`).join(' ')}`);
  for (const s of r.state) out.push(`would ${s.change === 'new' ? 'create' : 'update'} in ${s.map}: ${s.entry}`);
  if (r.out) out.push(`leaves as: ${packetLine(r.out)}`);
  const answer = r.verdict === 'delivered'
    ? `ALLOWED: delivered to ${r.deliveredTo!.port} (${r.deliveredTo!.ifname}, network ${r.deliveredTo!.network})`
    : r.verdict === 'answered' ? `ALLOWED: answered by the router (to ${r.deliveredTo?.port ?? 'the source'})`
      : r.verdict === 'dropped' ? `DENIED: dropped (${r.reason ?? 'no reason recorded'})`
        : r.verdict === 'rejected' ? `DENIED: rejected (${r.reason ?? 'no reason recorded'}), an answer goes back${r.deliveredTo ? ` to ${r.deliveredTo.port}` : ''}`
          : 'NOT DELIVERED: passed to the host stack';
  out.push(answer);
  return out.join('\n');
}
