/**
 * vnf-ctl metrics end to end: a firewalled lab topology, real pings, `vnf-ctl metrics --listen`
 * as a child process scraped over HTTP, the exposition read back with a parser and checked
 * against `vnf-ctl stats` and `get` (the same kernel counters), growing with more traffic; the
 * child ends with 0 on SIGTERM and SIGINT. Then a scrape with 100,000 tracked connections: it
 * reads the per-zone counts, not the table.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parse from 'parse-prometheus-text-format';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp } from '../helpers/lab.js';
import { ping } from '../helpers/netns.js';
import { background } from '../helpers/background.js';
import { getTopology } from '../helpers/vnf.js';
import { ROOT } from '../helpers/paths.js';

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
        - { action: allow, proto: tcp, from: 10.74.2.0/24, ports: [80], name: http }
        - { action: allow, proto: icmp, icmp-type: echo-request, from: 10.74.2.0/24, name: ping }
    egress:
      default: allow
`;

interface Served {
  url: string;
  /** Sends a signal and resolves with how the child ended. */
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** `vnf-ctl metrics ARGS --listen 127.0.0.1:0` (the kernel picks a free port; the child prints its URL). */
async function serve(t: Test, args: string[]): Promise<Served> {
  const proc = spawn(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), 'metrics', ...args, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const deadline = Date.now() + 30_000;
  let m: RegExpExecArray | null;
  while (!(m = /serving (http:\/\/\S+)/.exec(stderr))) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`vnf-ctl metrics did not start (${proc.exitCode}): ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: m[1]!,
    async stop(signal) {
      proc.kill(signal);
      return { ...(await exited), stderr };
    },
  };
}

/** Series by family and labels: `family{a="x",b="y"}` (labels sorted) -> value. */
type Series = Map<string, number>;
const key = (family: string, labels: Record<string, string>): string =>
  `${family}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;

async function scrape(url: string): Promise<{ series: Series; text: string; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(url);
  const text = await r.text();
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`scrape ${r.status}: ${text}`);
  const series: Series = new Map();
  for (const f of parse(text)) for (const s of f.metrics) series.set(key(f.name, s.labels ?? {}), Number(s.value));
  return { series, text, ms };
}

