import t from 'tap';
import { classifyKey, checkHostName, storeKeys, DEFAULT_PREFIX } from '../../../src/store/keys.js';
import { appliedValue, decodeValue, encodeValue, hostValue, topologyValue } from '../../../src/store/values.js';
import { snapshotOf } from '../../../src/store/snapshot.js';
import { checkStoreUrl, readable } from '../../../src/store/client.js';

t.test('keys live under the prefix; a trailing slash is added, a bad prefix refused', async (t) => {
  const k = storeKeys();
  t.equal(k.prefix, DEFAULT_PREFIX);
  t.equal(k.topology, '/vnf/topology');
  t.equal(k.host('h1'), '/vnf/hosts/h1');
  t.equal(k.appliedBy('h1'), '/vnf/applied/h1');
  t.equal(storeKeys('/lab/x').prefix, '/lab/x/');
  for (const bad of ['vnf/', '/a b/', '/a//b/']) t.throws(() => storeKeys(bad), { name: 'InputError', message: /invalid store prefix/ }, bad);
  t.throws(() => k.host('H 1'), { name: 'InputError', message: /host name/ });
  t.throws(() => checkHostName('a-very-long-host-name'), { message: /at most 15/ });
  t.equal(checkHostName('h-1'), 'h-1');
});

t.test('classifyKey: only vnf\'s own keys, with valid host names', async (t) => {
  const k = storeKeys('/p/');
  t.same(classifyKey(k, '/p/topology'), { kind: 'topology' });
  t.same(classifyKey(k, '/p/hosts/h2'), { kind: 'host', host: 'h2' });
  t.same(classifyKey(k, '/p/applied/h2'), { kind: 'applied', host: 'h2' });
  t.equal(classifyKey(k, '/p/hosts/../x'), undefined);
  t.equal(classifyKey(k, '/p/other'), undefined);
  t.equal(classifyKey(k, '/q/topology'), undefined);
});

t.test('values: round trip, and anything that does not parse or validate is reported with its key', async (t) => {
  const h = { underlay: '192.0.2.1', version: '0.1.0', startedAt: '2026-11-30T08:00:00.000Z' };
  t.same(decodeValue(hostValue, 'k', encodeValue(h)), { ok: true, value: h });
  const a = { revision: 7, generation: 'abc123', at: '2026-11-30T08:00:00.000Z', error: null };
  t.same(decodeValue(appliedValue, 'k', encodeValue(a)), { ok: true, value: a });
  t.same(decodeValue(topologyValue, 'k', encodeValue({ source: 'x', file: 'f.yaml' })), { ok: true, value: { source: 'x', file: 'f.yaml' } });
  const bad: Array<[string, ReturnType<typeof decodeValue>]> = [
    ['{', decodeValue(hostValue, '/vnf/hosts/h1', '{')],
    ['underlay', decodeValue(hostValue, '/vnf/hosts/h1', JSON.stringify({ ...h, underlay: '300.1.1.1' }))],
    ['extra', decodeValue(hostValue, '/vnf/hosts/h1', JSON.stringify({ ...h, evil: true }))],
    ['revision', decodeValue(appliedValue, '/vnf/applied/h1', JSON.stringify({ ...a, revision: -1 }))],
    ['generation', decodeValue(appliedValue, '/vnf/applied/h1', JSON.stringify({ ...a, generation: 'XYZ' }))],
    ['source', decodeValue(topologyValue, '/vnf/topology', JSON.stringify({ source: '', file: 'f' }))],
    ['array', decodeValue(topologyValue, '/vnf/topology', '[]')],
  ];
  for (const [what, d] of bad) {
    t.equal(d.ok, false, what);
    if (!d.ok) t.match(d.problem, /^\/vnf\/(hosts|applied)\/h1: |^\/vnf\/topology: /, `${what}: ${d.problem}`);
  }
});

