/**
 * Delivery sets the packet type the container's stack must see (issue 8, defect 10): the host
 * veth marked a frame for the container's MAC PACKET_OTHERHOST, and bpf_redirect_peer() before
 * Linux 6.15 kept that mark, so the container dropped every unicast delivery. DELIVER sets it
 * from the destination MAC (bpf/include/vnf/deliver.h), as the peer's own receive path would.
 */
import t from 'tap';
import { skbContext } from '../../src/bpf/skb.js';
import { createPorts } from '../helpers/dataplane.js';
import { loadTest } from '../helpers/objects.js';
import { eth, ETH_P_IP, ipv4, IPPROTO_UDP, udp } from '../helpers/packets.js';
import { requirePrivileges } from '../helpers/privilege.js';

const PACKET_HOST = 0;
const PACKET_BROADCAST = 1;
const PACKET_MULTICAST = 2;
const PACKET_OTHERHOST = 3;

if (requirePrivileges(t)) {
  t.test('unicast to the container becomes PACKET_HOST; broadcast and multicast keep their kind', async (t) => {
    const obj = await loadTest(t, 'deliver_test');
    const [port] = createPorts(t, 1);
    const frame = (dst: string): Buffer => eth(dst, '02:00:00:00:07:01', ETH_P_IP, ipv4({ src: '10.7.0.1', dst: '10.7.0.2', proto: IPPROTO_UDP }, udp('10.7.0.1', '10.7.0.2', 1, 2, Buffer.alloc(8))));
    const run = (prog: string, dst: string): number => obj.program(prog).testRun({ data: frame(dst), ctx: skbContext({ ifindex: port!.ifindex }) }).retval;
    t.equal(run('pkt_type_as_received', '02:00:00:00:07:02'), PACKET_OTHERHOST, 'as the host veth saw it: another host\'s MAC');
    t.equal(run('pkt_type_for_delivery', '02:00:00:00:07:02'), PACKET_HOST, 'as delivered: for the container');
    t.equal(run('pkt_type_for_delivery', 'ff:ff:ff:ff:ff:ff'), PACKET_BROADCAST, 'broadcast');
    t.equal(run('pkt_type_for_delivery', '01:00:5e:00:00:01'), PACKET_MULTICAST, 'multicast');
  });
}
