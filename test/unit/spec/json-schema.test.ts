import t from 'tap';
import { TOPOLOGY_SCHEMA_ID, topologySchemaJson } from '../../../src/spec/index.js';

t.test('the JSON Schema describes the topology file', async (t) => {
  const schema = topologySchemaJson();
  t.type(schema, 'object');
  t.equal(schema['$schema'], 'https://json-schema.org/draft/2020-12/schema');
  t.equal(schema['$id'], TOPOLOGY_SCHEMA_ID);
  t.match(schema['title'], /vnf/);
  t.equal(schema['type'], 'object');
  t.equal(schema['additionalProperties'], false, 'unknown top-level keys are rejected');
  const properties = schema['properties'];
  t.type(properties, 'object');
  for (const key of ['apiVersion', 'name', 'settings', 'networks', 'containers', 'routers', 'firewalls']) {
    t.ok(Object.hasOwn(properties as object, key), key);
  }
  t.same(schema['required'], ['apiVersion', 'name', 'networks']);
  t.match(properties, { apiVersion: { const: 'vnf/v1' }, name: { pattern: String, maxLength: 15 } });
  t.same(JSON.parse(JSON.stringify(schema)), schema, 'plain JSON data');
});
