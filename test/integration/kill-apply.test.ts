/**
 * vnf-ctl apply killed with SIGKILL at random moments while policies change under traffic
 * (issue 7): whatever the moment, traffic every policy denies never passes, traffic of ports the
 * change does not touch never stops, and one apply afterwards converges (plan shows nothing).
 *
 * Two big policies (A and B, a few thousand rules each, so an apply takes long enough to be
 * killed inside) alternate on web's firewall, with other filler rules each round: rule sets are
 * double-buffered, and a policy the standby already holds would only flip bindings, so every
 * round writes the standby (and kills land inside those writes). Throughout, these flows run:
 *   - untouched: ping every 10 ms between two ports without a firewall (must lose nothing),
 *   - allowed by both policies: ping db -> web (reported, not asserted: web's port is touched),
 *   - denied by both: UDP datagrams to web:9999 and TCP connects to web:22 (must never arrive).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp } from '../helpers/lab.js';
import { ROOT } from '../helpers/paths.js';
import { background, type Background } from '../helpers/background.js';

const KILLS = 32;
const EXTRA_A = '        - { action: allow, proto: udp, from: 10.72.2.0/24, ports: [5000] }';
const EXTRA_B = '        - { action: allow, proto: tcp, from: 10.72.2.0/24, ports: [8080] }';

/** A policy: the rules that matter, then filler rules that match none of the test's traffic. */
function policy(seed: number, extra: string): string {
  const lines = [
    '        - { action: allow, proto: icmp, icmp-type: echo-request, from: 10.72.2.0/24 }',
    '        - { action: allow, proto: tcp, from: 10.72.2.0/24, ports: [80] }',
    extra,
  ];
  let x = seed;
  const rnd = (n: number): number => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % n;
  };
  for (let i = 0; i < 3000; i++) {
    lines.push(`        - { action: ${rnd(2) ? 'allow' : 'drop'}, proto: ${['tcp', 'udp'][rnd(2)]}, from: 172.${16 + rnd(16)}.${rnd(256)}.${rnd(256)}/32, ports: [${1 + rnd(60000)}] }`);
  }
  return lines.join('\n');
}

const topology = (rules: string): string => `
apiVersion: vnf/v1
name: NAME
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.72.1.10/24 } } }
  db: { interfaces: { eth0: { network: back, ip: 10.72.2.10/24 } } }
  other: { interfaces: { eth0: { network: front, ip: 10.72.1.20/24 } } }
  peer: { interfaces: { eth0: { network: back, ip: 10.72.2.20/24 } } }
networks:
  front: { subnet: 10.72.1.0/24 }
  back: { subnet: 10.72.2.0/24 }
routers:
  r: { ports: { front: 10.72.1.1/24, back: 10.72.2.1/24 } }
firewalls:
  web-in:
    attach: [web/eth0]
    ingress:
      default: drop
      rules:
${rules}
`;