interface StatsJson {
  vnfs: Array<{ vnf: string; reason: string; verdict: string; packets: number; bytes: number }>;
  ports: Array<{ ifname: string; direction: string; packets: number; bytes: number }>;
}
function stats(name: string): StatsJson {
  const r = vnfctl(['stats', name, '-o', 'json']);
  if (r.status !== 0) throw new Error(`stats: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatsJson;
}

/** What `stats -o json` says, as the series the exposition should hold. */
function expected(name: string, s: StatsJson): Series {
  const out: Series = new Map();
  for (const v of s.vnfs) {
    const l = { topology: name, vnf: v.vnf, reason: v.reason, verdict: v.verdict };
    out.set(key('vnf_vnf_packets_total', l), v.packets);
    out.set(key('vnf_vnf_bytes_total', l), v.bytes);
  }
  for (const p of s.ports) {
    const l = { topology: name, ifname: p.ifname, direction: p.direction };
    out.set(key('vnf_port_packets_total', l), p.packets);
    out.set(key('vnf_port_bytes_total', l), p.bytes);
  }
  return out;
}

/** Every counter of `stats` read before and after the scrape lies between the two readings, and the scrape has no other. */
function between(t: Test, got: Series, before: Series, after: Series, what: string): void {
  let bad = 0;
  for (const [k, hi] of after) {
    const v = got.get(k) ?? 0;
    const lo = before.get(k) ?? 0;
    if (v < lo || v > hi) {
      bad++;
      t.fail(`${what}: ${k} = ${v}, stats said ${lo} before and ${hi} after`);
    }
  }
  const families = new Set([...after.keys()].map((k) => k.slice(0, k.indexOf('{'))));
  const extra = [...got.keys()].filter((k) => families.has(k.slice(0, k.indexOf('{'))) && k.includes(`topology=`) && !after.has(k));
  t.same(extra, [], `${what}: no series stats does not have`);
  t.equal(bad, 0, `${what}: ${after.size} series agree with vnf-ctl stats`);
}

if (requirePrivileges(t)) {
  t.test('served metrics match stats and get, grow with traffic, and the server ends with 0 on SIGTERM', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['web', 'db']);
    const name = lab.name;
    t.equal(ping(lab.ns('db'), '10.74.1.10', 3), 3, 'db pings web through the router and web\'s firewall');

    const bad = vnfctl(['metrics', `${name}x`]);
    t.equal(bad.status, 2, 'an unknown topology is invalid input');
    t.match(bad.stderr, /no applied topology named/);

    const served = await serve(t, [name]);
    t.match(served.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const s1 = stats(name);
    const g1 = getTopology(name);
    const m1 = await scrape(served.url);
    const s2 = stats(name);
    const g2 = getTopology(name);
    between(t, m1.series, expected(name, s1), expected(name, s2), 'first scrape');
    t.comment(`scrape of a small topology: ${m1.ms.toFixed(1)} ms, ${m1.text.length} bytes`);

    const info = [...m1.series].filter(([k]) => k.startsWith('vnf_topology_info{'));
    t.equal(info.length, 1, 'one topology_info: only the named topology');
    t.match(info[0]![0], new RegExp(`generation="[0-9a-f]+",topology="${name}"`));
    t.equal(info[0]![1], 1);

    const webPort = g1.interfaces.find((i) => i.owner === 'web/eth0')!.ifname;
    const webTx = key('vnf_port_packets_total', { topology: name, ifname: webPort, direction: 'tx' });
    t.ok(m1.series.get(webTx)! >= 3, `web's port delivered the echo requests (${m1.series.get(webTx)})`);

    // Firewall rules and routes: the same counters `get` shows.
    type RuleRow = { firewall: string; direction: string; index: number | null; packets: number; bytes: number };
    const rules = (g: typeof g1): RuleRow[] => g['firewallRules'] as RuleRow[];
    // The file's rules: ingress 0 "http" and 1 "ping" (allow), default drop; egress default allow.
    const ruleKey = (r: RuleRow, family: string): string => key(family, {
      topology: name, firewall: r.firewall, direction: r.direction,
      rule: r.index === null ? 'default' : String(r.index),
      name: r.index === null ? '' : ['http', 'ping'][r.index]!,
      action: r.index === null && r.direction === 'ingress' ? 'drop' : 'allow',
    });
    t.equal(rules(g1).length, 4, 'two rules and a default in, a default out');
    for (const [i, r] of rules(g1).entries()) {
      const hi = rules(g2)[i]!;
      const v = m1.series.get(ruleKey(r, 'vnf_firewall_rule_hits_total'));
      t.ok(v !== undefined && v >= r.packets && v <= hi.packets, `${r.firewall} ${r.direction} #${r.index ?? 'default'}: ${v} hits, get says ${r.packets}..${hi.packets}`);
      t.ok(m1.series.get(ruleKey(r, 'vnf_firewall_rule_bytes_total'))! >= r.bytes, 'and its bytes');
    }
    t.ok(m1.series.get(key('vnf_firewall_rule_hits_total', { topology: name, firewall: 'web-in', direction: 'ingress', rule: '1', name: 'ping', action: 'allow' }))! >= 1,
      'the ping rule counted the echo that opened the connection');
    type RouteRow = { router: string; to: string; packets: number };
    for (const r of g1['routes'] as RouteRow[]) {
      const hi = (g2['routes'] as RouteRow[]).find((x) => x.router === r.router && x.to === r.to)!;
      const v = m1.series.get(key('vnf_route_packets_total', { topology: name, router: r.router, to: r.to }));
      t.ok(v !== undefined && v >= r.packets && v <= hi.packets, `route ${r.router} ${r.to}: ${v}, get says ${r.packets}..${hi.packets}`);
    }
    t.ok(m1.series.get(key('vnf_route_packets_total', { topology: name, router: 'r', to: '10.74.1.0/24' }))! >= 3, 'the route to front routed the echo requests');

    // Occupancy: the connection the pings opened, in web's zone, as `get` counts it.
    type CtRow = { ifname: string; protected: number; other: number };
    const zone = (g: typeof g1): CtRow | undefined => (g['conntrack'] as CtRow[]).find((z) => z.ifname === webPort);
    const ct = (cls: string): number | undefined => m1.series.get(key('vnf_conntrack_entries', { topology: name, zone: webPort, class: cls }));
    t.ok((ct('protected') ?? 0) + (ct('other') ?? 0) >= 1, `web's zone holds the echo connection (${ct('protected')} protected, ${ct('other')} other)`);
    if (JSON.stringify(zone(g1)) === JSON.stringify(zone(g2))) {
      t.same([ct('protected'), ct('other')], [zone(g1)!.protected, zone(g1)!.other], 'the same counts as get');
    }
    t.equal(m1.series.get(key('vnf_conntrack_entries_limit', { topology: name, class: 'protected' })), 32768, 'the default quota');

    // More traffic: the counters grow, read afresh by the same server.
    t.equal(ping(lab.ns('db'), '10.74.1.10', 5), 5);
    const s3 = stats(name);
    const m2 = await scrape(served.url);
    const s4 = stats(name);
    between(t, m2.series, expected(name, s3), expected(name, s4), 'after more traffic');
    t.ok(m2.series.get(webTx)! >= m1.series.get(webTx)! + 5, `web's tx grew by the 5 echo requests (${m1.series.get(webTx)} -> ${m2.series.get(webTx)})`);
    const grew = [...m1.series].filter(([k, v]) => k.includes('_total{') && m2.series.get(k)! < v);
    t.same(grew, [], 'no counter went down');

    const end = await served.stop('SIGTERM');
    t.same([end.code, end.signal], [0, null], `SIGTERM: clean exit 0 (stderr: ${end.stderr.trim()})`);

    // Printed once, every topology (no NAME): this one is among them.
    const once = vnfctl(['metrics']);
    t.equal(once.status, 0);
    t.match(once.stdout, new RegExp(`^vnf_topology_info\\{topology="${name}",generation="[0-9a-f]+"\\} 1$`, 'm'));
    t.ok(parse(once.stdout).length >= 13, 'every family');
  });

  t.test('NAT: mappings per router and origin as `vnf-ctl nat` lists them, and the NAT\'s conntrack zone', async (t) => {
    const lab = labUp(t, `
apiVersion: vnf/v1
name: NAME
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.76.1.10/24 } } }
  client: { interfaces: { eth0: { network: front, ip: 10.76.1.20/24 } } }
networks:
  front: { subnet: 10.76.1.0/24 }
  wan:
    subnet: 192.0.2.0/24
    uplink: { interface: NAME-up, lab: { namespace: internet, ip: 192.0.2.1 } }
routers:
  r1:
    ports: { front: 10.76.1.1/24, wan: 192.0.2.2/24 }
    routes: [ { to: 0.0.0.0/0, via: 192.0.2.1 } ]
    nat: { outside: wan, masquerade: [10.76.1.0/24] }
`, ['web', 'client', 'internet']);
    const served = await serve(t, [lab.name]);
    const mappings = async (): Promise<[number | undefined, number | undefined]> => {
      const m = (await scrape(served.url)).series;
      return ['inside', 'outside'].map((origin) => m.get(key('vnf_nat_mappings', { topology: lab.name, router: 'r1', origin }))) as [number, number];
    };
    t.same(await mappings(), [0, 0], 'a router with NAT and nothing translated yet: 0, not absent');
    // (The router resolves the world's address first: the packets meanwhile are dropped, not queued.)
    t.ok(ping(lab.ns('web'), '192.0.2.1', 3) >= 1, 'web reaches the world, masqueraded (one echo connection)');
    t.ok(ping(lab.ns('client'), '192.0.2.1', 3) >= 1, 'and client');
    const listed = JSON.parse(vnfctl(['nat', lab.name, '-o', 'json']).stdout) as unknown[];
    const [inside, outside] = await mappings();
    t.equal(listed.length, 2, 'vnf-ctl nat lists the two echo connections');
    t.same([inside, outside], [listed.length, 0], 'the gauge counts them, from the per-source counts');
    const m = (await scrape(served.url)).series;
    const zone = ['protected', 'other'].reduce((a, c) => a + (m.get(key('vnf_conntrack_entries', { topology: lab.name, zone: 'nat r1', class: c })) ?? 0), 0);
    t.ok(zone >= 2, `the NAT's conntrack zone holds them (${zone})`);
    const end = await served.stop('SIGTERM');
    t.equal(end.code, 0);
  });

  t.test('a scrape with 100,000 tracked connections reads the per-zone counts, not the table', async (t) => {
    const FLOWS = 100_000;
    const lab = labUp(t, `
apiVersion: vnf/v1
name: NAME
settings:
  conntrack: { maxNewPerPort: 120000, timeouts: { udp: 600 } }
containers:
  src: { interfaces: { eth0: { network: lan, ip: 10.75.1.10/24 } } }
  sink: { interfaces: { eth0: { network: lan, ip: 10.75.1.20/24 } } }
networks:
  lan: { subnet: 10.75.1.0/24 }
firewalls:
  out: { attach: [src/eth0], egress: { default: allow }, ingress: { default: drop } }
  in: { attach: [sink/eth0], ingress: { default: drop }, egress: { default: drop } }
`, ['src', 'sink']);
    const served = await serve(t, [lab.name]);
    const small = await scrape(served.url);
    // New UDP flows from src (one datagram each, a new destination port every time); the sink's
    // firewall drops them (no ICMP back), src's egress tracks every one of them.
    const dir = mkdtempSync(join(tmpdir(), 'vnf-metrics-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'flows.py'), `
import socket
n = 0
for sport in range(20000, 20000 + ${Math.ceil(FLOWS / 50000)}):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('10.75.1.10', sport))
    for dport in range(1, 50001):
        if n == ${FLOWS}: break
        s.sendto(b'x', ('10.75.1.20', dport))
        n += 1
print('SENT', n, flush=True)
`);
    const flood = background(t, lab.ns('src'), `python3 ${join(dir, 'flows.py')}`);
    const deadline = Date.now() + 120_000;
    while (!flood.out().includes('SENT') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    t.match(flood.out(), `SENT ${FLOWS}`);
    await new Promise((r) => setTimeout(r, 500));

    const srcPort = getTopology(lab.name).interfaces.find((i) => i.owner === 'src/eth0')!.ifname;
    const times: number[] = [];
    let big = await scrape(served.url);
    for (let i = 0; i < 5; i++) {
      big = await scrape(served.url);
      times.push(big.ms);
    }
    times.sort((a, b) => a - b);
    const other = big.series.get(key('vnf_conntrack_entries', { topology: lab.name, zone: srcPort, class: 'other' })) ?? 0;
    const c0 = performance.now();
    const ct = vnfctl(['conntrack', lab.name, '-o', 'json'], { timeoutMs: 120_000 });
    const ctMs = performance.now() - c0;
    const rows = (JSON.parse(ct.stdout) as Array<{ ifname: string | null }>).filter((c) => c.ifname === srcPort).length;
    t.ok(other >= FLOWS * 0.95, `src's zone holds ~${FLOWS} new connections (${other}; the table lists ${rows})`);
    t.ok(Math.abs(rows - other) <= FLOWS * 0.01, 'the gauge agrees with the table');
    t.comment(`scrape: ${small.ms.toFixed(1)} ms with an empty table; median ${times[2]!.toFixed(1)} ms (min ${times[0]!.toFixed(1)}, max ${times[4]!.toFixed(1)}) `
      + `with ${other} tracked connections; vnf-ctl conntrack -o json of the same table: ${ctMs.toFixed(0)} ms (a new process)`);
    t.ok(times[2]! < 1000, `a scrape stays well under a second with a big table (median ${times[2]!.toFixed(1)} ms)`);
    const end = await served.stop('SIGINT');
    t.same([end.code, end.signal], [0, null], 'SIGINT: clean exit 0');
  });
}
