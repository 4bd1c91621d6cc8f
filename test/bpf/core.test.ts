/**
 * The dataplane core (bpf/entry.bpf.c + vnf/chain.h): entry programs, chain
 * walking and DELIVER, run with BPF_PROG_TEST_RUN on veth ports. Every way a
 * packet can fall out of its chain must end in a counted drop, never a pass.
 */
import t, { type Test } from 'tap';
import { REASON, VNF_DIR_RX, VNF_DIR_TX, VNF_ID_CORE, VNF_ID_DELIVER } from '../../src/vnf/common/codec.js';
import { VNF_FDB_F_STATIC, VNF_ID_BRIDGE } from '../../src/vnf/bridge/codec.js';
import { createPorts, loadDataplane, type TestDataplane } from '../helpers/dataplane.js';
import { pingPacket } from '../helpers/packets.js';
import { requirePrivileges } from '../helpers/privilege.js';

const NET = 1;
const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;
const EMPTY_SLOT = 9; // no program is ever loaded there in these tests

const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';
const pkt = pingPacket({ srcMac: MAC_A, dstMac: MAC_B, src: '10.0.0.10', dst: '10.0.0.11' });

/**
 * `n` host-side veths whose peers sit in a namespace made by the test (this
 * kernel has no dummy driver); IPv6 off so the kernel sends nothing itself.
 */

async function setup(t: Test, n = 2): Promise<{ dp: TestDataplane; ix: number[] }> {
  const dp = await loadDataplane(t, ['entry', 'bridge']);
  const ix = createPorts(t, n).map((p) => p.ifindex);
  dp.setNetwork(NET, { ports: ix });
  return { dp, ix };
}

const core = (dp: TestDataplane, reason: string): bigint => dp.stat(VNF_ID_CORE, REASON[reason]!).packets;

