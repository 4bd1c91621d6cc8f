/**
 * Attacks on the NAT (bpf/nat.bpf.c) through the real chains with BPF_PROG_TEST_RUN, each shown
 * to fail — from the world behind the uplink (which has no identity of its own) and from the
 * tenant in the next container. The lab is test/helpers/nat-lab.ts: router 7's NAT, outside WAN
 * (192.0.2.2), inside FRONT, masquerade 10.1.0.0/24 and 10.2.0.0/24, floating 10.1.0.10 <->
 * 192.0.2.10, forwards tcp 8080 -> 10.1.0.10:80 and udp 5353 -> 10.2.0.10:53.
 */
import t from 'tap';
import { u32 } from '../../src/codec/struct.js';
import { ctCfgCodec } from '../../src/vnf/conntrack/codec.js';
import { natFloatCodec, natFloatKeyCodec, natFwdKeyCodec, VNF_MAP_NAT_FLOAT, VNF_MAP_NAT_FWD, VNF_NAT_FLOAT_BY_INSIDE, VNF_NAT_FLOAT_BY_OUTSIDE } from '../../src/vnf/nat/codec.js';
import { inetChecksum, ip4, ip4str, IPPROTO_UDP, TCP_SYN } from '../helpers/packets.js';
import { icmpErrorFrame } from '../helpers/firewall-dp.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { checkSums, GW, HOST, lab, OUTSIDE, parse, R, R_WAN, ROUTER, SINK, TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT, tcpF, udpF, type NatLab } from '../helpers/nat-lab.js';

/** The addresses of an ICMP error's quote (its IP header and first 4 bytes of L4). */
function quoteOf(f: Buffer): { src: string; dst: string; sport: number; dport: number } {
  const q = parse(f).l4.subarray(8);
  return { src: ip4str(q.readUInt32BE(12)), dst: ip4str(q.readUInt32BE(16)), sport: q.readUInt16BE(20), dport: q.readUInt16BE(22) };
}

/** A frame holds no inside address anywhere in its IPv4 headers (outer and quoted). */
function noInsideAddress(f: Buffer): boolean {
  const p = parse(f);
  const q = quoteOf(f);
  return ![p.src, p.dst, q.src, q.dst].some((a) => a.startsWith('10.'));
}

/** The NAT zone's conntrack quota of new connections (vnf_ct_cfg.max_new). */
function zoneQuota(l: NatLab, maxNew: number): void {
  l.dp.map('vnf_ct_cfg').update(u32(0), ctCfgCodec.encode({ timeout: new Array<number>(16).fill(0), max_assured: 0, max_new: maxNew, gc_interval_ms: 0 }));
}

