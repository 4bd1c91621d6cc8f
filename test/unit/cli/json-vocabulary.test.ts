/**
 * One vocabulary for `-o json`: every renderer's data is walked and must hold no "-" or "#12"
 * placeholders (absent is null), no table-only names ('interface' is `ifname`, 'policy' is
 * `direction`, '#' is `index`), camelCase keys, and counts named ...Count apart from lists.
 * The data comes from the same functions the commands render, fed with fabricated maps.
 */
import t from 'tap';
import { decodeConntrack } from '../../../src/ops/conntrack.js';
import { ctEntryCodec, ctKeyCodec, CT_STATE } from '../../../src/vnf/conntrack/codec.js';
import { natZone } from '../../../src/vnf/nat/codec.js';
import { VNFS } from '../../../src/vnf/registry.js';
import type { StatusReader } from '../../../src/vnf/types.js';
import { doctorChecks } from '../../../src/ops/doctor.js';
import { probeEnvironment } from '../../../src/bpf/environment.js';
import { vnfctl } from '../../helpers/cli.js';
import { NAT, topologyOf } from '../nat/fixture.js';
import { BASE } from '../spec/fixture.js';
import { parseTopology } from '../../../src/spec/index.js';

const FORBIDDEN_KEYS = new Set(['interface', 'policy', '#', 'iface', 'port_name']);
const KEY = /^[a-z][A-Za-z0-9]*$/;

/** Every problem with `data`'s vocabulary, as "path: what". */
function audit(data: unknown, path = '$'): string[] {
  const out: string[] = [];
  if (typeof data === 'string') {
    if (data === '-' || /^#\d+$/.test(data)) out.push(`${path}: placeholder ${JSON.stringify(data)} (use null)`);
  } else if (Array.isArray(data)) {
    data.forEach((v, i) => out.push(...audit(v, `${path}[${i}]`)));
  } else if (typeof data === 'object' && data !== null) {
    for (const [k, v] of Object.entries(data)) {
      if (FORBIDDEN_KEYS.has(k)) out.push(`${path}.${k}: use the agreed name`);
      if (!KEY.test(k)) out.push(`${path}.${k}: keys are camelCase`);
      if (/Count$/.test(k) && typeof v !== 'number' && typeof v !== 'bigint') out.push(`${path}.${k}: a count is a number`);
      out.push(...audit(v, `${path}.${k}`));
    }
  }
  return out;
}

t.test('the audit catches what it is for', async (t) => {
  t.same(audit({ interface: 'x', a: '-', b: '#12', 'protected max': 1, mappingCount: [] }).length, 5);
  t.same(audit({ ifname: null, direction: 'ingress', src: { address: '10.1.0.1', port: 80, icmpId: null } }), []);
});

const S = 1_000_000_000n;

/** Every map of every module holds one all-zero entry, except those given. */
function reader(topology = topologyOf(NAT), maps: Record<string, Array<[Buffer, Buffer]>> = {}): StatusReader {
  const decls = new Map(VNFS.flatMap((v) => v.maps ?? []).map((m) => [m.name, m]));
  return {
    names: { network: (id) => `net${id}`, router: (id) => `r${id}`, ifname: (i) => `if${i}` },
    topology,
    entries: (m) => maps[m] ?? (decls.has(m) ? [[Buffer.alloc(decls.get(m)!.keySize), Buffer.alloc(decls.get(m)!.valueSize)]] : []),
    counter: () => ({ packets: 1n, bytes: 64n }),
    now: 1000n * S,
  };
}

t.test('get: every section of every module', async (t) => {
  const fw = parseTopology(BASE);
  if (!fw.ok) throw new Error('fixture');
  for (const topology of [topologyOf(NAT), fw.topology]) {
    const sections = VNFS.flatMap((v) => v.status?.(reader(topology)) ?? []);
    t.ok(sections.length >= 5, `sections: ${sections.map((s) => s.key).join(', ')}`);
    for (const s of sections) {
      t.ok(KEY.test(s.key), `${s.key}: section keys are camelCase`);
      for (const c of s.columns) t.ok(s.rows.length === 0 || s.rows.some((r) => c in r), `${s.key}: column ${c} is a key of its rows`);
      t.equal(s.headers?.length ?? s.columns.length, s.columns.length, `${s.key}: one heading per column`);
      t.same(audit(JSON.parse(JSON.stringify(s.rows, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)))), [], `${s.key}: rows`);
    }
  }
  const rules = VNFS.flatMap((v) => v.status?.(reader(fw.topology)) ?? []).find((s) => s.key === 'firewallRules')!;
  t.match(rules.rows[0], { firewall: 'web-in', direction: 'ingress', index: 0, action: 'allow', proto: 'tcp', from: '10.2.0.0/24', to: null, ports: ['80', '443'], srcPorts: null, icmpType: null, name: null },
    'firewall rules are structured: the fields of the file');
  t.match(rules.rows.find((r) => r['index'] === null), { rule: 'default drop', action: 'drop' }, 'the default row: index null');
});

t.test('conntrack: endpoints as address and port, direction, null where absent', async (t) => {
  const entry = (zone: number, proto: number, sport: number, dport: number, rule: number, dir: number): [Buffer, Buffer] => {
    const e = ctEntryCodec.decode(Buffer.alloc(ctEntryCodec.size));
    return [ctKeyCodec.encode({ zone, saddr: 0x0a010014, daddr: 0x0a020014, sport, dport, proto }), ctEntryCodec.encode({ ...e, state: CT_STATE.established!, rule, dir, last_seen_ns: 990n * S, created_ns: 900n * S })];
  };
  const rows = decodeConntrack([entry(5, 6, 40000, 80, 2, 1), entry(7, 1, 77, 0, 0xffffffff, 0), entry(natZone(6), 17, 5000, 53, 0, 0)],
    (z) => (z === 5 ? 'vnf0' : undefined), (z) => `r${z & 0xffff}`, 1000n * S);
  t.same(audit(JSON.parse(JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)))), []);
  t.match(rows[0], { ifname: 'vnf0', router: null, direction: 'ingress', rule: 2, src: { address: '10.1.0.20', port: 40000, icmpId: null }, dst: { address: '10.2.0.20', port: 80, icmpId: null }, idleSeconds: 10, ageSeconds: 100 });
  t.match(rows[1], { ifname: null, zone: 7, direction: 'egress', rule: null, src: { port: null, icmpId: 77 }, dst: { port: null, icmpId: null } }, 'a port that is gone: null, with its zone; the default decided: rule null');
  t.match(rows[2], { ifname: null, router: 'r6', direction: null, rule: null }, 'a NAT connection');
});

t.test('doctor: one row per check, ok or a hint', async (t) => {
  const checks = doctorChecks(probeEnvironment());
  t.same(audit(checks), []);
  for (const c of checks) t.ok(c.ok ? c.hint === null : typeof c.hint === 'string' && c.hint.length > 0, `${c.check}: ${c.ok ? 'ok, no hint' : 'a hint'}`);
});

t.test('the commands that need no kernel: validate, version, doctor', async (t) => {
  for (const args of [['validate', '-f', 'examples/demo.yaml', '-f', 'examples/firewall.yaml', '-o', 'json'], ['version', '-o', 'json'], ['doctor', '-o', 'json']]) {
    const r = vnfctl(args);
    t.same(audit(JSON.parse(r.stdout)), [], args.join(' '));
  }
});
