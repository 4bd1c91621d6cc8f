/**
 * Foundation demo: two network namespaces joined by a veth pair; the binding
 * loads a counting TC program, attaches it (tcx) to one end inside its
 * namespace, a real ping crosses it, and the per-CPU counters are read back.
 * Everything it creates is removed at the end, also on failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject, attachTc, detachTc, prepareEnvironment, projectRoot } from '../src/index.js';
import { u32 } from '../src/codec/struct.js';
import { sumCounters } from '../src/vnf/common/codec.js';

const sh = (...argv: string[]): string => execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' });

async function main(): Promise<void> {
  const problems = prepareEnvironment();
  if (problems.length) throw new Error(problems.join('; '));
  const suffix = process.pid.toString(36);
  const [a, b] = [`vnfdemo-a-${suffix}`, `vnfdemo-b-${suffix}`];
  const pins = mkdtempSync('/sys/fs/bpf/vnf-demo-');
  const cleanup: Array<() => void> = [
    () => rmSync(pins, { recursive: true, force: true }),
    () => spawnSync('ip', ['netns', 'del', a]),
    () => spawnSync('ip', ['netns', 'del', b]),
  ];
  try {
    console.log(`== namespaces ${a} (10.99.0.1) <-> ${b} (10.99.0.2) over a veth pair`);
    sh('ip', 'netns', 'add', a);
    sh('ip', 'netns', 'add', b);
    sh('ip', 'link', 'add', 'eth0', 'netns', a, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b);
    sh('ip', '-n', a, 'addr', 'add', '10.99.0.1/24', 'dev', 'eth0');
    sh('ip', '-n', b, 'addr', 'add', '10.99.0.2/24', 'dev', 'eth0');
    sh('ip', '-n', a, 'link', 'set', 'eth0', 'up');
    sh('ip', '-n', b, 'link', 'set', 'eth0', 'up');

    const file = join(projectRoot(), 'build', 'test-bpf', 'binding_test.bpf.o');
    const obj = await BpfObject.load(file, { pinRoot: pins });
    cleanup.unshift(() => obj.close());
    const prog = obj.program('bt_tc');
    console.log(`== loaded ${prog.name} (id ${prog.info().id}) from ${file}`);
    const att = attachTc(prog, 'eth0', 'ingress', { netns: `/run/netns/${b}` });
    cleanup.unshift(() => detachTc(att));
    console.log(`== attached to eth0 ingress in ${b} as a ${att.kind} ${att.kind === 'tcx' ? 'link' : 'filter'}`);

    console.log(sh('ip', 'netns', 'exec', a, 'ping', '-c', '5', '-i', '0.2', '10.99.0.2'));
    const counters = obj.map('bt_counters');
    const all = sumCounters(counters.splitPerCpu(counters.lookup(u32(0))!));
    const ipv4 = sumCounters(counters.splitPerCpu(counters.lookup(u32(2))!));
    console.log(`== counted on ${b}'s eth0 ingress: ${all.packets} packets (${all.bytes} bytes), of them ${ipv4.packets} IPv4`);
    if (ipv4.packets < 5n) throw new Error('expected at least 5 IPv4 packets to be counted');
  } finally {
    for (const f of cleanup) {
      try {
        f();
      } catch (e) {
        console.error(`cleanup: ${(e as Error).message}`);
      }
    }
    console.log('== cleaned up');
  }
}

main().catch((e: unknown) => {
  console.error(`demo failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
