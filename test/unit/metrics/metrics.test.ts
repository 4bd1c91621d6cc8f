/**
 * vnf-ctl metrics without a kernel: the exposition rendered from fabricated snapshots, the
 * modules' families read from a fabricated StatusReader, the listen address, and the HTTP server
 * with a fake reader.
 */
import t from 'tap';
import parse from 'parse-prometheus-text-format';
import { DataplaneMetrics, metricFamilies, parseListen, serveMetrics, type Snapshot } from '../../../src/ops/metrics.js';
import { u32 } from '../../../src/codec/struct.js';
import { counterCodec } from '../../../src/vnf/common/codec.js';
import { ctCfgCodec, ctZoneCodec, CT_STATS } from '../../../src/vnf/conntrack/codec.js';
import { compiledFirewalls } from '../../../src/vnf/firewall/module.js';
import { natSrcCodec, natSrcKeyCodec, natZone } from '../../../src/vnf/nat/codec.js';
import { routeCodec, routeKey, routeKeyCodec, routeStatsKeyCodec } from '../../../src/vnf/router/codec.js';
import { VNFS } from '../../../src/vnf/registry.js';
import type { MetricDecl, MetricSample, StatusReader } from '../../../src/vnf/types.js';
import { vnfctl } from '../../helpers/cli.js';
import { NAT, topologyOf } from '../nat/fixture.js';

const snapshot = (families: Record<string, MetricSample[]>): Snapshot => new Map(Object.entries(families));

const FAMILIES: MetricDecl[] = [
  { name: 'vnf_x_packets_total', help: 'Packets', type: 'counter', labels: ['port'] },
  { name: 'vnf_x_entries', help: 'Entries', type: 'gauge', labels: ['zone'] },
];

t.test('the text format: HELP, TYPE and one line per sample, topology first among the labels', async (t) => {
  const m = new DataplaneMetrics(() => snapshot({
    vnf_x_packets_total: [
      { labels: { topology: 'demo', port: 'a' }, value: 12n },
      { labels: { topology: 'demo', port: 'b' }, value: 2n ** 40n },
    ],
    vnf_x_entries: [{ labels: { topology: 'demo', zone: 'nat r1' }, value: 3 }],
  }), FAMILIES);
  t.equal(await m.expose(), [
    '# HELP vnf_x_packets_total Packets',
    '# TYPE vnf_x_packets_total counter',
    'vnf_x_packets_total{topology="demo",port="a"} 12',
    'vnf_x_packets_total{topology="demo",port="b"} 1099511627776',
    '',
    '# HELP vnf_x_entries Entries',
    '# TYPE vnf_x_entries gauge',
    'vnf_x_entries{topology="demo",zone="nat r1"} 3',
    '',
  ].join('\n'));
  t.match(m.contentType, /^text\/plain; version=0\.0\.4/);
});

t.test('one read per exposition, fresh every time: series of what is gone go, counters follow the kernel', async (t) => {
  const reads: Snapshot[] = [
    snapshot({ vnf_x_packets_total: [{ labels: { topology: 'a', port: 'p1' }, value: 5n }, { labels: { topology: 'a', port: 'p2' }, value: 1n }] }),
    snapshot({ vnf_x_packets_total: [{ labels: { topology: 'a', port: 'p1' }, value: 9n }] }),
  ];
  let n = 0;
  const m = new DataplaneMetrics(() => reads[n++]!, FAMILIES);
  const first = parse(await m.expose());
  t.equal(n, 1, 'every family of one exposition from one read');
  t.same(first[0]!.metrics.map((x) => [x.labels!['port'], x.value]), [['p1', '5'], ['p2', '1']]);
  const second = parse(await m.expose());
  t.equal(n, 2);
  t.same(second[0]!.metrics.map((x) => [x.labels!['port'], x.value]), [['p1', '9']], 'the kernel value (not added to the last), p2 gone');
  t.same(second[1]!.metrics, [], 'a family without samples has no series');
});

