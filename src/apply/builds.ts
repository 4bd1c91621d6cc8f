/** The BPF objects of this build of vnf, identified by content hash. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '../native/binding.js';
import type { Build } from '../plan/plan.js';
import { OBJECTS } from '../vnf/registry.js';

/**
 * The folder of the BPF objects: build/bpf of this checkout, or the folder named by
 * VNF_BPF_OBJECTS. That variable is a development and testing override (e.g. a test that makes
 * an apply fail in the verifier puts a rejected object in a copy of build/bpf); vnf never sets it.
 */
export function objectsDir(): string {
  const override = process.env['VNF_BPF_OBJECTS'];
  return override ? resolve(override) : join(projectRoot(), 'build', 'bpf');
}

export const objectPath = (object: string): string => join(objectsDir(), `${object}.bpf.o`);

export function currentBuilds(): Build[] {
  return OBJECTS().map((v) => {
    const file = objectPath(v.object!);
    if (!existsSync(file)) {
      throw new Error(process.env['VNF_BPF_OBJECTS']
        ? `${file} is missing: VNF_BPF_OBJECTS=${process.env['VNF_BPF_OBJECTS']} must hold every object of build/bpf`
        : `${file} is missing: run \`make\` to build the BPF objects`);
    }
    const hash = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
    return { object: v.object!, hash, programs: v.programs ?? [] };
  });
}