if (requirePrivileges(t)) {
  t.test('an interface without a vnf_ports entry: DROP_NO_PORT', async (t) => {
    const { dp, ix } = await setup(t, 1);
    let r = dp.runFrom(ix[0]!, pkt);
    t.equal(r.retval, TC_ACT_SHOT, 'ingress: dropped');
    t.equal(core(dp, 'drop:no-port'), 1n, 'counted under the core id');
    t.equal(dp.portStat(ix[0]!, VNF_DIR_RX).packets, 0n, 'no RX counted for an unknown port');
    r = dp.runEgress(ix[0]!, pkt);
    t.equal(r.retval, TC_ACT_SHOT, 'egress: dropped too');
    t.equal(core(dp, 'drop:no-port'), 2n);
    t.equal(core(dp, 'pass'), 0n, 'nothing passed');
  });

  t.test('a port whose chain does not exist: DROP_NO_CHAIN', async (t) => {
    const { dp, ix } = await setup(t, 1);
    dp.setPort(ix[0]!, { network: NET, chain_in: 4242, chain_out: 4243 });
    let r = dp.runFrom(ix[0]!, pkt);
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(core(dp, 'drop:no-chain'), 1n, 'missing chain_in');
    t.same(dp.portStat(ix[0]!, VNF_DIR_RX), { packets: 1n, bytes: BigInt(pkt.length) }, 'RX counted before the chain runs');
    r = dp.runEgress(ix[0]!, pkt);
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(core(dp, 'drop:no-chain'), 2n, 'missing chain_out');

    dp.setPort(ix[0]!, { network: NET, chain_in: dp.addChain([]), chain_out: dp.addChain([]) });
    r = dp.runFrom(ix[0]!, pkt);
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(core(dp, 'drop:no-chain'), 3n, 'an empty chain has no position 0');
  });

  t.test('a chain naming an empty slot: DROP_TAIL_CALL', async (t) => {
    const { dp, ix } = await setup(t, 1);
    dp.setPort(ix[0]!, { network: NET, chain_in: dp.addChain([EMPTY_SLOT]), chain_out: dp.addChain([EMPTY_SLOT]) });
    let r = dp.runFrom(ix[0]!, pkt);
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(core(dp, 'drop:tail-call'), 1n, 'ingress');
    r = dp.runEgress(ix[0]!, pkt);
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(core(dp, 'drop:tail-call'), 2n, 'egress');
    // Beyond the program array altogether.
    dp.setPort(ix[0]!, { network: NET, chain_in: dp.addChain([200]) });
    r = dp.runFrom(ix[0]!, pkt);
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(core(dp, 'drop:tail-call'), 3n, 'slot index past the array');
  });

  t.test('deliver without a forwarding decision fails closed', async (t) => {
    const { dp, ix } = await setup(t, 1);
    // chain_in [deliver]: no VNF chose an out port (md cb[1] = 0).
    dp.setPort(ix[0]!, { network: NET, chain_in: dp.addChain([VNF_ID_DELIVER]) });
    const r = dp.runFrom(ix[0]!, pkt);
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(core(dp, 'drop:no-port'), 1n);
    t.equal(core(dp, 'deliver'), 0n);
  });

  t.test('chain_out [deliver]: redirect into the container, TX counted', async (t) => {
    const { dp, ix } = await setup(t, 2);
    const [A, B] = [ix[0]!, ix[1]!];
    const chainIn = dp.addChain([VNF_ID_BRIDGE]);
    const chainOut = dp.addChain([VNF_ID_DELIVER]);
    dp.setPort(A, { network: NET, chain_in: chainIn, chain_out: chainOut });
    dp.setPort(B, { network: NET, chain_in: chainIn, chain_out: chainOut });
    dp.setFdb(NET, MAC_B, { ifindex: B, flags: VNF_FDB_F_STATIC });

    const r = dp.runFrom(A, pkt);
    t.equal(r.retval, TC_ACT_REDIRECT, 'TC_ACT_REDIRECT from bpf_redirect_peer');
    t.same(r.data, pkt, 'bytes unchanged');
    t.same(dp.portStat(A, VNF_DIR_RX), { packets: 1n, bytes: BigInt(pkt.length) }, 'RX on the ingress port');
    t.same(dp.portStat(B, VNF_DIR_TX), { packets: 1n, bytes: BigInt(pkt.length) }, 'TX on the out port');
    t.equal(dp.portStat(A, VNF_DIR_TX).packets, 0n);
    t.equal(core(dp, 'deliver'), 1n, 'DELIVER +1');
    t.equal(core(dp, 'pass'), 1n, 'entry handed on once');
  });

  t.test('a missing stage in chain_out fails closed', async (t) => {
    const { dp, ix } = await setup(t, 2);
    const [A, B] = [ix[0]!, ix[1]!];
    dp.setPort(A, { network: NET, chain_in: dp.addChain([VNF_ID_BRIDGE]) });
    dp.setPort(B, { network: NET, chain_out: dp.addChain([EMPTY_SLOT, VNF_ID_DELIVER]) });
    dp.setFdb(NET, MAC_B, { ifindex: B, flags: VNF_FDB_F_STATIC });
    const r = dp.runFrom(A, pkt);
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(dp.stat(VNF_ID_BRIDGE, REASON['drop:tail-call']!).packets, 1n, 'counted under the VNF that made the call');
    t.equal(dp.portStat(B, VNF_DIR_TX).packets, 0n, 'nothing delivered');
    t.equal(core(dp, 'deliver'), 0n);
  });

  t.test('egress mode: deliver passes (TC_ACT_OK)', async (t) => {
    const { dp, ix } = await setup(t, 1);
    dp.setPort(ix[0]!, { network: NET, chain_out: dp.addChain([VNF_ID_DELIVER]) });
    const r = dp.runEgress(ix[0]!, pkt);
    t.equal(r.retval, TC_ACT_OK, 'TC_ACT_OK: the packet continues out of the interface');
    t.same(r.data, pkt);
    t.same(dp.portStat(ix[0]!, VNF_DIR_TX), { packets: 1n, bytes: BigInt(pkt.length) }, 'TX counted');
    t.equal(dp.portStat(ix[0]!, VNF_DIR_RX).packets, 0n, 'no RX on egress');
    t.equal(core(dp, 'deliver'), 1n);
  });
}