t.test('label values are escaped', async (t) => {
  const odd = 'a "b" \\ c\nd';
  const m = new DataplaneMetrics(() => snapshot({ vnf_x_entries: [{ labels: { topology: 't', zone: odd }, value: 1 }] }), FAMILIES);
  const text = await m.expose();
  t.match(text, 'zone="a \\"b\\" \\\\ c\\nd"');
  t.equal(parse(text)[1]!.metrics[0]!.labels!['zone'], odd, 'a parser reads the value back');
});

t.test('a sample with a label its family does not declare is a bug, not a silent series', async (t) => {
  const m = new DataplaneMetrics(() => snapshot({ vnf_x_entries: [{ labels: { topology: 't', zone: 'z', extra: '1' }, value: 1 }] }), FAMILIES);
  await t.rejects(m.expose(), /label/i);
});

t.test('every family: unique stable names with the vnf_ prefix; counters end in _total, gauges do not', async (t) => {
  const all = metricFamilies();
  const names = all.map((f) => f.name);
  t.equal(new Set(names).size, names.length, 'unique');
  for (const f of all) {
    t.match(f.name, /^vnf_[a-z_]+$/, f.name);
    t.equal(f.name.endsWith('_total'), f.type === 'counter', `${f.name} is a ${f.type}`);
    t.notOk(f.labels.includes('topology'), `${f.name}: topology is added to every family`);
    for (const l of f.labels) t.match(l, /^[a-z][a-z_]*$/);
  }
  t.same(names.sort(), [
    'vnf_conntrack_entries', 'vnf_conntrack_entries_limit', 'vnf_conntrack_events_total',
    'vnf_firewall_rule_bytes_total', 'vnf_firewall_rule_hits_total', 'vnf_nat_mappings',
    'vnf_port_bytes_total', 'vnf_port_packets_total', 'vnf_route_bytes_total', 'vnf_route_packets_total',
    'vnf_topology_info', 'vnf_vnf_bytes_total', 'vnf_vnf_packets_total',
  ], 'the names dashboards depend on');
});

/* ---- the modules' reads, from a fabricated kernel ---------------------------------------- */

const FW = `apiVersion: vnf/v1
name: fw
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.1.0.10/24 } } }
networks:
  front: { subnet: 10.1.0.0/24 }
firewalls:
  web-in:
    attach: [web/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: tcp, ports: [80], name: http }
        - { action: reject, proto: tcp, ports: [81] }
`;

function counter(packets: bigint, bytes: bigint, cpus = 2): Buffer {
  // Per-CPU values as the kernel returns them: one slot per CPU, summed by the reader.
  return Buffer.concat(Array.from({ length: cpus }, (_, i) => counterCodec.encode(i === 0 ? { packets, bytes } : { packets: 0n, bytes: 0n })));
}

function reader(maps: Record<string, Array<[Buffer, Buffer]>>, topology = topologyOf(NAT)): StatusReader {
  return {
    names: { network: (id) => `net${id}`, router: (id) => (id === 6 ? 'r1' : `#${id}`), ifname: (i) => `if${i}` },
    topology,
    entries: (m) => maps[m] ?? [],
    counter(_map, v) {
      let packets = 0n;
      let bytes = 0n;
      for (let off = 0; off < v.length; off += counterCodec.size) {
        const c = counterCodec.decode(v.subarray(off, off + counterCodec.size));
        packets += c.packets;
        bytes += c.bytes;
      }
      return { packets, bytes };
    },
    now: 0n,
  };
}

const mod = (name: string) => VNFS.find((v) => v.name === name)!.metrics!;
const rows = (samples: MetricSample[] | undefined): Array<[Record<string, string>, string]> => (samples ?? []).map((s) => [s.labels, String(s.value)]);

