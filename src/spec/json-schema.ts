/** The topology file format as JSON Schema, for editors (yaml-language-server, VS Code) and docs. */
import * as z from 'zod';
import { API_VERSION, topologySchema } from './schema.js';

export const TOPOLOGY_SCHEMA_ID = 'https://vnf.dev/schemas/topology-v1.json';

/**
 * JSON Schema (draft 2020-12) of what a user may write. It checks shapes and syntax patterns;
 * the cross-reference and addressing rules are only checked by parseTopology.
 */
export function topologyJsonSchema(): Record<string, unknown> {
  const generated: Record<string, unknown> = z.toJSONSchema(topologySchema(), {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  });
  const { $schema: _ignored, ...rest } = generated;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: TOPOLOGY_SCHEMA_ID,
    title: `vnf topology (${API_VERSION})`,
    description: 'Networks (eBPF bridges), routers, firewalls and the containers plugged into them.',
    ...rest,
  };
}
