/** NAT's config entries: each network's role, masqueraded prefixes, floating addresses, forwarded ports. */
import { u32 } from '../../codec/struct.js';
import { put, type MapEntries } from '../../model/desired.js';
import type { CompileContext } from '../types.js';
import {
  natFloatCodec, natFloatKeyCodec, natFwdCodec, natFwdKeyCodec, natMasqKeyCodec, natNetCodec, VNF_MAP_NAT_FLOAT,
  VNF_MAP_NAT_FWD, VNF_MAP_NAT_MASQ, VNF_MAP_NAT_NETS, VNF_NAT_FLOAT_BY_INSIDE, VNF_NAT_FLOAT_BY_OUTSIDE,
  VNF_NAT_NET_INSIDE, VNF_NAT_NET_OUTSIDE,
} from './codec.js';
import { natsOf } from './model.js';

export const IPPROTO: Record<'tcp' | 'udp', number> = { tcp: 6, udp: 17 };

export function natEntries(ctx: CompileContext): Record<string, MapEntries> {
  const nets: MapEntries = new Map();
  const masq: MapEntries = new Map();
  const float: MapEntries = new Map();
  const fwd: MapEntries = new Map();
  for (const n of natsOf(ctx.topology)) {
    const router_id = ctx.routerId(n.router);
    const role = (flags: number): Buffer =>
      natNetCodec.encode({
        router_id, flags, outside_ip: n.outsideIp, port_min: n.ports[0], port_max: n.ports[1],
        max_per_source: n.maxPerSource, max_inbound: n.maxInbound,
      });
    put(nets, u32(ctx.networkId(n.outside)), role(VNF_NAT_NET_OUTSIDE));
    for (const i of n.inside) put(nets, u32(ctx.networkId(i)), role(VNF_NAT_NET_INSIDE));
    for (const p of n.masquerade) put(masq, natMasqKeyCodec.encode({ prefixlen: 32 + p.prefix, router_id, addr: p.addr }), u32(1));
    for (const f of n.floating) {
      put(float, natFloatKeyCodec.encode({ router_id, addr: f.outside, which: VNF_NAT_FLOAT_BY_OUTSIDE }), natFloatCodec.encode({ addr: f.inside }));
      put(float, natFloatKeyCodec.encode({ router_id, addr: f.inside, which: VNF_NAT_FLOAT_BY_INSIDE }), natFloatCodec.encode({ addr: f.outside }));
    }
    for (const f of n.forward) {
      put(fwd, natFwdKeyCodec.encode({ router_id, port: f.port, proto: IPPROTO[f.proto] }), natFwdCodec.encode({ addr: f.to, port: f.toPort }));
    }
  }
  return { [VNF_MAP_NAT_NETS]: nets, [VNF_MAP_NAT_MASQ]: masq, [VNF_MAP_NAT_FLOAT]: float, [VNF_MAP_NAT_FWD]: fwd };
}
