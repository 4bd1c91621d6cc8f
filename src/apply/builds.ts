/** The BPF objects of this build of vnf, identified by content hash. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../native/binding.js';
import type { Build } from '../plan/plan.js';
import { OBJECTS } from '../vnf/registry.js';

export const objectPath = (object: string): string => join(projectRoot(), 'build', 'bpf', `${object}.bpf.o`);

export function currentBuilds(): Build[] {
  return OBJECTS().map((v) => {
    const file = objectPath(v.object!);
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`make\` to build the BPF objects`);
    const hash = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
    return { object: v.object!, hash, programs: v.programs ?? [] };
  });
}
