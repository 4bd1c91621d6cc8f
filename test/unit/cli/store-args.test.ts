/**
 * --store and vnf-agent argument errors: one readable line, exit 2 for invalid input, exit 1 when
 * the store cannot be reached (a loopback port nothing listens on), nothing written or changed.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vnfctl } from '../../helpers/cli.js';
import { ROOT } from '../../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'vnf-store-args-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const multi = join(dir, 'multi.yaml');
writeFileSync(multi, `apiVersion: vnf/v1
name: sa
containers:
  a: { host: h1, interfaces: { eth0: { network: n1, ip: 10.9.0.10/24 } } }
networks:
  n1: { subnet: 10.9.0.0/24 }
`);
const single = join(ROOT, 'examples', 'demo.yaml');
const invalid = join(dir, 'bad.yaml');
writeFileSync(invalid, 'apiVersion: vnf/v1\nname: Bad_Name\nnetworks: {}\n');
const DOWN = 'http://127.0.0.1:1';

function agent(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'vnf-agent.js'), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

t.test('vnf-ctl --store: invalid input is exit 2 with one line', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['apply', '-f', single, '--store', DOWN], /no container names a host/],
    [['apply', '-f', multi], /places containers on hosts \(h1\): apply it with --store/],
    [['apply', '-f', multi, '--store', 'localhost:2379'], /invalid store URL/],
    [['apply', '-f', multi, '--store', DOWN, '--store-prefix', 'nope'], /invalid store prefix/],
    [['apply', '-f', single, '-o', 'json'], /-o json needs --store/],
    [['apply', '-f', single, '--store-prefix', '/x/'], /--store-prefix needs --store/],
    [['plan', '-f', single, '--store', DOWN], /no container names a host/],
    [['get', '--store', DOWN, '--only', 'fdb'], /--only is not for --store/],
    [['destroy', 'sa', '--store', 'ftp://x:1'], /invalid store URL/],
  ];
  for (const [args, msg] of cases) {
    const r = vnfctl(args);
    t.equal(r.status, 2, `${args.join(' ')}: exit 2 (${r.stderr.trim()})`);
    t.match(r.stderr, msg, args.join(' '));
    t.equal(r.stdout, '', 'nothing on stdout');
  }
});

t.test('vnf-ctl --store: an invalid file is reported as without a store (exit 2), before any connection', async (t) => {
  const r = vnfctl(['apply', '-f', invalid, '--store', DOWN]);
  const plain = vnfctl(['validate', '-f', invalid]);
  t.equal(r.status, 2);
  t.match(r.stderr, /Bad_Name/);
  t.notMatch(r.stderr, /cannot reach/);
  t.equal(plain.status, 2);
});

t.test('vnf-ctl --store: a store that does not answer is exit 1, "cannot reach the store at URL"', async (t) => {
  for (const args of [['apply', '-f', multi, '--store', DOWN], ['plan', '-f', multi, '--store', DOWN], ['get', '--store', DOWN], ['destroy', 'sa', '--store', DOWN]]) {
    const started = Date.now();
    const r = vnfctl(args);
    t.equal(r.status, 1, `${args.join(' ')}: exit 1`);
    t.match(r.stderr, /^vnf-ctl: cannot reach the store at http:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/, args.join(' '));
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.ok(Date.now() - started < 10_000, 'fails fast');
  }
});

t.test('vnf-agent: argument errors are exit 2 with one line and a hint', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--store', DOWN], /required option '--host <NAME>'/],
    [['--host', 'h1'], /required option '--store <URL>'/],
    [['--host', 'H_1', '--store', DOWN], /invalid host name "H_1"/],
    [['--host', 'h1', '--store', DOWN, '--ttl', '0'], /--ttl.*whole number of seconds/],
    [['--host', 'h1', '--store', DOWN, '--ttl', 'x'], /whole number/],
    [['--host', 'h1', '--store', 'nope', '--underlay', 'lo'], /invalid store URL/],
    [['--host', 'h1', '--store', DOWN, '--device', 'a/b'], /--device: invalid interface name/],
    [['--host', 'h1', '--store', DOWN, '--underlay', 'nosuchif0'], /underlay interface nosuchif0 does not exist/],
    [['--host', 'h1', '--store', DOWN, '--bogus'], /unknown option '--bogus'/],
  ];
  for (const [args, msg] of cases) {
    const r = agent(args);
    t.equal(r.status, 2, `${args.join(' ')}: exit 2 (${r.stderr.trim()})`);
    t.match(r.stderr, msg, args.join(' '));
    t.match(r.stderr, /vnf-agent --help/, 'usage hint');
  }
  const help = agent(['--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /--underlay <IFACE>/);
});
