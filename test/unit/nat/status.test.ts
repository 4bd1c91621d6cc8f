/** The NAT section of `vnf-ctl get`, from a fabricated StatusReader. */
import t from 'tap';
import { ctEntryCodec, ctKeyCodec, CT_STATE } from '../../../src/vnf/conntrack/codec.js';
import { natEntryCodec, natKeyCodec, natZone, VNF_MAP_NAT, VNF_NAT_AT_OUT_OUT, VNF_NAT_K_MASQ } from '../../../src/vnf/nat/codec.js';
import { VNFS } from '../../../src/vnf/registry.js';
import type { StatusReader } from '../../../src/vnf/types.js';
import { NAT, topologyOf } from './fixture.js';

const nat = VNFS.find((v) => v.name === 'nat')!;
const S = 1_000_000_000n;

function reader(maps: Record<string, Array<[Buffer, Buffer]>>, topology = topologyOf(NAT)): StatusReader {
  return {
    names: { network: (id) => `net${id}`, router: (id) => (id === 6 ? 'r1' : id === 9 ? 'old' : `#${id}`), ifname: (i) => `if${i}` },
    topology,
    entries: (m) => maps[m] ?? [],
    counter: () => ({ packets: 0n, bytes: 0n }),
    now: 1000n * S,
  };
}

function conn(router: number, sport: number, alive: boolean): { nat: Array<[Buffer, Buffer]>; ct: Array<[Buffer, Buffer]> } {
  const ct = ctKeyCodec.encode({ zone: natZone(router), saddr: 0x0a010014, daddr: 0xc6336401, sport, dport: 443, proto: 6 });
  const k = natKeyCodec.encode({ zone: natZone(router), saddr: 0x0a010014, daddr: 0xc6336401, sport, dport: 443, proto: 6, at: VNF_NAT_AT_OUT_OUT });
  const v = (dir: number): Buffer => natEntryCodec.encode({ saddr: 0xc0000202, daddr: 0xc6336401, sport: 20000 + sport, dport: 443, ct, dir, kind: VNF_NAT_K_MASQ, peer_at: 1 });
  const e = ctEntryCodec.decode(Buffer.alloc(ctEntryCodec.size));
  return {
    nat: [[k, v(0)], [Buffer.from(k).fill(7, 4, 8), v(1)]],
    ct: alive ? [[ct, ctEntryCodec.encode({ ...e, state: CT_STATE.established!, last_seen_ns: 999n * S })]] : [],
  };
}

t.test('one row per router with nat: outside, inside, masquerade and range, counts, live mappings', async (t) => {
  const a = conn(6, 1, true);
  const b = conn(6, 2, true);
  const dead = conn(6, 3, false);
  const gone = conn(9, 4, true);
  const s = nat.status!(reader({
    [VNF_MAP_NAT]: [...a.nat, ...b.nat, ...dead.nat, ...gone.nat],
    vnf_ct: [...a.ct, ...b.ct, ...dead.ct, ...gone.ct],
  }));
  t.equal(s.length, 1);
  t.equal(s[0]!.key, 'nat');
  t.same(s[0]!.rows, [
    { router: 'r1', outside: 'wan', outsideIp: '192.0.2.2', inside: ['back', 'front'], masquerade: ['10.1.0.0/24', '10.2.0.0/24'], ports: '20000-29999', floatingCount: 1, forwardCount: 2, mappingCount: 2 },
    { router: 'old', outside: null, outsideIp: null, inside: [], masquerade: [], ports: null, floatingCount: 0, forwardCount: 0, mappingCount: 1 },
  ], 'two live mappings of r1 (a dead one not counted), and those of a router whose nat left the file');
});

t.test('no section without NAT', async (t) => {
  t.same(nat.status!(reader({}, topologyOf(NAT.replace(/    nat:\n(      .*\n|        .*\n)*/, '')))), []);
});