t.test('firewall: every rule and default with its hits, by index, name and action', async (t) => {
  const topology = topologyOf(FW);
  const c = compiledFirewalls(topology).get('web-in')!.ingress;
  const out = mod('firewall').read(reader({ vnf_fw_stats: [[u32(c.rules[0]!.counter), counter(7n, 420n)], [u32(c.defaultCounter), counter(3n, 180n)]] }, topology));
  const base = { firewall: 'web-in', direction: 'ingress' };
  t.same(rows(out['vnf_firewall_rule_hits_total']).slice(0, 3), [
    [{ ...base, rule: '0', name: 'http', action: 'allow' }, '7'],
    [{ ...base, rule: '1', name: '', action: 'reject' }, '0'],
    [{ ...base, rule: 'default', name: '', action: 'drop' }, '3'],
  ]);
  t.same(rows(out['vnf_firewall_rule_bytes_total'])[0], [{ ...base, rule: '0', name: 'http', action: 'allow' }, '420']);
  t.same(rows(out['vnf_firewall_rule_hits_total'])[3], [{ firewall: 'web-in', direction: 'egress', rule: 'default', name: '', action: 'allow' }, '0']);
});

t.test('router: every route with its counters (0 before its first packet)', async (t) => {
  const route = (addr: number, prefix: number, nexthop: number): [Buffer, Buffer] => [
    routeKeyCodec.encode(routeKey(6, addr, prefix)),
    routeCodec.encode({ network: 1, nexthop, addr, prefixlen: prefix, flags: 0 }),
  ];
  const out = mod('router').read(reader({
    vnf_routes: [route(0x0a010000, 24, 0), route(0, 0, 0xc0000201)],
    vnf_route_stats: [[routeStatsKeyCodec.encode({ router_id: 6, addr: 0, prefixlen: 0 }), counter(4n, 336n)]],
  }));
  t.same(rows(out['vnf_route_packets_total']), [[{ router: 'r1', to: '0.0.0.0/0' }, '4'], [{ router: 'r1', to: '10.1.0.0/24' }, '0']]);
  t.same(rows(out['vnf_route_bytes_total']), [[{ router: 'r1', to: '0.0.0.0/0' }, '336'], [{ router: 'r1', to: '10.1.0.0/24' }, '0']]);
});

t.test('conntrack: occupancy per zone and class from the counters, limits, events', async (t) => {
  const zone = (assured: bigint, unassured: bigint): Buffer => ctZoneCodec.encode({ assured, unassured, gen: 1 });
  const cfg = ctCfgCodec.encode({ timeout: new Array<number>(16).fill(0), max_assured: 1000, max_new: 200, gc_interval_ms: 0 });
  const perCpu = (n: bigint): Buffer => Buffer.concat([n, 1n].map((x) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(x); return b; }));
  const out = mod('conntrack').read(reader({
    vnf_ct_zone: [[u32(12), zone(5n, 2n)], [u32(natZone(6)), zone(1n, 2n ** 64n - 1n)]],
    vnf_ct_cfg: [[u32(0), cfg]],
    vnf_ct_stats: [[u32(0), perCpu(41n)]],
  }));
  t.same(rows(out['vnf_conntrack_entries']), [
    [{ zone: 'if12', class: 'protected' }, '5'], [{ zone: 'if12', class: 'other' }, '2'],
    [{ zone: 'nat r1', class: 'protected' }, '1'], [{ zone: 'nat r1', class: 'other' }, '0'],
  ], 'a count below zero (a decrement that raced) is 0');
  t.same(rows(out['vnf_conntrack_entries_limit']), [[{ class: 'protected' }, '1000'], [{ class: 'other' }, '200']]);
  t.same(rows(out['vnf_conntrack_events_total']), [[{ event: CT_STATS[0]! }, '42']]);
});

t.test('nat: mappings per router and origin from the per-source counts; routers of the file without any at 0', async (t) => {
  const src = (router: number, addr: number, count: bigint): [Buffer, Buffer] => [natSrcKeyCodec.encode({ zone: natZone(router), addr }), natSrcCodec.encode({ count })];
  const out = mod('nat').read(reader({ vnf_nat_src: [src(6, 0x0a010014, 3n), src(6, 0x0a020014, 2n), src(6, 0, 4n)] }));
  t.same(rows(out['vnf_nat_mappings']), [[{ router: 'r1', origin: 'inside' }, '5'], [{ router: 'r1', origin: 'outside' }, '4']]);
});

