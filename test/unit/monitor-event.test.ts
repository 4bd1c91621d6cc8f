/** The monitor's decoder, filters and text: raw records (encoded with the ABI codec) to named events, no privileges. */
import t from 'tap';
import { monEventCodec, type MonEvent } from '../../src/monitor/codec.js';
import { decodeEvent, type EventNames } from '../../src/monitor/event.js';
import { matches, parseFilter } from '../../src/monitor/filter.js';
import { formatEvent, formatLost } from '../../src/monitor/render.js';
import { REASONS } from '../../src/vnf/common/codec.js';
import { VNF_R_DROP_POLICY, VNF_R_DROP_SPOOF_IP, VNF_R_FW_ALLOW } from '../../src/abi/vnf_common.js';
import { VNF_ID_FIREWALL, VNF_FW_DEFAULT_RULE } from '../../src/abi/firewall.js';
import {
  VNF_MON_A_ALLOW, VNF_MON_F_L3, VNF_MON_F_L4, VNF_MON_F_NO_MD, VNF_MON_F_RULE, VNF_MON_T_DROP, VNF_MON_T_VERDICT,
} from '../../src/abi/monitor.js';
import { parseAddr } from '../../src/spec/ipv4.js';

const ip = (s: string): number => {
  const p = parseAddr(s);
  if (!p.ok) throw new Error(p.error);
  return p.value;
};

const names: EventNames = {
  vnf: (id) => (id === VNF_ID_FIREWALL ? 'firewall' : id === 1 ? 'core' : `vnf${id}`),
  ifname: (i) => `veth${i}`,
  owner: (i) => (i === 7 ? 'web/eth0' : i === 8 ? 'db/eth0' : undefined),
  network: (id) => (id === 3 ? 'front' : `network ${id}`),
  rule: (vnf, set, rule) => (vnf === VNF_ID_FIREWALL && set === 42
    ? { owner: 'web-in', direction: 'ingress', rule: rule === VNF_FW_DEFAULT_RULE ? 'default' : rule, text: 'no-ssh', action: 'drop' }
    : undefined),
  wallMs: (ns) => 1_700_000_000_000 + Number(ns / 1_000_000n),
};

const base: MonEvent = {
  ts_ns: 1_500_000_000n, type: VNF_MON_T_DROP, vnf: VNF_ID_FIREWALL, action: 0, flags: VNF_MON_F_L3 | VNF_MON_F_L4 | VNF_MON_F_RULE,
  reason: VNF_R_DROP_POLICY, ifindex: 8, in: 8, out: 7, network: 3, ruleset: 42, rule: 1, len: 74,
  saddr: ip('10.0.2.10'), daddr: ip('10.0.1.10'), sport: 40000, dport: 22, proto: 6,
};
const raw = (e: Partial<MonEvent>): Buffer => monEventCodec.encode({ ...base, ...e });

t.test('a firewall drop: reason, VNF, ports, network, rule, L3/L4', async (t) => {
  const e = decodeEvent(raw({}), names)!;
  t.match(e, {
    type: 'drop', vnf: 'firewall', reason: REASONS[VNF_R_DROP_POLICY], len: 74, network: 'front',
    port: { ifindex: 8, ifname: 'veth8', owner: 'db/eth0' }, in: { owner: 'db/eth0' }, out: { ifindex: 7, owner: 'web/eth0' },
    rule: { ruleset: 42, index: 1, owner: 'web-in', direction: 'ingress', text: 'no-ssh' },
    proto: 'tcp', src: '10.0.2.10', dst: '10.0.1.10', sport: 40000, dport: 22,
  });
  t.equal(e.time, new Date(1_700_000_001_500).toISOString(), 'kernel time to wall time');
  t.equal(e.action, undefined, 'no action on a drop');
  t.equal(formatEvent(e), '00:00:01.500 drop drop:policy by firewall web-in ingress rule #1 (no-ssh) on veth8 [db/eth0] to veth7 [web/eth0] net front: tcp 10.0.2.10:40000 -> 10.0.1.10:22 (74 B)'.replace('00:00:01.500', e.time.slice(11, 23)));
  t.same(JSON.parse(JSON.stringify(e)), e, 'plain data: JSON round trip');
});

