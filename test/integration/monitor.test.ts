/**
 * vnf-ctl monitor end to end: a real applied topology in namespaces, the built CLI as a child
 * process (-o json), drops caused by real traffic — a firewall rule, a firewall default, a spoofed
 * source address, a packet to a network no route leads to — received with the right reason, VNF,
 * port and rule; verdicts and new connections on request; a flood held to the rate limit with the
 * loss counted and nothing stalled; a monitor killed with SIGKILL whose heartbeat lapses, after
 * which the dataplane stops sending.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { labUp, type Lab } from '../helpers/lab.js';
import { nsRun, ping } from '../helpers/netns.js';
import { background } from '../helpers/background.js';
import { ROOT } from '../helpers/paths.js';
import { vnfctl } from '../helpers/cli.js';
import { pinDir } from '../../src/model/names.js';
import type { MonitorEvent } from '../../src/monitor/event.js';
import { readHeartbeats, readMonitorState } from '../../src/monitor/session.js';
import { BpfMap } from '../../src/bpf/map.js';
import { monCfgCodec } from '../../src/monitor/codec.js';
import { u32 } from '../../src/codec/struct.js';
import { REASONS } from '../../src/vnf/common/codec.js';
import { VNF_R_DROP_NO_ROUTE, VNF_R_DROP_POLICY, VNF_R_DROP_SPOOF_IP, VNF_R_FW_ALLOW, VNF_R_CT_NEW } from '../../src/abi/vnf_common.js';
import { VNF_MAP_EVENTS, VNF_MAP_MON_CFG, VNF_MAP_MON_STATE, VNF_MON_T_DROP, VNF_MON_TTL_MS } from '../../src/abi/monitor.js';

const TOPOLOGY = `
apiVersion: vnf/v1
name: NAME
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.74.1.10/24 } } }
  db: { interfaces: { eth0: { network: back, ip: 10.74.2.10/24 } } }
networks:
  front: { subnet: 10.74.1.0/24 }
  back: { subnet: 10.74.2.0/24 }
routers:
  r: { ports: { front: 10.74.1.1/24, back: 10.74.2.1/24 } }
firewalls:
  web-in:
    attach: [web/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: tcp, from: 10.74.2.0/24, ports: [80] }
        - { name: no-ssh, action: drop, proto: tcp, ports: [22] }
    egress:
      default: allow
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Monitor {
  proc: ChildProcess;
  events(): MonitorEvent[];
  stderr(): string;
  stdout(): string;
  /** Sends `signal`; resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The built CLI's monitor as a child process, -o json; resolves once it listens. */
async function monitor(t: Test, lab: Lab, args: string[], output = 'json'): Promise<Monitor> {
  const proc = spawn(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), 'monitor', lab.name, '-o', output, '--stats-interval', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  t.teardown(async () => {
    proc.kill('SIGKILL');
    await exited;
  });
  const end = Date.now() + 10_000;
  while (!/monitoring/.test(err) && proc.exitCode === null && Date.now() < end) await sleep(20);
  if (!/monitoring/.test(err)) throw new Error(`monitor did not start: ${err}`);
  return {
    proc,
    events: () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as MonitorEvent),
    stderr: () => err,
    stdout: () => out,
    async stop(signal = 'SIGINT') {
      proc.kill(signal);
      return exited;
    },
  };
}

function connect(ns: string, ip: string, port: number): void {
  spawnSync('ip', ['netns', 'exec', ns, 'nc', '-z', '-w', '1', ip, String(port)], { timeout: 5000 });
}

