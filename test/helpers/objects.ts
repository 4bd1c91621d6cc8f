/**
 * Loads a test BPF object with its pinned-by-name maps under a fresh bpffs
 * folder (libbpf would otherwise pin them at /sys/fs/bpf itself), removed at
 * teardown together with the object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Test } from 'tap';
import { BpfObject, type OpenOptions } from '../../src/bpf/object.js';
import { testObject } from './paths.js';

export function tempPinDir(t: Test): string {
  const dir = mkdtempSync('/sys/fs/bpf/vnf-test-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function loadTest(t: Test, name: string, opts: OpenOptions = {}): Promise<BpfObject> {
  const pinRoot = opts.pinRoot ?? tempPinDir(t);
  const obj = await BpfObject.load(testObject(name), { ...opts, pinRoot });
  t.teardown(() => obj.close());
  return obj;
}
