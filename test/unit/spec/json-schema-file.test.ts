/**
 * docs/topology.schema.json is what `vnf-ctl schema` prints (regenerate it with `make schema`),
 * every property carries a description, and the examples point editors at it.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { topologySchemaJson } from '../../../src/spec/index.js';
import { ROOT } from '../../helpers/paths.js';

const shipped = readFileSync(join(ROOT, 'docs', 'topology.schema.json'), 'utf8');

t.test('the shipped schema is the generated one', async (t) => {
  t.equal(shipped, `${JSON.stringify(topologySchemaJson(), null, 2)}\n`, 'docs/topology.schema.json is current: run `make schema`');
});

t.test('every property has a description; defaults where the format has them', async (t) => {
  const missing: string[] = [];
  const walk = (n: unknown, path: string): void => {
    if (typeof n !== 'object' || n === null) return;
    const o = n as Record<string, unknown>;
    for (const [k, v] of Object.entries((o['properties'] as Record<string, Record<string, unknown>> | undefined) ?? {})) {
      const described = typeof v['description'] === 'string' || ((v['anyOf'] as Array<Record<string, unknown>> | undefined) ?? []).some((x) => typeof x['description'] === 'string');
      if (!described) missing.push(`${path}.${k}`);
      walk(v, `${path}.${k}`);
    }
    if (o['additionalProperties']) walk(o['additionalProperties'], `${path}.*`);
    if (o['items']) walk(o['items'], `${path}[]`);
    for (const k of ['anyOf', 'oneOf', 'allOf']) for (const x of (o[k] as unknown[] | undefined) ?? []) walk(x, path);
  };
  const schema = JSON.parse(shipped) as Record<string, unknown>;
  walk(schema, '');
  t.same(missing, [], 'no property without a description');
  const text = JSON.stringify(schema);
  for (const [what, re] of [['fdb aging default', /"description":"seconds after which an unused learned MAC is forgotten","default":300/], ['conntrack timeout default', /"default":432000/], ['firewall default', /"default":"allow"/]] as const) {
    t.match(text, re, what);
  }
});

t.test('the examples point at it', async (t) => {
  for (const f of readdirSync(join(ROOT, 'examples'))) {
    const text = readFileSync(join(ROOT, 'examples', f), 'utf8');
    if (f.endsWith('.yaml')) t.match(text.split('\n')[0], '# yaml-language-server: $schema=../docs/topology.schema.json', `${f}: first line`);
    else if (f.endsWith('.json')) t.equal((JSON.parse(text) as { $schema?: string }).$schema, '../docs/topology.schema.json', `${f}: $schema`);
  }
});
