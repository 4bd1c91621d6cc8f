/**
 * The agent parses the stored topology once per stored revision, not on every 2 s resync: at the
 * size limit (8,000 containers) a parse costs about a second, and re-parsing kept every idle agent
 * at ~24% of a core (measured: 2% with this cache).
 */
import t from 'tap';
import { requirePrivileges } from '../helpers/privilege.js';
import { testEtcd } from '../helpers/cluster.js';
import { randomName } from '../helpers/netns.js';
import { connectStore } from '../../src/store/client.js';
import { putTopology } from '../../src/store/topology.js';
import * as spec from '../../src/spec/index.js';
import { RESYNC_MS } from '../../src/agent/agent.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (requirePrivileges(t)) {
  t.test('resyncs of an unchanged stored topology do not parse it again', async (t) => {
    const etcd = await testEtcd(t);
    let parses = 0;
    const { Agent } = await t.mockImport<typeof import('../../src/agent/agent.js')>('../../src/agent/agent.js', {
      '../../src/spec/index.js': { ...spec, parseTopology: (...a: Parameters<typeof spec.parseTopology>) => (parses++, spec.parseTopology(...a)) },
    });
    const name = randomName('po');
    // A one-host topology (no host:): the agent parses it and reports it, touching no kernel state.
    const writer = connectStore(etcd.url);
    t.teardown(() => writer.close());
    await putTopology(writer, `apiVersion: vnf/v1\nname: ${name}\nnetworks:\n  n1: { subnet: 10.77.0.0/24 }\ncontainers:\n  a: { interfaces: { eth0: { network: n1, ip: 10.77.0.10/24 } } }\n`, 't.yaml');
    const logs: string[] = [];
    const agent = new Agent({
      store: connectStore(etcd.url), host: randomName('h'), underlay: { ifname: 'lo', address: '192.0.2.1', mtu: 1500 }, bindDevice: false,
      device: randomName('vx'), ttl: 5, version: 'test', log: (l) => void logs.push(l),
    });
    agent.start();
    t.teardown(() => agent.stop());
    await sleep(RESYNC_MS * 2 + 1500);
    t.match(logs.join('\n'), /names no host/, 'the agent read and parsed the topology');
    t.equal(parses, 1, `parsed once over ${RESYNC_MS * 2 + 1500} ms (at least two resyncs)`);
  });
}
