/** vnf-ctl trace as text, from a fabricated result: every stage in order and the answer last. */
import t from 'tap';
import { renderTrace } from '../../../src/trace/render.js';
import type { TraceResult } from '../../../src/trace/trace.js';
import { REASONS } from '../../../src/vnf/common/codec.js';
import { VNF_R_DROP_POLICY, VNF_R_FW_ALLOW, VNF_R_PASS } from '../../../src/abi/vnf_common.js';

const table = async (head: string[], rows: Array<Array<string | number | undefined>>): Promise<string> =>
  [head.join('|'), ...rows.map((r) => r.map((c) => (c === undefined ? '-' : String(c))).join('|'))].join('\n');

const base: TraceResult = {
  topology: 'demo',
  from: { port: 'web/eth0', ifname: 'vnf1', network: 'front' },
  to: { address: '10.2.0.10', port: 'db/eth0', nextHop: 'gateway 10.1.0.1 (router r)' },
  packet: { srcMac: '02:00:00:00:00:0a', dstMac: '02:00:00:00:00:fe', src: '10.1.0.10', dst: '10.2.0.10', proto: 'tcp', sport: 40000, dport: 5432, ttl: 64 },
  stages: [
    { vnf: 'core', event: 'verdict', what: REASONS[VNF_R_PASS]!, drop: false, detail: '' },
    { vnf: 'core', event: 'hop', what: '-> firewall', drop: false, detail: 'chain 7 position 0; network front' },
    { vnf: 'firewall', event: 'verdict', what: REASONS[VNF_R_FW_ALLOW]!, drop: false, detail: '' },
  ],
  verdict: 'delivered',
  allowed: true,
  deliveredTo: { port: 'db/eth0', ifname: 'vnf2', network: 'back' },
  out: { srcMac: '02:00:00:00:00:fd', dstMac: '02:00:00:00:00:0b', src: '10.1.0.10', dst: '10.2.0.10', proto: 'tcp', sport: 40000, dport: 5432, ttl: 63 },
  matched: [{ section: 'FIREWALL RULES', row: { firewall: 'db-in', '#': '0', rule: 'allow tcp ports 5432', packets: '1' } }],
  state: [{ map: 'vnf_ct', change: 'new', entry: 'connection tcp 10.1.0.10:40000 -> 10.2.0.10:5432 (zone 3)' }],
  retval: 7,
  durationNs: 1000,
};

t.test('an allowed packet', async (t) => {
  const s = await renderTrace(base, table);
  const lines = s.split('\n');
  t.match(lines[0], /^trace demo: from web\/eth0 \(vnf1, network front\) to 10\.2\.0\.10 \(db\/eth0\) via gateway/);
  t.equal(lines[1], 'packet: 10.1.0.10:40000 -> 10.2.0.10:5432 tcp (02:00:00:00:00:0a -> 02:00:00:00:00:fe, ttl 64)');
  t.ok(s.indexOf('-> firewall') < s.indexOf(REASONS[VNF_R_FW_ALLOW]!), 'stages in order');
  t.match(s, /matched: firewall rules: firewall=db-in #=0 rule=allow tcp ports 5432 packets=1/);
  t.match(s, /would create in vnf_ct: connection tcp/);
  t.match(s, /leaves as: .*ttl 63/);
  t.equal(lines.at(-1), 'ALLOWED: delivered to db/eth0 (vnf2, network back)');
});

t.test('a dropped packet, an answered one', async (t) => {
  const dropped = await renderTrace({ ...base, verdict: 'dropped', allowed: false, reason: REASONS[VNF_R_DROP_POLICY]!, deliveredTo: undefined, out: undefined }, table);
  t.equal(dropped.split('\n').at(-1), `DENIED: dropped (${REASONS[VNF_R_DROP_POLICY]})`);
  t.notMatch(dropped, /leaves as/);
  const icmp = { ...base.packet, proto: 'icmp', dport: undefined };
  const answered = await renderTrace({ ...base, packet: icmp, verdict: 'answered', deliveredTo: { port: 'web/eth0', ifname: 'vnf1', network: 'front' } }, table);
  t.match(answered, /packet: 10\.1\.0\.10 -> 10\.2\.0\.10 icmp id 40000/);
  t.equal(answered.split('\n').at(-1), 'ALLOWED: answered by the router (to web/eth0)');
});