/** Stops a ping with SIGINT and returns [transmitted, received]. */
async function stopPing(p: Background): Promise<[number, number]> {
  await p.stop('SIGINT');
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(p.out());
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** Runs vnf-ctl apply and SIGKILLs it after `afterMs`; whether the kill landed before it finished. */
function applyAndKill(file: string, afterMs: number): Promise<{ killed: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), 'apply', '-f', file, '-q'], { stdio: 'ignore' });
    const timer = setTimeout(() => p.kill('SIGKILL'), afterMs);
    p.on('close', (_status, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL' });
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (requirePrivileges(t)) {
  t.test(`apply killed at ${KILLS} random moments under traffic: never more open, untouched ports never stop, one apply converges`, async (t) => {
    const polA = topology(policy(1, EXTRA_A));
    const polB = topology(policy(2, EXTRA_B));
    const lab = labUp(t, polA, ['web', 'db', 'other', 'peer']);
    const fileA = lab.file;
    const fileB = `${lab.file}.b.yaml`;
    writeFileSync(fileB, polB.replaceAll('NAME', lab.name));

    // How long a whole apply of a policy change takes here: the window the kills land in.
    let t0 = Date.now();
    t.equal(vnfctl(['apply', '-f', fileB, '-q'], { timeoutMs: 120_000 }).status, 0, 'a full apply of B');
    const toB = Date.now() - t0;
    t0 = Date.now();
    t.equal(vnfctl(['apply', '-f', fileA, '-q'], { timeoutMs: 120_000 }).status, 0, 'a full apply of A');
    const toA = Date.now() - t0;
    // A change like the rounds' (other filler rules: written into the standby where it differs).
    const fileC = `${lab.file}.c.yaml`;
    writeFileSync(fileC, topology(policy(3, EXTRA_B)).replaceAll('NAME', lab.name));
    t0 = Date.now();
    t.equal(vnfctl(['apply', '-f', fileC, '-q'], { timeoutMs: 120_000 }).status, 0, 'a full apply of a variant of B');
    const window = Math.max(toB, toA, Date.now() - t0);
    t.comment(`an apply of a 3003-rule policy change takes about ${window} ms here`);

    const untouched = background(t, lab.ns('other'), 'exec ping -i 0.01 10.72.2.20');
    const both = background(t, lab.ns('db'), 'exec ping -i 0.05 10.72.1.10');
    const sink = background(t, lab.ns('web'), 'exec nc -u -l -k 9999');
    const control = background(t, lab.ns('web'), 'exec nc -u -l -k 5000');
    const ssh = background(t, lab.ns('web'), 'while true; do nc -l 22 && echo ACCEPTED; done');
    const udp = background(t, lab.ns('db'), 'while true; do echo denied; sleep 0.01; done | nc -u 10.72.1.10 9999');
    const probe = background(t, lab.ns('db'), 'while true; do nc -z -w 1 10.72.1.10 22 && echo CONNECTED; sleep 0.05; done');
    await sleep(500);

    let killedInside = 0;
    let partial = 0;
    let seed = 7;
    for (let i = 0; i < KILLS; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const at = Math.floor((seed / 0x7fffffff) * window * 1.1);
      const file = `${lab.file}.${i}.yaml`;
      writeFileSync(file, (i % 2 ? topology(policy(100 + i, EXTRA_A)) : topology(policy(100 + i, EXTRA_B))).replaceAll('NAME', lab.name));
      const r = await applyAndKill(file, at);
      if (r.killed) killedInside++;
      // What the kill left: a plan that is not empty means the kernel is between two policies.
      const plan = vnfctl(['plan', '-f', file], { timeoutMs: 120_000 });
      t.equal(plan.status, 0, `kill ${i} at ${at} ms: the state it left can be planned from (${plan.stderr.trim()})`);
      if (!/no changes/.test(plan.stdout)) partial++;
    }
    t.comment(`${killedInside} of ${KILLS} applies were killed before they finished; ${partial} left a half-applied state`);
    t.ok(killedInside >= KILLS / 2, 'most kills landed inside an apply');
    t.ok(partial >= 5, 'and many left the kernel mid-change (the test exercised partial states)');

    // One apply converges, and then there is nothing left to do.
    const last = vnfctl(['apply', '-f', fileA, '-q'], { timeoutMs: 120_000 });
    t.equal(last.status, 0, `one apply converges (${last.stderr.trim()})`);
    t.match(vnfctl(['plan', '-f', fileA], { timeoutMs: 120_000 }).stdout, /no changes/, 'a second plan shows nothing');

    await sleep(300);
    const [sent, got] = await stopPing(untouched);
    const [bsent, bgot] = await stopPing(both);
    t.comment(`untouched ports: ${got}/${sent} pings; allowed by both policies (web, touched): ${bgot}/${bsent}`);
    t.ok(sent > 100, 'the untouched flow ran throughout');
    t.equal(got, sent, 'traffic between ports the changes do not touch never stopped');

    // The plumbing works: a datagram policy A allows does arrive (so silence below means denial).
    const allowed = background(t, lab.ns('db'), 'for i in 1 2 3 4 5; do echo allowed; sleep 0.1; done | nc -u -w 1 10.72.1.10 5000');
    await new Promise((r) => allowed.proc.on('close', r));
    await sleep(200);
    t.match(control.out(), /allowed/, 'control: a datagram the policy allows arrives');
    t.equal(udp.proc.exitCode, null, 'the denied sender ran throughout');
    t.notMatch(sink.out(), /denied/, 'no datagram every policy denies arrived');
    t.notMatch(probe.out(), /CONNECTED/, 'no TCP connection to a port every policy denies');
    t.notMatch(ssh.out(), /ACCEPTED/, 'the listener never accepted one');
  });
}
