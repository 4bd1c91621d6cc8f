import t from 'tap';
import {
  containerMacSeed,
  deriveMac,
  isLocallyAdministered,
  isUnicast,
  parseMac,
  routerMacSeed,
} from '../../../src/spec/mac.js';
import { parseTopology } from '../../../src/spec/index.js';
import { BASE } from './fixture.js';

t.test('deriveMac is deterministic, locally administered and unicast', async (t) => {
  const seed = containerMacSeed('demo', 'web', 'eth0');
  t.equal(deriveMac(seed), deriveMac(seed));
  // Pinned: changing the derivation would change every container's MAC on upgrade.
  t.equal(deriveMac(seed), '0e:b6:74:0b:88:4b');
  const seen = new Set<string>();
  const bad: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const mac = deriveMac(containerMacSeed('demo', `c${i}`, 'eth0'));
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) || !isLocallyAdministered(mac) || !isUnicast(mac)) bad.push(mac);
    seen.add(mac);
  }
  t.same(bad, [], 'every derived MAC is a well-formed, locally administered unicast address');
  t.equal(seen.size, 2000, 'no collisions among 2000 seeds');
});

t.test('containers and routers with the same names get different MACs', async (t) => {
  t.not(deriveMac(containerMacSeed('demo', 'r1', 'front')), deriveMac(routerMacSeed('demo', 'r1', 'front')));
  t.not(deriveMac(containerMacSeed('demo', 'web', 'eth0')), deriveMac(containerMacSeed('other', 'web', 'eth0')));
});

t.test('parseMac', async (t) => {
  t.same(parseMac('02:AB:cd:00:00:01'), { ok: true, value: '02:ab:cd:00:00:01' }, 'normalized to lowercase');
  const cases: [string, RegExp][] = [
    ['02:00:00:00:00', /six hex octets/],
    ['02-00-00-00-00-01', /six hex octets/],
    ['02:00:00:00:00:0g', /six hex octets/],
    ['01:00:5e:00:00:01', /multicast/],
    ['ff:ff:ff:ff:ff:ff', /multicast/],
    ['00:00:00:00:00:00', /not a usable/],
  ];
  for (const [text, reason] of cases) {
    const r = parseMac(text);
    t.notOk(r.ok, text);
    if (!r.ok) t.match(r.error, reason, text);
  }
});

t.test('the model derives MACs for interfaces and router ports, and keeps given ones', async (t) => {
  const first = parseTopology(BASE);
  const second = parseTopology(BASE);
  if (!first.ok || !second.ok) throw new Error('BASE must be valid');
  t.same(first.topology, second.topology, 'stable across runs');
  const web = first.topology.containers.find((c) => c.name === 'web')?.interfaces[0];
  const db = first.topology.containers.find((c) => c.name === 'db')?.interfaces[0];
  t.equal(web?.mac, deriveMac(containerMacSeed('t', 'web', 'eth0')));
  t.equal(db?.mac, '02:00:00:00:02:0a');
  const port = first.topology.routers[0]?.ports.find((p) => p.network === 'front');
  t.equal(port?.mac, deriveMac(routerMacSeed('t', 'r1', 'front')));
  if (port) t.ok(isLocallyAdministered(port.mac) && isUnicast(port.mac));
});
