/**
 * Lab topologies for integration tests: a topology file with a random name
 * (so runs never collide), brought up with the real CLI, always torn down
 * (lab down + a final sweep of its pins, record and namespaces).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { labNetns, pinDir, stateDir } from '../../src/model/names.js';
import { vnfctl } from './cli.js';
import { run } from './sh.js';

export interface Lab {
  name: string;
  file: string;
  /** ip netns name of a container. */
  ns(container: string): string;
}

/** Writes `yaml` (with NAME replaced by a random topology name) and registers teardown. */
export function labFile(t: Test, yaml: string, containers: string[]): Lab {
  const name = `t${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'vnf-lab-'));
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, yaml.replaceAll('NAME', name));
  chmodSync(dir, 0o755); // readable by an unprivileged vnf-ctl too
  t.teardown(() => {
    vnfctl(['lab', 'down', '-f', file]);
    for (const c of containers) run('ip', ['netns', 'del', labNetns(name, c)]);
    rmSync(pinDir(name), { recursive: true, force: true });
    rmSync(stateDir(name), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  return { name, file, ns: (c) => labNetns(name, c) };
}

export function labUp(t: Test, yaml: string, containers: string[]): Lab {
  const lab = labFile(t, yaml, containers);
  const r = vnfctl(['lab', 'up', '-f', lab.file]);
  if (r.status !== 0) throw new Error(`lab up failed (${r.status}): ${r.stderr}${r.stdout}`);
  return lab;
}

/** Two networks joined by a router, two containers on the first, one on the second. */
export const TWO_NETS = `
apiVersion: vnf/v1
name: NAME
containers:
  a: { interfaces: { eth0: { network: left, ip: 10.61.1.10/24 } } }
  b: { interfaces: { eth0: { network: left, ip: 10.61.1.11/24 } } }
  c: { interfaces: { eth0: { network: right, ip: 10.61.2.10/24 } } }
networks:
  left: { subnet: 10.61.1.0/24 }
  right: { subnet: 10.61.2.0/24 }
routers:
  r: { ports: { left: 10.61.1.1/24, right: 10.61.2.1/24 } }
`;
