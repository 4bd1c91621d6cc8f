/**
 * A host name belongs to the agent that registered it: a second agent started with the same
 * --host but another underlay address (a mistake, or a hostile host) must not take the name over
 * (and with it every frame for that host's containers) while the first one's lease lives; it
 * reports the conflict and retries. The same address (the same host's agent restarted) takes over.
 */
import t from 'tap';
import { requirePrivileges } from '../helpers/privilege.js';
import { testEtcd } from '../helpers/cluster.js';
import { randomName } from '../helpers/netns.js';
import { connectStore } from '../../src/store/client.js';
import { readSnapshot } from '../../src/store/snapshot.js';
import { Agent } from '../../src/agent/agent.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (requirePrivileges(t)) {
  t.test('a second agent with the same host name and another address does not steal the registration', async (t) => {
    const etcd = await testEtcd(t);
    const host = randomName('hn');
    const logs: Record<string, string[]> = { a: [], b: [], c: [] };
    const agent = (who: 'a' | 'b' | 'c', address: string): Agent => new Agent({
      store: connectStore(etcd.url), host, underlay: { ifname: 'lo', address, mtu: 1500 }, bindDevice: false,
      device: randomName('vx'), ttl: 5, version: 'test', log: (l) => void logs[who]!.push(l),
    });
    const reader = connectStore(etcd.url);
    t.teardown(() => reader.close());
    const a = agent('a', '192.0.2.1');
    a.start();
    t.teardown(() => a.stop());
    const deadline = Date.now() + 10_000;
    while ((await readSnapshot(reader)).hosts.get(host)?.underlay !== '192.0.2.1') {
      if (Date.now() > deadline) throw new Error(`agent a never registered: ${logs.a!.join('\n')}`);
      await sleep(100);
    }
    const b = agent('b', '192.0.2.66');
    b.start();
    t.teardown(() => b.stop());
    const seen = new Set<string>();
    for (const end = Date.now() + 5000; Date.now() < end; await sleep(100)) {
      seen.add((await readSnapshot(reader)).hosts.get(host)?.underlay ?? 'none');
    }
    t.same([...seen], ['192.0.2.1'], `hosts/${host} stays the first agent's over 5 s (two resyncs)`);
    t.match(logs.b!.join('\n'), /already registered .*192\.0\.2\.1/, 'the second agent says why it does not register');
    await b.stop();
    // The same address: the host's own agent restarted while its old lease lives takes over at once.
    await a.stop();
    const c = agent('c', '192.0.2.1');
    c.start();
    t.teardown(() => c.stop());
    const until = Date.now() + 3000;
    while (!logs.c!.some((l) => l.startsWith('registered'))) {
      if (Date.now() > until) break;
      await sleep(100);
    }
    t.ok(logs.c!.some((l) => l.startsWith('registered')), `the same host's new agent registers within 3 s: ${logs.c!.join(' | ')}`);
  });
}
