/**
 * Names vnf derives from topology, container and interface names must not collide across
 * topologies: lab namespaces join the two names with '.', which no valid name contains.
 */
import t from 'tap';
import { hostVethName, labNetns } from '../../../src/model/names.js';
import { checkName } from '../../../src/spec/names.js';

t.test('lab namespaces of topology a-b container c and topology a container b-c differ', async (t) => {
  t.not(labNetns('a-b', 'c'), labNetns('a', 'b-c'));
  t.equal(labNetns('a-b', 'c'), 'vnf.a-b.c');
  t.equal(labNetns('a', 'b-c'), 'vnf.a.b-c');
});

t.test('every split of a dashed name gives a different namespace', async (t) => {
  const parts = 'x-y-z-w'.split('-');
  const seen = new Set<string>();
  for (let i = 1; i < parts.length; i++) {
    const topology = parts.slice(0, i).join('-');
    const container = parts.slice(i).join('-');
    t.equal(checkName(topology), undefined);
    t.equal(checkName(container), undefined);
    seen.add(labNetns(topology, container));
  }
  t.equal(seen.size, parts.length - 1);
});

t.test("the separator cannot occur in a valid name, so the split is exact", async (t) => {
  t.not(checkName('a.b'), undefined, "'.' is not allowed in names");
  const ns = labNetns('a-b', 'c-d');
  t.same(ns.split('.'), ['vnf', 'a-b', 'c-d']);
});

t.test('host-side veth names of the two differ too', async (t) => {
  t.not(hostVethName('a-b', 'c', 'eth0'), hostVethName('a', 'b-c', 'eth0'));
  t.match(hostVethName('a-b', 'c', 'eth0'), /^vnf[0-9a-f]{8}$/);
});
