import { join } from 'node:path';
import { projectRoot } from '../../src/native/binding.js';

export const ROOT = projectRoot();
export const testObject = (name: string): string => join(ROOT, 'build', 'test-bpf', `${name}.bpf.o`);
export const vnfObject = (name: string): string => join(ROOT, 'build', 'bpf', `${name}.bpf.o`);
