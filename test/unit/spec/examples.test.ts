import t from 'tap';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { formatAddr, loadTopology, SpecError } from '../../../src/spec/index.js';

const dir = fileURLToPath(new URL('../../../examples/', import.meta.url));
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));

t.test('the examples directory has the documented examples', async (t) => {
  for (const name of ['demo.yaml', 'firewall.yaml', 'minimal.json']) t.ok(files.includes(name), name);
});

for (const file of files) {
  t.test(`examples/${file} validates`, async (t) => {
    let error: unknown;
    try {
      const topology = loadTopology(join(dir, file));
      t.equal(topology.apiVersion, 'vnf/v1');
      t.ok(topology.networks.length > 0);
    } catch (e) {
      error = e;
    }
    t.equal(error, undefined, error instanceof SpecError ? error.format() : String(error));
  });
}

t.test('demo.yaml has what the docs promise', async (t) => {
  const demo = loadTopology(join(dir, 'demo.yaml'));
  t.same(demo.networks.map((n) => n.name), ['back', 'front', 'mgmt']);
  t.same(demo.containers.map((c) => c.name), ['db', 'ops', 'web']);
  t.same(demo.routers[0]?.ports.map((p) => p.network), ['back', 'front']);
  t.ok(demo.routers[0]?.routes.some((r) => r.kind === 'static'));
  const web = demo.containers.find((c) => c.name === 'web')?.interfaces[0];
  t.equal(formatAddr(web?.gateway ?? 0), '10.1.0.1');
});

t.test('nat.yaml has the documented NAT', async (t) => {
  const nat = loadTopology(join(dir, 'nat.yaml')).ext.nat?.routers[0];
  t.equal(nat?.router, 'r1');
  t.equal(nat?.outside, 'wan');
  t.same(nat?.inside, ['back', 'front']);
  t.same([nat?.masquerade.length, nat?.floating.length, nat?.forward.length], [2, 1, 2]);
});

t.test('firewall.yaml has the documented firewall', async (t) => {
  const fw = loadTopology(join(dir, 'firewall.yaml')).ext.firewall?.firewalls.find((f) => f.name === 'web-in');
  t.equal(fw?.ingress.default, 'drop');
  t.equal(fw?.ingress.rules.length, 5);
  t.equal(fw?.egress.rules.length, 2);
  t.same(fw?.attach, [{ container: 'web', interface: 'eth0' }]);
});
