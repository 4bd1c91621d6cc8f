/**
 * Every codec of bpf/abi/*.h against the BTF of the compiled VNF objects:
 * the TS and C definitions of a map's key and value cannot drift apart.
 */
import t from 'tap';
import type { StructCodec } from '../../src/codec/struct.js';
import {
  chainCodec, counterCodec, floodKeyCodec, idCodec, idKeyCodec, metaCodec, networkCodec, portCodec, portSrcKeyCodec,
  portStatsKeyCodec,
} from '../../src/vnf/common/codec.js';
import { fdbEntryCodec, fdbKeyCodec, learnCodec } from '../../src/vnf/bridge/codec.js';
import { icmpRlCodec, neighCodec, neighKeyCodec, routeCodec, routeKeyCodec, routerCfgCodec, routeStatsKeyCodec } from '../../src/vnf/router/codec.js';
import { fwBindCodec, fwBindKeyCodec, fwClsKeyCodec, fwPortKeyCodec, fwRuleCodec, fwRuleKeyCodec, fwSetCodec, fwTupleCodec, fwTupleKeyCodec } from '../../src/vnf/firewall/codec.js';
import { ctCfgCodec, ctEntryCodec, ctGcCodec, ctKeyCodec, ctSlotCodec, ctTcpDirCodec, ctZoneCodec } from '../../src/vnf/conntrack/codec.js';
import {
  natEntryCodec, natFloatCodec, natFloatKeyCodec, natFwdCodec, natFwdKeyCodec, natKeyCodec, natMasqKeyCodec, natNetCodec, natSrcCodec, natSrcKeyCodec,
} from '../../src/vnf/nat/codec.js';
import { ovlCfgCodec, ovlEpCodec, ovlEpKeyCodec, ovlNetCodec } from '../../src/vnf/overlay/codec.js';
import { monCfgCodec, monEventCodec, monStateCodec } from '../../src/monitor/codec.js';
import { traceRecCodec } from '../../src/trace/codec.js';
import { assertLayoutMatchesBtf } from '../helpers/btf.js';
import { vnfObject } from '../helpers/paths.js';

const cases: Array<[string, StructCodec<never>[]]> = [
  ['entry', [counterCodec, metaCodec, idKeyCodec, idCodec, portCodec, portSrcKeyCodec, networkCodec, floodKeyCodec, chainCodec, portStatsKeyCodec] as StructCodec<never>[]],
  ['entry', [monEventCodec, monCfgCodec, monStateCodec] as StructCodec<never>[]],
  ['firewall', [monEventCodec, monCfgCodec, monStateCodec] as StructCodec<never>[]],
  ['bridge', [fdbKeyCodec, fdbEntryCodec, learnCodec] as StructCodec<never>[]],
  // Every object records trace stages (bpf/include/vnf/trace.h), the entry and the nat objects too.
  ['entry', [traceRecCodec] as StructCodec<never>[]],
  ['bridge', [traceRecCodec] as StructCodec<never>[]],
  ['router', [traceRecCodec] as StructCodec<never>[]],
  ['firewall', [traceRecCodec] as StructCodec<never>[]],
  ['nat', [traceRecCodec] as StructCodec<never>[]],
  ['router', [routeKeyCodec, routeCodec, routeStatsKeyCodec, neighKeyCodec, neighCodec, routerCfgCodec, icmpRlCodec] as StructCodec<never>[]],
  // The bridge shares the neighbour tables (its gratuitous ARP hook, vnf/neigh.h).
  ['bridge', [neighKeyCodec, neighCodec] as StructCodec<never>[]],
  ['firewall', [fwBindKeyCodec, fwBindCodec, fwSetCodec, fwTupleKeyCodec, fwTupleCodec, fwClsKeyCodec, fwPortKeyCodec, fwRuleKeyCodec, fwRuleCodec,
    ctKeyCodec, ctEntryCodec, ctTcpDirCodec, ctCfgCodec, ctZoneCodec, ctSlotCodec, ctGcCodec] as StructCodec<never>[]],
  ['nat', [natNetCodec, natMasqKeyCodec, natFloatKeyCodec, natFloatCodec, natFwdKeyCodec, natFwdCodec, natKeyCodec, natEntryCodec, natSrcKeyCodec, natSrcCodec,
    ctKeyCodec, ctEntryCodec, ctCfgCodec, ctGcCodec] as StructCodec<never>[]],
  ['overlay', [ovlCfgCodec, ovlNetCodec, ovlEpKeyCodec, ovlEpCodec, floodKeyCodec, traceRecCodec] as StructCodec<never>[]],
  // The bridge reads the overlay's networks (vnf/overlay.h: does a flood go to other hosts).
  ['bridge', [ovlNetCodec] as StructCodec<never>[]],
];

for (const [object, codecs] of cases) {
  t.test(`${object}.bpf.o`, async (t) => {
    for (const c of codecs) assertLayoutMatchesBtf(t, c as StructCodec<unknown>, vnfObject(object));
  });
}

t.test('every reason code of enum vnf_reason has a name in the CLI', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { REASONS } = await import('../../src/vnf/common/codec.js');
  const { ROOT } = await import('../helpers/paths.js');
  const header = readFileSync(join(ROOT, 'bpf', 'abi', 'vnf_common.h'), 'utf8');
  const codes = [...header.matchAll(/^\s*VNF_R_(\w+)\s*=\s*(\d+),/gm)].filter((m) => m[1] !== 'DROP_BASE').map((m) => Number(m[2]));
  t.ok(codes.length > 30, `${codes.length} reason codes in the header`);
  t.same(codes.filter((c) => !(c in REASONS)), [], 'no reason without a name');
});
