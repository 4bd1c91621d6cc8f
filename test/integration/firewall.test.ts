/**
 * The stateful firewall end to end: real namespaces, real TCP/ICMP, policy
 * from the topology file, changes applied under running traffic.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp } from '../helpers/lab.js';
import { ping, tcpTransfer } from '../helpers/netns.js';
import { background } from '../helpers/background.js';

const base = (ingressRules: string): string => `
apiVersion: vnf/v1
name: NAME
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.71.1.10/24 } } }
  db: { interfaces: { eth0: { network: back, ip: 10.71.2.10/24 } } }
  intruder: { interfaces: { eth0: { network: other, ip: 10.71.3.10/24 } } }
networks:
  front: { subnet: 10.71.1.0/24 }
  back: { subnet: 10.71.2.0/24 }
  other: { subnet: 10.71.3.0/24 }
routers:
  r: { ports: { front: 10.71.1.1/24, back: 10.71.2.1/24, other: 10.71.3.1/24 } }
firewalls:
  web-in:
    attach: [web/eth0]
    ingress:
      default: drop
      rules:
${ingressRules}
    egress:
      default: allow
`;
const RULES = `        - { action: allow, proto: tcp, from: 10.71.2.0/24, ports: [80] }
        - { action: allow, proto: icmp, icmp-type: echo-request, from: 10.71.2.0/24 }
        - { action: reject, proto: tcp, ports: [81] }`;

/** A TCP connect attempt: exit status and how long it took. */
function connect(ns: string, ip: string, port: number, timeoutS = 2): { status: number; ms: number; stderr: string } {
  const t0 = Date.now();
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nc', '-z', '-v', '-w', String(timeoutS), ip, String(port)], { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status ?? -1, ms: Date.now() - t0, stderr: r.stderr ?? '' };
}

/** A listener that accepts connections on a port until the test ends (background). */
function listen(t: Test, ns: string, port: number): void {
  background(t, ns, `while true; do nc -l ${port} >/dev/null; done`);
}

if (requirePrivileges(t)) {
  t.test('web reachable on 80 from back, not from other; unsolicited inbound blocked, replies pass; reject refuses at once', async (t) => {
    const lab = labUp(t, base(RULES), ['web', 'db', 'intruder']);
    listen(t, lab.ns('web'), 80);
    listen(t, lab.ns('web'), 22);
    await new Promise((r) => setTimeout(r, 400));
    t.equal(connect(lab.ns('db'), '10.71.1.10', 80).status, 0, 'db (back) connects to web:80');
    const intr = connect(lab.ns('intruder'), '10.71.1.10', 80);
    t.not(intr.status, 0, 'intruder (other) cannot connect to web:80');
    t.ok(intr.ms >= 1500, 'silently dropped (timed out)');
    t.not(connect(lab.ns('db'), '10.71.1.10', 22).status, 0, 'db cannot reach web:22 (default drop)');
    const rej = connect(lab.ns('db'), '10.71.1.10', 81);
    t.not(rej.status, 0);
    t.match(rej.stderr, /refused/i, 'reject answers with a TCP RST: connection refused');
    t.ok(rej.ms < 1000, `refused at once (${rej.ms} ms)`);
    t.equal(ping(lab.ns('db'), '10.71.1.10', 2), 2, 'ping from back allowed');
    t.equal(ping(lab.ns('intruder'), '10.71.1.10', 2), 0, 'ping from other dropped');
    // web opens connections outward (egress allow): the replies pass its ingress default drop.
    listen(t, lab.ns('intruder'), 9000);
    await new Promise((r) => setTimeout(r, 300));
    t.equal(connect(lab.ns('web'), '10.71.3.10', 9000).status, 0, 'replies to web-initiated connections pass');
    t.equal(ping(lab.ns('web'), '10.71.3.10', 2), 2, 'echo replies to web pass');
    const ct = JSON.parse(vnfctl(['conntrack', lab.name, '-o', 'json']).stdout) as Array<{ proto: string; dst: { address: string; port: number | null }; state: string; direction: string | null }>;
    t.ok(ct.some((c) => c.proto === 'tcp' && c.dst.address === '10.71.1.10' && c.dst.port === 80 && c.direction === 'ingress'), 'the allowed inbound connection is tracked');
    const get = JSON.parse(vnfctl(['get', lab.name, '-o', 'json']).stdout) as { firewallRules: Array<{ direction: string; index: number | null; action: string; packets: number }> };
    const ingress = get.firewallRules.filter((r) => r.direction === 'ingress');
    t.ok(ingress.find((r) => r.index === 0)!.packets >= 1, 'rule 0 counted its hit');
    t.ok(ingress.find((r) => r.index === 2)!.packets >= 1, 'reject rule counted');
    t.ok(ingress.find((r) => r.index === null)!.packets >= 2, 'default drop counted');
    const flushed = vnfctl(['conntrack', lab.name, '--flush']);
    t.match(flushed.stdout, /connections flushed/);
  });

  t.test('changing the policy under running traffic: allowed flows keep going, newly denied traffic stops at once', async (t) => {
    const lab = labUp(t, base(RULES), ['web', 'db', 'intruder']);
    // A TCP stream of 30 lines over ~3 s and a ping every 0.1 s, while the policy changes twice.
    const payload = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const stream = tcpTransfer(lab.ns('web'), lab.ns('db'), '10.71.1.10', 80, payload, 0.1);
    const pings = new Promise<string>((resolve) => {
      const p = spawn('ip', ['netns', 'exec', lab.ns('db'), 'ping', '-i', '0.1', '-c', '25', '-W', '1', '10.71.1.10'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('close', () => resolve(out));
    });
    await new Promise((r) => setTimeout(r, 800));
    // 1. A change that keeps both allowed (a rule added): no loss.
    writeFileSync(lab.file, base(RULES + '\n        - { action: allow, proto: udp, ports: [53] }').replaceAll('NAME', lab.name));
    const a = vnfctl(['apply', '-f', lab.file]);
    t.equal(a.status, 0, a.stderr);
    t.match(a.stdout, /firewall web-in:\n.*\+ ingress rule 3: allow udp ports 53/, 'plan shows the rule-level change');
    const pingOut = await pings;
    t.match(pingOut, /25 packets transmitted, 25 received/, 'no ping lost while the rule set was switched');
    const tcp = await stream;
    t.equal(tcp.received, payload, 'the TCP stream arrived complete across the switch');
    // 2. A change that denies ping: blocked at once, also for the tracked echo "connection".
    writeFileSync(lab.file, base(`        - { action: allow, proto: tcp, from: 10.71.2.0/24, ports: [80] }`).replaceAll('NAME', lab.name));
    t.equal(vnfctl(['apply', '-f', lab.file]).status, 0);
    t.equal(ping(lab.ns('db'), '10.71.1.10', 2), 0, 'ping denied right after apply');
    t.equal(connect(lab.ns('db'), '10.71.1.10', 81, 1).stderr.match(/refused/i), null, 'port 81 no longer rejected (now default drop)');
  });
}
