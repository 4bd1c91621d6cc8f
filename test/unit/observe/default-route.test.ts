/**
 * attach refuses the interface of the host's default route (unless forced): which interfaces
 * carry one is read from /proc/net/route. The parser is tested here on tables in that format;
 * the integration tier cannot attach this host's uplink safely.
 */
import t from 'tap';
import { parseDefaultRouteInterfaces } from '../../../src/observe/interfaces.js';

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       ';
const row = (iface: string, dest: string, gw: string, mask: string, metric = '0'): string =>
  `${iface}\t${dest}\t${gw}\t0003\t0\t0\t${metric}\t${mask}\t0\t0\t0                                                                               `;

t.test('the interface of a default route (destination 0, mask 0)', async (t) => {
  const table = [HEADER, row('eth0', '00000000', '010200C0', '00000000'), row('eth0', '000200C0', '00000000', '00FFFFFF'), ''].join('\n');
  t.same([...parseDefaultRouteInterfaces(table)], ['eth0']);
});

t.test('several default routes (different metrics) on several interfaces', async (t) => {
  const table = [HEADER, row('wlan0', '00000000', '0101A8C0', '00000000', '600'), row('enp3s0', '00000000', '010010AC', '00000000', '100'), row('enp3s0', '000010AC', '00000000', '0000FFFF')].join('\n');
  t.same([...parseDefaultRouteInterfaces(table)].sort(), ['enp3s0', 'wlan0']);
});

t.test('no default route: only prefixes, or a destination 0 with a non-zero mask', async (t) => {
  t.same([...parseDefaultRouteInterfaces([HEADER, row('eth0', '000200C0', '00000000', '00FFFFFF')].join('\n'))], []);
  t.same([...parseDefaultRouteInterfaces([HEADER, row('eth1', '00000000', '00000000', '000000FF')].join('\n'))], [], '0.0.0.0/8 is not a default route');
});

t.test('the header is never an interface; empty and blank tables have none', async (t) => {
  t.same([...parseDefaultRouteInterfaces(HEADER)], []);
  t.same([...parseDefaultRouteInterfaces('')], []);
  t.same([...parseDefaultRouteInterfaces(`${HEADER}\n\n   \n`)], []);
});

t.test('interface names vnf cannot pin are still reported (the refusal is by name)', async (t) => {
  const table = [HEADER, row('br-lan.10', '00000000', '0101A8C0', '00000000')].join('\n');
  t.same([...parseDefaultRouteInterfaces(table)], ['br-lan.10']);
});
