/**
 * Static state the dataplane cannot lose (issue 8, defect 3): FDB entries and neighbours the
 * control plane declares live in plain hash maps looked up before the learned (LRU) ones. The
 * attack: fill the learned tables past their size — the flood of random source MACs or ARP
 * senders that used to evict the static entries from a shared LRU — and then try to take the
 * victim's MAC or address. The ports here are *unchecked* (no identity flag: the worst case,
 * where nothing stops the flood at the port), so what holds is the table layout alone.
 */
import t from 'tap';
import { attachTc, detachTc } from '../../src/bpf/attach.js';
import { REASON, VNF_DIR_TX, VNF_ID_DELIVER } from '../../src/vnf/common/codec.js';
import { fdbEntryCodec, fdbKeyCodec, VNF_FDB_F_STATIC, VNF_FDB_MAX, VNF_ID_BRIDGE } from '../../src/vnf/bridge/codec.js';
import { neighCodec, neighKeyCodec, VNF_NEIGH_F_LEARNED, VNF_NEIGH_F_STATIC, VNF_NEIGH_MAX } from '../../src/vnf/router/codec.js';
import { createPorts, loadDataplane, type TestPort } from '../helpers/dataplane.js';
import { arp, eth, ETH_P_ARP, ip4, pingPacket } from '../helpers/packets.js';
import { BCAST, lab as routerLab, TC_ACT_REDIRECT } from '../helpers/router-lab.js';
import { requirePrivileges } from '../helpers/privilege.js';

const NET = 1;
const VICTIM = '02:00:00:00:05:0b';
const hex2 = (n: number): string => (n & 255).toString(16).padStart(2, '0');
const randomMac = (i: number): string => `02:ee:${hex2(i >> 16)}:${hex2(i >> 8)}:${hex2(i)}:${hex2(i * 7)}`;

if (requirePrivileges(t)) {
  t.test('FDB: learned table full, 70,000 random source MACs, then a takeover: the static entry holds', async (t) => {
    const dp = await loadDataplane(t, ['entry', 'bridge']);
    const [a, v, c] = createPorts(t, 3) as [TestPort, TestPort, TestPort];
    const chainIn = dp.addChain([VNF_ID_BRIDGE]);
    const chainOut = dp.addChain([VNF_ID_DELIVER]);
    for (const p of [a, v, c]) dp.setPort(p.ifindex, { network: NET, chain_in: chainIn, chain_out: chainOut });
    dp.setNetwork(NET, { ports: [a.ifindex, v.ifindex, c.ifindex] });
    // Count TX on the ports as the kernel does: flooded copies cross vnf_entry_out.
    for (const p of [a, v, c]) {
      const l = attachTc(dp.program('vnf_entry_out'), p.name, 'egress', { mode: 'tcx' });
      t.teardown(() => detachTc(l));
    }
    dp.setFdb(NET, VICTIM, { ifindex: v.ifindex, flags: VNF_FDB_F_STATIC });

    // Every port's share of the learned table in use (what many flooding ports would leave)...
    const now = process.hrtime.bigint();
    const fill = Array.from({ length: VNF_FDB_MAX }, (_, i) =>
      [fdbKeyCodec.encode({ network: NET, mac: `02:dd:00:${hex2(i >> 16)}:${hex2(i >> 8)}:${hex2(i)}` }), fdbEntryCodec.encode({ ifindex: c.ifindex, flags: 0, updated_ns: now })] as const);
    dp.map('vnf_fdb').updateMany(fill);
    // ...and one port flooding on top of it.
    for (let i = 0; i < 70_000; i++) dp.runFrom(a.ifindex, pingPacket({ srcMac: randomMac(i), dstMac: BCAST, src: '10.5.0.1', dst: '10.5.0.255' }));
    t.ok(dp.stat(VNF_ID_BRIDGE, REASON['learn-limit']!).packets > 60_000n, 'the flood beyond the learning limit was counted as learn-limit');

    // The takeover: a sends as the victim's MAC.
    dp.runFrom(a.ifindex, pingPacket({ srcMac: VICTIM, dstMac: BCAST, src: '10.5.0.1', dst: '10.5.0.255' }));
    t.same(dp.fdb(NET, VICTIM), { ifindex: v.ifindex, flags: VNF_FDB_F_STATIC, updated_ns: 0n }, 'the static entry is still the victim\'s');
    t.equal(dp.learnedFdb(NET, VICTIM), null, 'and the victim\'s MAC was not learned behind a');

    // Traffic for the victim still goes to the victim only.
    const tx = (): bigint[] => [a, v, c].map((p) => dp.portStat(p.ifindex, VNF_DIR_TX).packets);
    const before = tx();
    const r = dp.runFrom(c.ifindex, pingPacket({ srcMac: '02:00:00:00:05:0c', dstMac: VICTIM, src: '10.5.0.3', dst: '10.5.0.2' }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'delivered');
    t.same(tx().map((x, i) => Number(x - before[i]!)), [0, 1, 0], 'to the victim\'s port, nowhere else');
  });

  t.test('neighbours: learned table full, 20,000 ARP senders, then a takeover: the static neighbour holds', async (t) => {
    const l = await routerLab(t);
    const VICTIM_IP = ip4('10.0.1.11');
    l.dp.setNeigh(1, VICTIM_IP, { mac: VICTIM, flags: VNF_NEIGH_F_STATIC });
    // The learned table full of other neighbours...
    const fill = Array.from({ length: VNF_NEIGH_MAX }, (_, i) =>
      [neighKeyCodec.encode({ network: 7, ip: ip4(`10.7.${(i >> 8) & 255}.${i & 255}`) }), neighCodec.encode({ mac: '02:00:00:00:07:07', flags: VNF_NEIGH_F_LEARNED, updated_ns: 1n })] as const);
    l.dp.map('vnf_neigh').updateMany(fill);
    // ...and 20,000 requests to the router from different senders (each one it may learn from).
    for (let i = 0; i < 20_000; i++) {
      const m = randomMac(i);
      l.run(eth(BCAST, m, ETH_P_ARP, arp(1, m, `10.0.1.${2 + (i % 250)}`, '00:00:00:00:00:00', '10.0.1.1')));
    }
    // The takeover: a request and a gratuitous ARP claiming the victim's address.
    const thief = '02:00:00:00:0e:0e';
    let r = l.run(eth(BCAST, thief, ETH_P_ARP, arp(1, thief, '10.0.1.11', '00:00:00:00:00:00', '10.0.1.1')));
    t.equal(r.retval, TC_ACT_REDIRECT, 'the request is still answered');
    l.bridge(eth(BCAST, thief, ETH_P_ARP, arp(1, thief, '10.0.1.11', '00:00:00:00:00:00', '10.0.1.11')), l.a, 1);
    const n = l.dp.neigh(1, VICTIM_IP);
    t.equal(n?.mac, VICTIM, 'the static neighbour still has the victim\'s MAC');
    t.equal(n?.flags, VNF_NEIGH_F_STATIC, 'and is still static');
    t.equal(l.dp.learnedNeigh(1, VICTIM_IP), null, 'nothing learned beside it');
  });
}