t.test('snapshotOf sorts the keys and leaves out (and reports) what does not validate', async (t) => {
  const k = { keys: storeKeys() };
  const kv = (key: string, value: string, rev = 5): { key: Buffer; value: Buffer; mod_revision: string } => ({ key: Buffer.from(key), value: Buffer.from(value), mod_revision: String(rev) });
  const s = snapshotOf(k, 9, [
    kv('/vnf/topology', JSON.stringify({ source: 'apiVersion: vnf/v1', file: 't.yaml' }), 4),
    kv('/vnf/hosts/h1', JSON.stringify({ underlay: '192.0.2.1', version: '1', startedAt: '2026-11-30T08:00:00.000Z' })),
    kv('/vnf/hosts/h2', 'not json'),
    kv('/vnf/applied/h1', JSON.stringify({ revision: 4, generation: null, at: '2026-11-30T08:00:00.000Z', error: 'boom' })),
    kv('/vnf/unrelated', 'x'),
  ]);
  t.equal(s.revision, 9);
  t.equal(s.topology?.revision, 4, 'the topology\'s revision is its mod revision');
  t.same([...s.hosts.keys()], ['h1']);
  t.equal(s.applied.get('h1')?.error, 'boom');
  t.equal(s.problems.length, 1);
  t.match(s.problems[0], /^\/vnf\/hosts\/h2: not JSON/);
});

t.test('store URLs: http(s)://host:port, anything else is invalid input', async (t) => {
  t.equal(checkStoreUrl('http://127.0.0.1:2379'), 'http://127.0.0.1:2379');
  t.equal(checkStoreUrl('https://etcd:2379/'), 'https://etcd:2379');
  for (const bad of ['127.0.0.1:2379', 'ftp://x:1', 'nonsense']) t.throws(() => checkStoreUrl(bad), { name: 'InputError', message: /invalid store URL/ }, bad);
  t.equal(readable(new Error('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ')), 'connect ECONNREFUSED 127.0.0.1:1');
  t.equal(readable(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded')), 'Deadline exceeded');
});

t.test('a registration whose underlay cannot be a VTEP is reported, never trusted', async (t) => {
  const h = { version: '0.1.0', startedAt: '2026-11-30T08:00:00.000Z' };
  for (const bad of ['127.0.0.1', '127.9.9.9', '0.0.0.0', '224.0.0.1', '239.1.2.3', '240.0.0.1', '255.255.255.255']) {
    const d = decodeValue(hostValue, '/vnf/hosts/h1', JSON.stringify({ ...h, underlay: bad }));
    t.equal(d.ok, false, `${bad} is refused`);
    if (!d.ok) t.match(d.problem, /^\/vnf\/hosts\/h1: invalid value \(underlay: a unicast IPv4 address/);
  }
  for (const good of ['10.0.0.1', '192.0.2.1', '223.255.255.254', '1.0.0.0']) {
    t.equal(decodeValue(hostValue, 'k', JSON.stringify({ ...h, underlay: good })).ok, true, `${good} is a VTEP`);
  }
});

t.test('two hosts with the same underlay: the first registered keeps it, the other is left out and reported', async (t) => {
  const k = { keys: storeKeys() };
  const reg = (host: string, underlay: string, created: number): { key: Buffer; value: Buffer; mod_revision: string; create_revision: string } => ({
    key: Buffer.from(`/vnf/hosts/${host}`), value: Buffer.from(JSON.stringify({ underlay, version: '1', startedAt: '2026-11-30T08:00:00.000Z' })),
    mod_revision: String(created + 10), create_revision: String(created),
  });
  // h0 (keys sort first) registered later with h1's address: it must not take h1's traffic.
  const s = snapshotOf(k, 30, [reg('h0', '192.0.2.1', 7), reg('h1', '192.0.2.1', 3), reg('h2', '192.0.2.2', 5)]);
  t.same([...s.hosts].map(([n, v]) => [n, v.underlay]).sort(), [['h1', '192.0.2.1'], ['h2', '192.0.2.2']]);
  t.same([...s.shadowed.keys()], ['h0']);
  t.same(s.problems, ["/vnf/hosts/h0: underlay 192.0.2.1 is already host h1's: left out"]);
});
