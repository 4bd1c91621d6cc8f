/** `vnf-ctl nat` rows from fabricated vnf_nat / vnf_ct entries (the pure part of the command). */
import t from 'tap';
import { ctCfgCodec, ctEntryCodec, ctKeyCodec, CT_STATE, VNF_CT_F_DYING, type CtKey } from '../../../src/vnf/conntrack/codec.js';
import {
  natEntryCodec, natKeyCodec, natZone, VNF_NAT_AT_IN_IN, VNF_NAT_AT_OUT_IN, VNF_NAT_AT_OUT_OUT, VNF_NAT_K_FLOAT_IN,
  VNF_NAT_K_FLOAT_OUT, VNF_NAT_K_FORWARD, VNF_NAT_K_MASQ,
} from '../../../src/vnf/nat/codec.js';
import { mappingRows, natMappings, MAPPING_COLUMNS, type MappingSources } from '../../../src/vnf/nat/mappings.js';
import { hex } from '../../../src/model/desired.js';
import { parseAddr } from '../../../src/spec/ipv4.js';
import { vnfctl } from '../../helpers/cli.js';

const ip = (s: string): number => {
  const a = parseAddr(s);
  if (!a.ok) throw new Error(s);
  return a.value;
};
const S = 1_000_000_000n;
const NOW = 10_000n * S;
const R1 = 6;

interface Conn {
  kind: number;
  proto: number;
  at: number;
  /** The first packet's tuple where it was translated (the key). */
  key: [string, number, string, number];
  /** The tuple it left with. */
  out: [string, number, string, number];
  state: number;
  idle: bigint;
  flags?: number;
  /** Leave the conntrack entry out. */
  noCt?: boolean;
}

function build(conns: Conn[]): MappingSources {
  const nat: Array<[Buffer, Buffer]> = [];
  const ct = new Map<string, Buffer>();
  for (const c of conns) {
    const ctKey: CtKey = { zone: natZone(R1), saddr: ip(c.key[0]), sport: c.key[1], daddr: ip(c.key[2]), dport: c.key[3], proto: c.proto };
    const ctk = ctKeyCodec.encode(ctKey);
    const k = natKeyCodec.encode({ zone: natZone(R1), saddr: ip(c.key[0]), sport: c.key[1], daddr: ip(c.key[2]), dport: c.key[3], proto: c.proto, at: c.at });
    const entry = { saddr: ip(c.out[0]), sport: c.out[1], daddr: ip(c.out[2]), dport: c.out[3], ct: ctk, kind: c.kind, peer_at: 0 };
    nat.push([k, natEntryCodec.encode({ ...entry, dir: 0 })]);
    // The reply entry: not a row of its own.
    nat.push([natKeyCodec.encode({ zone: natZone(R1), saddr: ip(c.out[2]), sport: c.out[3], daddr: ip(c.out[0]), dport: c.out[1], proto: c.proto, at: 9 }),
      natEntryCodec.encode({ ...entry, dir: 1 })]);
    if (!c.noCt) {
      const e = ctEntryCodec.decode(Buffer.alloc(ctEntryCodec.size));
      ct.set(hex(ctk), ctEntryCodec.encode({ ...e, state: c.state, last_seen_ns: NOW - c.idle * S, flags: c.flags ?? 0 }));
    }
  }
  return { nat, ct: (k) => ct.get(hex(k)), ctCfg: undefined, now: NOW, routerName: (id) => (id === R1 ? 'r1' : `#${id}`) };
}

const est = CT_STATE.established!;
const CONNS: Conn[] = [
  { kind: VNF_NAT_K_MASQ, proto: 6, at: VNF_NAT_AT_OUT_OUT, key: ['10.1.0.20', 40000, '198.51.100.1', 443], out: ['192.0.2.2', 20001, '198.51.100.1', 443], state: est, idle: 3n },
  { kind: VNF_NAT_K_FLOAT_OUT, proto: 17, at: VNF_NAT_AT_OUT_OUT, key: ['10.1.0.10', 5000, '198.51.100.1', 53], out: ['192.0.2.10', 5000, '198.51.100.1', 53], state: CT_STATE.udp!, idle: 1n },
  { kind: VNF_NAT_K_FLOAT_IN, proto: 6, at: VNF_NAT_AT_OUT_IN, key: ['198.51.100.7', 50000, '192.0.2.10', 22], out: ['198.51.100.7', 50000, '10.1.0.10', 22], state: est, idle: 0n },
  { kind: VNF_NAT_K_FORWARD, proto: 6, at: VNF_NAT_AT_IN_IN, key: ['10.2.0.10', 41000, '192.0.2.2', 8080], out: ['10.2.0.10', 41000, '10.1.0.10', 80], state: CT_STATE['syn-sent']!, idle: 2n },
  { kind: VNF_NAT_K_MASQ, proto: 1, at: VNF_NAT_AT_OUT_OUT, key: ['10.1.0.20', 77, '198.51.100.1', 0], out: ['192.0.2.2', 20002, '198.51.100.1', 0], state: CT_STATE.icmp!, idle: 4n },
];