if (requirePrivileges(t)) {
  t.test('drops of real packets arrive with their reason, VNF, port and rule; verdicts and new connections on request', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['web', 'db']);
    background(t, lab.ns('web'), 'while true; do nc -l 80 >/dev/null; done');
    t.equal(ping(lab.ns('db'), '10.74.2.1', 1), 1, 'db reaches its router');
    await sleep(300);
    const m = await monitor(t, lab, ['--type', 'drop,verdict', '--type', 'new']);

    connect(lab.ns('db'), '10.74.1.10', 22); // rule #1 (no-ssh) drops
    connect(lab.ns('db'), '10.74.1.10', 443); // the default drops
    connect(lab.ns('db'), '10.74.1.10', 80); // rule #0 allows: a verdict and a new connection
    nsRun(lab.ns('db'), ['ip', 'addr', 'add', '10.74.2.99/32', 'dev', 'eth0']);
    nsRun(lab.ns('db'), ['ping', '-c', '1', '-W', '1', '-I', '10.74.2.99', '10.74.2.1']); // not db's address
    nsRun(lab.ns('db'), ['ping', '-c', '1', '-W', '1', '10.99.0.1']); // no network there
    await sleep(700);
    t.equal(await m.stop('SIGINT'), 0, 'SIGINT: exit 0');
    const ev = m.events();
    t.match(m.stderr(), /monitor stopped: \d+ received/, 'the counts are shown at exit');

    const ssh = ev.find((e) => e.type === 'drop' && e.dport === 22);
    t.ok(ssh, 'the drop of db -> web:22');
    t.match(ssh, {
      vnf: 'firewall', reason: REASONS[VNF_R_DROP_POLICY], proto: 'tcp', src: '10.74.2.10', dst: '10.74.1.10', dport: 22,
      rule: { owner: 'web-in', direction: 'ingress', index: 1, text: 'no-ssh', action: 'drop' },
      port: { owner: 'db/eth0' }, out: { owner: 'web/eth0' }, network: 'front',
    }, 'names the firewall, its direction, the rule index and name, the port it came in on and the one it was going to');
    const dflt = ev.find((e) => e.type === 'drop' && e.dport === 443);
    t.match(dflt, { reason: REASONS[VNF_R_DROP_POLICY], rule: { owner: 'web-in', index: 'default' } }, 'the default rule');
    const spoof = ev.find((e) => e.type === 'drop' && e.src === '10.74.2.99');
    t.match(spoof, { vnf: 'core', reason: REASONS[VNF_R_DROP_SPOOF_IP], proto: 'icmp', port: { owner: 'db/eth0' }, network: 'back' }, 'a spoofed source: identity');
    t.notOk(spoof?.rule, 'no rule for an identity drop');
    const noRoute = ev.find((e) => e.type === 'drop' && e.dst === '10.99.0.1');
    t.match(noRoute, { vnf: 'router', reason: REASONS[VNF_R_DROP_NO_ROUTE], proto: 'icmp', src: '10.74.2.10' }, 'a packet to an unknown network');
    const verdict = ev.find((e) => e.type === 'verdict' && e.dport === 80);
    t.match(verdict, { action: 'allow', reason: REASONS[VNF_R_FW_ALLOW], rule: { owner: 'web-in', index: 0 } }, 'the allow verdict by rule #0');
    t.ok(ev.some((e) => e.type === 'verdict' && e.dport === 22 && e.action === 'drop'), 'and the deny verdict');
    const fresh = ev.find((e) => e.type === 'new' && e.dport === 80);
    t.match(fresh, { vnf: 'firewall', reason: REASONS[VNF_R_CT_NEW], rule: { index: 0 } }, 'the new connection');
    t.same(readHeartbeats(lab.name), [0n, 0n, 0n], 'stopped: the heartbeats are cleared, the dataplane sends nothing');
  });

  t.test('filters: --port, --from and --count; text output', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['web', 'db']);
    t.equal(ping(lab.ns('db'), '10.74.2.1', 1), 1);
    const m = await monitor(t, lab, ['--from', '10.74.2.0/24', '--port', 'db/eth0', '--count', '2']);
    nsRun(lab.ns('web'), ['ping', '-c', '1', '-W', '1', '10.99.0.2']); // from web: filtered out
    connect(lab.ns('db'), '10.74.1.10', 22);
    nsRun(lab.ns('db'), ['ping', '-c', '1', '-W', '1', '10.99.0.3']);
    connect(lab.ns('db'), '10.74.1.10', 23);
    const end = Date.now() + 5000;
    while (m.proc.exitCode === null && Date.now() < end) await sleep(50);
    t.equal(m.proc.exitCode, 0, '--count 2: exits by itself, 0');
    const ev = m.events();
    t.equal(ev.length, 2, 'two events');
    t.ok(ev.every((e) => e.src === '10.74.2.10'), 'only from db');
    t.ok(!ev.some((e) => e.dst === '10.99.0.2'), "web's drop filtered out");

    const text = await monitor(t, lab, ['--count', '1'], 'text');
    nsRun(lab.ns('db'), ['ping', '-c', '1', '-W', '1', '10.99.0.4']);
    const until = Date.now() + 5000;
    while (text.proc.exitCode === null && Date.now() < until) await sleep(50);
    t.equal(text.proc.exitCode, 0, 'text monitor: exits after one event');
    t.match(text.stdout(), /^\d\d:\d\d:\d\d\.\d{3} drop drop:no-route by router on \S+ \[db\/eth0\] net back: icmp 10\.74\.2\.10 -> 10\.99\.0\.4 type 8 code 0 \(\d+ B\)\n$/, `one readable line: ${text.stdout()}`);
    const bad = spawnSync(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), 'monitor', lab.name, '--type', 'nope'], { encoding: 'utf8' });
    t.equal(bad.status, 2, 'a bad --type: exit 2');
    t.match(bad.stderr, /--type nope/);
    const badCidr = spawnSync(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), 'monitor', lab.name, '--from', '10.1.2'], { encoding: 'utf8' });
    t.equal(badCidr.status, 2, 'a bad --from: exit 2');
  });

  t.test('a running monitor follows an apply: a rule inserted before no-ssh renames it', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['web', 'db']);
    t.equal(ping(lab.ns('db'), '10.74.2.1', 1), 1);
    const m = await monitor(t, lab, []);
    writeFileSync(lab.file, readFileSync(lab.file, 'utf8').replace('      rules:\n', '      rules:\n        - { name: no-telnet, action: drop, proto: tcp, ports: [23] }\n'));
    const applied = vnfctl(['apply', '-f', lab.file]);
    t.equal(applied.status, 0, applied.stderr);
    await sleep(1500); // the next heartbeat sees the new generation
    connect(lab.ns('db'), '10.74.1.10', 22);
    await sleep(700);
    t.equal(await m.stop('SIGINT'), 0);
    const ssh = m.events().find((e) => e.type === 'drop' && e.dport === 22);
    t.match(ssh, { rule: { owner: 'web-in', direction: 'ingress', index: 2, text: 'no-ssh' } }, 'no-ssh is rule #2 now, and named so');
  });

  t.test('a flood is held to the rate limit: the loss is counted, nothing stalls', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['web', 'db']);
    t.equal(ping(lab.ns('db'), '10.74.2.1', 1), 1);
    const m = await monitor(t, lab, ['--rate', '20']);
    const before = readMonitorState(lab.name);
    // 20,000 UDP datagrams to a network no route leads to, as fast as a loop sends them.
    const sent = Date.now();
    nsRun(lab.ns('db'), ['python3', '-c', "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(20000):\n    try: s.sendto(b'x' * 18, ('10.99.0.1', 9))\n    except OSError: pass"], 30_000);
    t.comment(`flood sent in ${Date.now() - sent} ms`);
    t.equal(ping(lab.ns('db'), '10.74.2.1', 1), 1, 'the dataplane still forwards during and after the flood');
    await sleep(300);
    const t0 = Date.now();
    t.equal(await m.stop('SIGTERM'), 0, 'SIGTERM: exit 0');
    t.ok(Date.now() - t0 < 3000, `stopped at once (${Date.now() - t0} ms)`);
    const after = readMonitorState(lab.name);
    const shown = m.events().length;
    const lostRate = Number(after.lost_rate - before.lost_rate);
    t.ok(shown >= 20, `events shown (${shown})`);
    t.ok(shown < 5000, `far fewer than the 20,000 drops: the rate limit held (${shown})`);
    t.ok(lostRate > 10_000, `lost to the rate limit, counted (${lostRate})`);
    t.ok(shown + lostRate >= 20_000 * 0.9, `events shown and lost account for the drops (${shown} + ${lostRate})`);
    const final = /lost (\d+) to the rate limit/.exec(m.stderr());
    t.ok(final && Number(final[1]) > 10_000, `and shown at exit (${final?.[0]})`);
    const cfg = BpfMap.openPinned(join(pinDir(lab.name), VNF_MAP_MON_CFG));
    try {
      t.equal(monCfgCodec.decode(cfg.lookup(u32(0))!).rate, 0, 'its --rate left with it: the next monitor gets the default');
    } finally {
      cfg.close();
    }
  });

  t.test('a monitor killed with SIGKILL: its heartbeat lapses and the dataplane stops sending', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['web', 'db']);
    t.equal(ping(lab.ns('db'), '10.74.2.1', 1), 1);
    const m = await monitor(t, lab, []);
    t.ok(readHeartbeats(lab.name)[VNF_MON_T_DROP]! > 0n, 'a monitor listens: the drop heartbeat is set');
    t.equal(await m.stop('SIGKILL'), null, 'killed');
    const s0 = readMonitorState(lab.name);
    nsRun(lab.ns('db'), ['ping', '-c', '1', '-W', '1', '10.99.0.1']);
    const s1 = readMonitorState(lab.name);
    t.ok(s1.emitted > s0.emitted, 'right after the kill the heartbeat is still fresh: events are sent (into the void)');
    await sleep(VNF_MON_TTL_MS + 500);
    nsRun(lab.ns('db'), ['ping', '-c', '1', '-W', '1', '10.99.0.1']);
    const s2 = readMonitorState(lab.name);
    t.ok(s2.expired > s1.expired, 'the first drop after the TTL found the heartbeat stale and cleared it');
    t.equal(readHeartbeats(lab.name)[VNF_MON_T_DROP], 0n, 'the heartbeat is 0: nobody listens');
    nsRun(lab.ns('db'), ['ping', '-c', '3', '-i', '0.2', '-W', '1', '10.99.0.1']);
    const s3 = readMonitorState(lab.name);
    t.equal(s3.emitted, s2.emitted, 'later drops send nothing');
    t.equal(s3.lost_rate + s3.lost_full, s2.lost_rate + s2.lost_full, 'and are not even counted as lost: they never reach the monitor path');
  });

  t.test('a topology applied before the monitor existed: monitor says so (exit 2), the next apply adds the maps', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['web', 'db']);
    const maps = [VNF_MAP_EVENTS, VNF_MAP_MON_CFG, VNF_MAP_MON_STATE];
    for (const m of maps) rmSync(join(pinDir(lab.name), m)); // as an older vnf left it
    const r = vnfctl(['monitor', lab.name, '--count', '1']);
    t.equal(r.status, 2, 'exit 2');
    t.match(r.stderr, /has no vnf_events map.*apply it again/);
    const plan = vnfctl(['plan', '-f', lab.file]);
    t.match(plan.stdout, /load\s+entry \(pinned maps vnf_events, vnf_mon_cfg, vnf_mon_state missing\)/, 'plan reloads the programs');
    t.equal(vnfctl(['apply', '-f', lab.file]).status, 0, 'apply');
    t.ok(maps.every((m) => existsSync(join(pinDir(lab.name), m))), 'the maps are pinned');
    t.match(vnfctl(['plan', '-f', lab.file]).stdout, /no changes/, 'and the next plan is empty');
    t.equal(ping(lab.ns('db'), '10.74.2.1', 1), 1, 'traffic flows');
    const m = await monitor(t, lab, ['--count', '1']);
    nsRun(lab.ns('db'), ['ping', '-c', '1', '-W', '1', '10.99.0.5']);
    const end = Date.now() + 5000;
    while (m.proc.exitCode === null && Date.now() < end) await sleep(50);
    t.match(m.events()[0], { reason: REASONS[VNF_R_DROP_NO_ROUTE], dst: '10.99.0.5' }, 'the reloaded programs send events');
  });
}