/* ---- the listen address and the server ---------------------------------------------------- */

t.test('--listen: host:port, [v6]:port, a port alone; anything else is one clear message', async (t) => {
  t.same(parseListen('127.0.0.1:9469'), { host: '127.0.0.1', port: 9469 });
  t.same(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  t.same(parseListen('[::1]:9469'), { host: '::1', port: 9469 });
  t.same(parseListen('localhost:1'), { host: 'localhost', port: 1 });
  t.same(parseListen(':9469'), { host: '127.0.0.1', port: 9469 }, 'loopback when the host is left out');
  t.same(parseListen('9469'), { host: '127.0.0.1', port: 9469 });
  t.same(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 }, 'port 0: the kernel chooses');
  for (const bad of ['', 'bogus', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:-1', '127.0.0.1:http', '::1:9469', '[10.0.0.1]:1', '[]:1', 'example.com:80', '256.1.1.1:1', '1.2.3.4:5:6']) {
    t.throws(() => parseListen(bad), { name: 'InputError', message: /--listen .*expected host:port/ }, JSON.stringify(bad));
  }
});

t.test('the server: GET and HEAD /metrics read afresh, 404 elsewhere, 405 for other methods, 500 when the read fails', async (t) => {
  let n = 0;
  let fail = false;
  const m = new DataplaneMetrics(() => {
    if (fail) throw new Error('maps unreadable');
    return snapshot({ vnf_x_packets_total: [{ labels: { topology: 't', port: 'p' }, value: BigInt(++n) }] });
  }, FAMILIES);
  const s = await serveMetrics(m, { host: '127.0.0.1', port: 0 });
  t.teardown(() => s.close());
  t.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const get = async (): Promise<string> => {
    const r = await fetch(s.url);
    t.equal(r.status, 200);
    t.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    return r.text();
  };
  t.match(await get(), /vnf_x_packets_total\{topology="t",port="p"\} 1\n/);
  t.match(await get(), /vnf_x_packets_total\{topology="t",port="p"\} 2\n/, 'a fresh read per scrape');
  t.equal((await fetch(`${s.url}?x=1`)).status, 200, 'a query string is ignored');
  const head = await fetch(s.url, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal((await fetch(s.url.replace('/metrics', '/'))).status, 404);
  t.equal((await fetch(s.url.replace('/metrics', '/metricsx'))).status, 404);
  const post = await fetch(s.url, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
  fail = true;
  const errors: string[] = [];
  const orig = console.error;
  console.error = (x: string) => errors.push(x);
  try {
    const r = await fetch(s.url);
    t.equal(r.status, 500);
    t.match(await r.text(), /maps unreadable/);
  } finally {
    console.error = orig;
  }
  t.match(errors.join('\n'), /scrape failed: maps unreadable/, 'and says so on stderr');
  // Keep-alive connections do not hold up closing.
  const closing = s.close();
  await t.resolves(closing);
});

t.test('an address in use is an error that says so', async (t) => {
  const m = new DataplaneMetrics(() => snapshot({}), FAMILIES);
  const a = await serveMetrics(m, { host: '127.0.0.1', port: 0 });
  t.teardown(() => a.close());
  const port = Number(new URL(a.url).port);
  await t.rejects(serveMetrics(m, { host: '127.0.0.1', port }), /cannot serve metrics: .*EADDRINUSE/);
});

t.test('vnf-ctl metrics: a bad --listen is invalid input (exit 2), before any kernel read', async (t) => {
  const r = vnfctl(['metrics', '--listen', '1.2.3:80']);
  t.equal(r.status, 2);
  t.match(r.stderr, /--listen "1\.2\.3:80": 1\.2\.3 is not an IPv4 address/);
  const h = vnfctl(['metrics', '--help']);
  t.equal(h.status, 0);
  t.match(h.stdout, /--listen \[host:port\]/);
});