if (requirePrivileges(t)) {
  t.test('the world cannot send as the inside: spoofed inside, floating and outside sources are dropped', async (t) => {
    const l = await lab(t);
    const before = l.stat(R.DROP_SPOOF_IP);
    // As tenant 10.2.0.20 to a floating host (whose reply would go into that tenant), as the
    // inside gateway, as the floating address, as the router's own outside address.
    for (const src of ['10.2.0.20', '10.1.0.1', '192.0.2.10', OUTSIDE]) {
      t.equal(l.run('outIn', udpF(src, '192.0.2.10', 5000, 53)).retval, TC_ACT_SHOT, `from ${src} to the floating address: dropped`);
      t.equal(l.run('outIn', udpF(src, OUTSIDE, 5000, 5353)).retval, TC_ACT_SHOT, `from ${src} to a forwarded port: dropped`);
    }
    t.equal(l.stat(R.DROP_SPOOF_IP) - before, 8n, 'counted as drop:spoof-ip');
    t.equal(l.mappings(), 0, 'no mapping was made');
    t.equal(parse(l.outIn(udpF('198.51.100.9', '192.0.2.10', 5000, 53))).dst, '10.1.0.10', 'a real outside host still reaches the floating address');
  });

  t.test('an ICMP redirect through the NAT is dropped, spoofed from the inside gateway or not', async (t) => {
    const l = await lab(t);
    const out = l.outOut(udpF('10.1.0.5', '8.8.8.8', 1234, 53));
    for (const [src, why] of [['10.1.0.1', 'DROP_SPOOF_IP'], ['203.0.113.1', 'DROP_UNSUPPORTED']] as const) {
      const err = icmpErrorFrame({ src: { mac: GW, ip: src }, dst: { mac: SINK, ip: OUTSIDE } }, 5, 1, out);
      err.writeUInt32BE(ip4('10.1.0.66'), 14 + 20 + 4); // the new gateway: a colluding tenant on the victim's subnet
      const icmp = err.subarray(34);
      icmp.writeUInt16BE(0, 2);
      icmp.writeUInt16BE(inetChecksum(icmp), 2);
      const before = l.stat(R[why]!);
      t.equal(l.run('outIn', err).retval, TC_ACT_SHOT, `a redirect from ${src} about a masqueraded flow: dropped`);
      t.equal(l.stat(R[why]!) - before, 1n, `as ${why}`);
    }
    // An ordinary error about the same flow still comes back translated.
    const unreach = icmpErrorFrame({ src: { mac: GW, ip: '203.0.113.1' }, dst: { mac: SINK, ip: OUTSIDE } }, 3, 3, out);
    const back = l.outIn(unreach);
    t.equal(parse(back).dst, '10.1.0.5', 'a port unreachable reaches the inside sender');
    checkSums(t, back, 'translated error');
  });

  t.test("the router's ICMP errors about forwarded and floating traffic carry no inside address", async (t) => {
    const l = await lab(t);
    const a = l.outIn(tcpF('198.51.100.7', '192.0.2.10', 5555, 22, TCP_SYN, 1));
    const b = l.outIn(tcpF('198.51.100.7', OUTSIDE, 5556, 8080, TCP_SYN, 1));
    t.equal(parse(a).dst, '10.1.0.10', 'DNAT to the floating host');
    t.equal(parse(b).dst, '10.1.0.10', 'DNAT to the forward target');
    // What the router sends back through the uplink (TTL expired, or the target unreachable),
    // quoting the packet as it saw it: after DNAT.
    for (const [q, pub, port] of [[a, '192.0.2.10', 22], [b, OUTSIDE, 8080]] as const) {
      const err = icmpErrorFrame({ src: { mac: R_WAN, ip: OUTSIDE }, dst: { mac: GW, ip: '198.51.100.7' } }, 11, 0, q);
      const r = l.run('outOut', err);
      t.equal(r.retval, TC_ACT_OK, 'the error leaves');
      t.ok(noInsideAddress(r.data), `no inside address in it (${JSON.stringify(quoteOf(r.data))})`);
      t.same([quoteOf(r.data).dst, quoteOf(r.data).dport], [pub, port], 'its quote names the public address and port the sender used');
      checkSums(t, r.data, 'the error');
    }
    // An error nothing translates that quotes an inside address is dropped, not sent.
    const direct = icmpErrorFrame({ src: { mac: R_WAN, ip: OUTSIDE }, dst: { mac: GW, ip: '198.51.100.7' } }, 11, 0, udpF('198.51.100.7', '10.2.0.99', 1, 2));
    t.equal(l.run('outOut', direct).retval, TC_ACT_SHOT, 'an unmapped quote naming an inside host is dropped');
  });

  t.test("a tenant cannot forge an ICMP error about another tenant's connection out to the world", async (t) => {
    const l = await lab(t);
    l.outOut(udpF('10.1.0.5', '8.8.8.8', 1234, 53)); // tenant A's connection
    const before = l.stat(R.DROP_NAT_UNMAPPED);
    for (const port of [1234, 1235]) { // the right guess and a wrong one
      const err = icmpErrorFrame({ src: { mac: HOST, ip: '10.2.0.7' }, dst: { mac: GW, ip: '8.8.8.8' } }, 3, 3, udpF('8.8.8.8', '10.1.0.5', 53, port));
      t.equal(l.run('outOut', err).retval, TC_ACT_SHOT, `quoting A's port ${port}: dropped`);
    }
    t.equal(l.stat(R.DROP_NAT_UNMAPPED) - before, 2n, 'both as drop:nat-unmapped: nothing leaves with an inside source');
  });

  t.test('a flood from the world cannot take the NAT from the containers (inbound quota under the zone quota)', async (t) => {
    const l = await lab(t);
    zoneQuota(l, 64);
    l.setNet({ max_inbound: 32 });
    let made = 0;
    for (let i = 0; i < 200; i++) {
      if (l.run('outIn', tcpF(`203.0.113.${(i % 250) + 1}`, '192.0.2.10', 10000 + i, 1 + i, TCP_SYN, 1)).retval === TC_ACT_REDIRECT) made++;
    }
    t.equal(made, 32, 'the world got its 32 connections');
    for (let i = 0; i < 20; i++) t.equal(parse(l.outOut(udpF(`10.1.0.${20 + i}`, '8.8.8.8', 1234, 53))).src, OUTSIDE, `tenant 10.1.0.${20 + i} still masquerades`);
  });

  t.test('one tenant cannot take every port towards a destination', async (t) => {
    const l = await lab(t);
    l.setNet({ port_min: 20000, port_max: 20199, max_per_source: 100 });
    let ok = 0;
    for (let i = 0; i < 600; i++) if (l.run('outOut', udpF('10.2.0.7', '8.8.8.8', 40000 + i, 53)).retval === TC_ACT_OK) ok++;
    t.equal(ok, 100, 'the attacker holds at most its quota');
    t.equal(parse(l.outOut(udpF('10.1.0.5', '8.8.8.8', 1234, 53))).src, OUTSIDE, 'the victim still gets a port towards the same destination');
  });

  t.test('a removed forward or a moved floating address stops translating its old connections', async (t) => {
    const l = await lab(t);
    t.equal(parse(l.outIn(udpF('198.51.100.7', OUTSIDE, 7000, 5353))).dst, '10.2.0.10', 'the forward works');
    t.equal(parse(l.outIn(udpF('198.51.100.7', '192.0.2.10', 7001, 9999))).dst, '10.1.0.10', 'the floating address works');
    // The control plane removes the forward and moves the floating address to 10.1.0.11.
    l.dp.map(VNF_MAP_NAT_FWD).delete(natFwdKeyCodec.encode({ router_id: ROUTER, port: 5353, proto: IPPROTO_UDP }));
    const fl = l.dp.map(VNF_MAP_NAT_FLOAT);
    fl.delete(natFloatKeyCodec.encode({ router_id: ROUTER, addr: ip4('10.1.0.10'), which: VNF_NAT_FLOAT_BY_INSIDE }));
    fl.update(natFloatKeyCodec.encode({ router_id: ROUTER, addr: ip4('192.0.2.10'), which: VNF_NAT_FLOAT_BY_OUTSIDE }), natFloatCodec.encode({ addr: ip4('10.1.0.11') }));
    fl.update(natFloatKeyCodec.encode({ router_id: ROUTER, addr: ip4('10.1.0.11'), which: VNF_NAT_FLOAT_BY_INSIDE }), natFloatCodec.encode({ addr: ip4('192.0.2.10') }));
    const fwd = parse(l.outIn(udpF('198.51.100.7', OUTSIDE, 7000, 5353)));
    t.same([fwd.dst, fwd.dport], [OUTSIDE, 5353], "the old forward's connection is no longer translated (the router answers it)");
    t.equal(parse(l.outIn(udpF('198.51.100.7', '192.0.2.10', 7001, 9999))).dst, '10.1.0.11', "the floating address's connection goes to its new host");
    // The old host's reply no longer leaves as the floating address.
    const old = l.run('inIn', udpF('10.1.0.10', '198.51.100.7', 9999, 7001));
    t.equal(parse(old.data).src, '10.1.0.10', "the old host's reply is not translated any more");
  });
}