const ep = (address: string, port: number): { address: string; port: number; icmpId: null } => ({ address, port, icmpId: null });
const echo = (address: string, icmpId: number | null): { address: string; port: null; icmpId: number | null } => ({ address, port: null, icmpId });

t.test('one row per connection, read the way each kind is keyed', async (t) => {
  const rows = natMappings(build(CONNS));
  t.same(rows, [
    { router: 'r1', kind: 'floating-in', proto: 'tcp', inside: ep('10.1.0.10', 22), outside: ep('192.0.2.10', 22), remote: ep('198.51.100.7', 50000), state: 'established', idleSeconds: 0 },
    { router: 'r1', kind: 'floating-out', proto: 'udp', inside: ep('10.1.0.10', 5000), outside: ep('192.0.2.10', 5000), remote: ep('198.51.100.1', 53), state: 'udp', idleSeconds: 1 },
    { router: 'r1', kind: 'forward', proto: 'tcp', inside: ep('10.1.0.10', 80), outside: ep('192.0.2.2', 8080), remote: ep('10.2.0.10', 41000), state: 'syn-sent', idleSeconds: 2 },
    { router: 'r1', kind: 'masquerade', proto: 'tcp', inside: ep('10.1.0.20', 40000), outside: ep('192.0.2.2', 20001), remote: ep('198.51.100.1', 443), state: 'established', idleSeconds: 3 },
    { router: 'r1', kind: 'masquerade', proto: 'icmp', inside: echo('10.1.0.20', 77), outside: echo('192.0.2.2', 20002), remote: echo('198.51.100.1', null), state: 'icmp', idleSeconds: 4 },
  ], 'endpoints as address and port apart (ICMP: the echo identifier, none for the remote end)');
  t.same(mappingRows(rows)[4], ['r1', 'masquerade', 'icmp', '10.1.0.20#77', '192.0.2.2#20002', '198.51.100.1', 'icmp', '4s'], 'the table joins them again');
  t.same(mappingRows(rows)[0], ['r1', 'floating-in', 'tcp', '10.1.0.10:22', '192.0.2.10:22', '198.51.100.7:50000', 'established', '0s']);
  t.equal(MAPPING_COLUMNS.length, mappingRows(rows)[0]!.length);
});

t.test('dead mappings are not shown: conntrack entry gone, dying, or expired', async (t) => {
  const base = CONNS[0]!;
  t.same(natMappings(build([{ ...base, noCt: true }])), [], 'no conntrack entry');
  t.same(natMappings(build([{ ...base, flags: VNF_CT_F_DYING }])), [], 'dying');
  t.same(natMappings(build([{ ...base, state: CT_STATE.udp!, proto: 17, idle: 31n }])), [], 'udp idle beyond its 30 s default');
  t.equal(natMappings(build([{ ...base, state: CT_STATE.udp!, proto: 17, idle: 29n }])).length, 1, 'udp within it');
  const src = build([{ ...base, state: CT_STATE.udp!, proto: 17, idle: 29n }]);
  const timeout = new Array<number>(16).fill(0);
  timeout[CT_STATE.udp!] = 10;
  src.ctCfg = ctCfgCodec.encode({ timeout, max_assured: 0, max_new: 0, gc_interval_ms: 0 });
  t.same(natMappings(src), [], 'with the timeouts the kernel was given');
});

t.test('vnf-ctl nat: an unknown topology is invalid input (exit 2)', async (t) => {
  const r = vnfctl(['nat', 'nosuchtopo']);
  t.equal(r.status, 2, r.stderr);
  t.match(r.stderr, /no applied topology named nosuchtopo/);
});