t.test('the default rule, an unknown rule set, no rule, no metadata, no L4', async (t) => {
  t.match(decodeEvent(raw({ rule: VNF_FW_DEFAULT_RULE }), names)!.rule, { index: 'default', owner: 'web-in' });
  t.same(decodeEvent(raw({ ruleset: 9 }), names)!.rule, { ruleset: 9, index: 1 }, 'unknown set: the numbers');
  const spoof = decodeEvent(raw({ vnf: 1, reason: VNF_R_DROP_SPOOF_IP, flags: VNF_MON_F_L3 | VNF_MON_F_NO_MD, proto: 1 }), names)!;
  t.equal(spoof.rule, undefined, 'no rule flag: no rule');
  t.equal(spoof.in, undefined, 'no metadata: no in/out/network');
  t.equal(spoof.network, undefined);
  t.equal(spoof.sport, undefined, 'no L4 flag: no ports');
  t.equal(spoof.proto, 'icmp');
  const noL3 = decodeEvent(raw({ flags: 0 }), names)!;
  t.equal(noL3.src, undefined, 'no L3 flag: no addresses (e.g. ARP)');
  t.match(formatEvent(noL3), /: \(74 B\)$/);
  const icmp = decodeEvent(raw({ proto: 1, sport: 8, dport: 0 }), names)!;
  t.match(icmp, { icmpType: 8, icmpCode: 0 });
  t.equal(icmp.dport, undefined);
  t.match(formatEvent(icmp), /icmp 10\.0\.2\.10 -> 10\.0\.1\.10 type 8 code 0/);
  t.equal(decodeEvent(Buffer.alloc(10), names), undefined, 'a short record: undefined, not thrown');
});

t.test('a verdict carries its action', async (t) => {
  const e = decodeEvent(raw({ type: VNF_MON_T_VERDICT, action: VNF_MON_A_ALLOW, reason: VNF_R_FW_ALLOW, rule: 0 }), names)!;
  t.match(e, { type: 'verdict', action: 'allow', reason: REASONS[VNF_R_FW_ALLOW], rule: { index: 0 } });
  t.match(formatEvent(e), / verdict allow fw-allow by firewall web-in ingress rule #0/);
});

t.test('filters', async (t) => {
  const e = decodeEvent(raw({}), names)!;
  t.same(parseFilter({}).types, ['drop'], 'default: drops');
  t.same(parseFilter({ type: ['verdict,drop', 'new'] }).types, ['drop', 'verdict', 'new']);
  t.same(parseFilter({ type: ['all'] }).types, ['drop', 'verdict', 'new']);
  t.throws(() => parseFilter({ type: ['drops'] }), { name: 'InputError', message: /--type drops/ });
  t.throws(() => parseFilter({ from: '10.0.0' }), { name: 'InputError', message: /--from 10\.0\.0/ });
  t.throws(() => parseFilter({ to: '10.0.0.0/33' }), { name: 'InputError' });
  t.ok(matches(parseFilter({}), e));
  t.notOk(matches(parseFilter({ type: ['verdict'] }), e), 'type');
  t.ok(matches(parseFilter({ port: ['web/eth0'] }), e), 'port by container interface (out)');
  t.ok(matches(parseFilter({ port: ['veth8'] }), e), 'port by host interface');
  t.notOk(matches(parseFilter({ port: ['veth9,other/eth0'] }), e), 'another port');
  t.ok(matches(parseFilter({ from: '10.0.2.0/24', to: '10.0.1.10' }), e), 'from prefix, to address');
  t.notOk(matches(parseFilter({ from: '10.0.1.0/24' }), e), 'from another prefix');
  t.notOk(matches(parseFilter({ to: '10.0.2.0/24' }), e), 'to another prefix');
  t.notOk(matches(parseFilter({ from: '0.0.0.0/0' }), decodeEvent(raw({ flags: 0 }), names)!), 'an address filter never matches an event without addresses');
});

t.test('lost counts', async (t) => {
  t.equal(formatLost({ received: 5, shown: 3, emitted: 5, lostRate: 100, lostFull: 2, expired: 0 }, true),
    'monitor stopped: 5 received, 3 shown, lost 100 to the rate limit and 2 to a full ring buffer');
});
