/**
 * The datapaths the bench compares, all between two namespaces (client, server) on veth pairs:
 *
 *   limit  veth         client eth0 ──────────── eth0 server                  (one plain pair)
 *          null-fwd     client eth0 ── vbXa │ vbXb ── eth0 server            (two pairs, as vnf;
 *                       a null tcx program on vbXa/vbXb ingress: bpf_redirect_peer to the other)
 *   linux  bridge       client ── a ┐ br0 ┌ b ── server      (a, b, br0 in a router namespace)
 *          router       client ── a  ip_forward  b ── server
 *          router+nft   … + an nftables conntrack filter in the forward hook
 *   vnf    bridge, router, router+firewall: `labUp` of a topology (containers as namespaces,
 *          host veths in the root namespace, vnf's programs on their tcx hooks)
 *
 *          router+masq  … + nftables masquerade of what leaves towards the server
 *   vnf    … router+NAT (masquerade out of the server's network), and the full chain: a firewall
 *          on both containers, NAT, router, bridge
 *
 * A kind with `pending` set is listed in the report as not measured, with the reason; the
 * scenarios iterate PATHS and pair kinds by `fn`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../../src/bpf/object.js';
import { native, projectRoot } from '../../src/native/binding.js';
import { u32 } from '../../src/codec/struct.js';
import { parseTopology } from '../../src/spec/index.js';
import type { Topology } from '../../src/spec/model.js';
import type { FirewallDirection } from '../../src/vnf/firewall/model.js';
import { labDown, labUp } from '../../src/lab/lab.js';
import type { Cleanup } from './cleanup.js';
import type { Context } from './harness.js';
import { addrUp, IF_PREFIX, macOf, netns, nextHopMac, NS_PREFIX, sysctl, veth } from './net.js';
import { inNs, run } from './sys.js';

export const PORT = { iperf: 5201, pingpong: 7001, udp: 9 } as const;
export const ADDR = {
  client: '172.16.1.10',
  serverL2: '172.16.1.11',
  serverL3: '172.16.2.10',
  gw1: '172.16.1.1',
  gw2: '172.16.2.1',
} as const;

export type Family = 'limit' | 'linux' | 'vnf';
/** The function a path performs; vnf and Linux paths of the same function are compared. */
export type Fn = 'veth' | 'forwarder' | 'bridge' | 'router' | 'router+filter' | 'router+nat' | 'full-chain';

export interface Endpoint {
  ns: string;
  ifname: string;
  ip: string;
}

export interface Path {
  kind: string;
  client: Endpoint & { mac: string };
  server: Endpoint;
  /** Destination MAC of the client's frames to the server (the server's, or its gateway's). */
  dstMac: string;
  /** Linux paths: the namespace that bridges or routes. */
  mid?: string;
  /** vnf paths: the topology. */
  topology?: string;
}

export interface BuildEnv {
  ctx: Context;
  cleanup: Cleanup;
  /** Unique within the run, short: goes into names (≤ 8 characters). */
  id: string;
  shared: Shared;
}

/** Options of the firewall scenario (rule sets of any size on the router paths). */
export interface FilterOptions {
  /** Linux router: a script for `iptables-legacy-restore` or `nft -f`, loaded in the router namespace. */
  linux?: { engine: 'iptables-legacy' | 'nft'; script: string };
  /** vnf router: a firewall on the server's interface (ingress). */
  vnf?: FirewallDirection;
}

export interface PathKind {
  id: string;
  label: string;
  family: Family;
  fn: Fn;
  /** Not measurable yet, and why. */
  pending?: string;
  build(env: BuildEnv, opts?: FilterOptions): Promise<Path>;
}

/** Things several paths share within one scenario (the forwarder object). */
export class Shared {
  private fwd?: Promise<BpfObject>;
  constructor(private readonly cleanup: Cleanup) {}

  forwarder(): Promise<BpfObject> {
    if (!this.fwd) {
      this.fwd = BpfObject.load(join(projectRoot(), 'build', 'bench', 'fwd.bpf.o')).then((o) => {
        this.cleanup.defer('close the null forwarder object', () => o.close());
        return o;
      });
    }
    return this.fwd;
  }
}

// ---------- limit ----------

async function buildVeth(env: BuildEnv): Promise<Path> {
  const c = netns(`${NS_PREFIX}${env.id}c`, env.cleanup);
  const s = netns(`${NS_PREFIX}${env.id}s`, env.cleanup);
  veth({ ns: c, name: 'eth0' }, { ns: s, name: 'eth0' }, env.cleanup);
  addrUp(c, 'eth0', `${ADDR.client}/24`);
  addrUp(s, 'eth0', `${ADDR.serverL2}/24`);
  return finish(env, 'veth', c, s, ADDR.serverL2);
}

async function buildNullForwarder(env: BuildEnv): Promise<Path> {
  const c = netns(`${NS_PREFIX}${env.id}c`, env.cleanup);
  const s = netns(`${NS_PREFIX}${env.id}s`, env.cleanup);
  const ha = `${IF_PREFIX}${env.id}a`;
  const hb = `${IF_PREFIX}${env.id}b`;
  veth({ name: ha }, { ns: c, name: 'eth0' }, env.cleanup);
  veth({ name: hb }, { ns: s, name: 'eth0' }, env.cleanup);
  addrUp(c, 'eth0', `${ADDR.client}/24`);
  addrUp(s, 'eth0', `${ADDR.serverL2}/24`);
  addrUp(undefined, ha);
  addrUp(undefined, hb);
  const obj = await env.shared.forwarder();
  const ia = native.ifindex(ha);
  const ib = native.ifindex(hb);
  const peers = obj.map('fwd_peer');
  peers.update(u32(ia), u32(ib));
  peers.update(u32(ib), u32(ia));
  env.cleanup.defer(`forget ${ha}/${hb} in fwd_peer`, () => {
    for (const i of [ia, ib]) {
      try {
        peers.delete(u32(i));
      } catch {
        /* gone with the object */
      }
    }
  });
  const prog = obj.program('fwd_redirect_peer');
  for (const i of [ia, ib]) {
    const link = prog.attachTcx(i, 'ingress');
    env.cleanup.defer(`detach the forwarder from ifindex ${i}`, () => {
      if (!link.closed) link.detach();
    });
  }
  return finish(env, 'null-fwd', c, s, ADDR.serverL2);
}

// ---------- linux ----------

function linuxTwoPairs(env: BuildEnv): { c: string; s: string; m: string } {
  const c = netns(`${NS_PREFIX}${env.id}c`, env.cleanup);
  const s = netns(`${NS_PREFIX}${env.id}s`, env.cleanup);
  const m = netns(`${NS_PREFIX}${env.id}m`, env.cleanup);
  veth({ ns: c, name: 'eth0' }, { ns: m, name: 'a' }, env.cleanup);
  veth({ ns: s, name: 'eth0' }, { ns: m, name: 'b' }, env.cleanup);
  return { c, s, m };
}

async function buildLinuxBridge(env: BuildEnv): Promise<Path> {
  const { c, s, m } = linuxTwoPairs(env);
  run(['ip', '-n', m, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0']);
  // Bridged frames must not visit iptables even if some test loaded br_netfilter.
  run(inNs(m, ['sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0']), { check: false });
  for (const p of ['a', 'b']) run(['ip', '-n', m, 'link', 'set', 'dev', p, 'master', 'br0']);
  addrUp(m, 'br0');
  addrUp(m, 'a');
  addrUp(m, 'b');
  addrUp(c, 'eth0', `${ADDR.client}/24`);
  addrUp(s, 'eth0', `${ADDR.serverL2}/24`);
  return finish(env, 'linux-bridge', c, s, ADDR.serverL2, { mid: m });
}

export async function buildLinuxRouter(env: BuildEnv, opts: FilterOptions = {}, kind = 'linux-router'): Promise<Path> {
  const { c, s, m } = linuxTwoPairs(env);
  addrUp(m, 'a', `${ADDR.gw1}/24`);
  addrUp(m, 'b', `${ADDR.gw2}/24`);
  sysctl(m, 'net.ipv4.ip_forward=1');
  addrUp(c, 'eth0', `${ADDR.client}/24`);
  addrUp(s, 'eth0', `${ADDR.serverL3}/24`);
  run(['ip', '-n', c, 'route', 'add', 'default', 'via', ADDR.gw1]);
  run(['ip', '-n', s, 'route', 'add', 'default', 'via', ADDR.gw2]);
  if (opts.linux) {
    const file = join(env.ctx.tmp, `${env.id}.${opts.linux.engine}`);
    writeFileSync(file, opts.linux.script);
    // Rules live in the router namespace: its deletion removes them.
    if (opts.linux.engine === 'nft') run(inNs(m, ['nft', '-f', file]), { timeoutMs: 600_000 });
    else run(inNs(m, ['sh', '-c', `iptables-legacy-restore < ${file}`]), { timeoutMs: 600_000 });
  }
  return finish(env, kind, c, s, ADDR.serverL3, { mid: m });
}

/** The router + filter path of the paths scenario: the same four services vnf's firewall allows. */
export const SERVICE_NFT = `table ip vnfb {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "b" accept
    iifname "a" tcp dport ${PORT.iperf} accept
    iifname "a" tcp dport ${PORT.pingpong} accept
    iifname "a" udp dport ${PORT.udp} accept
    iifname "a" icmp type echo-request accept
  }
}
`;

// ---------- vnf ----------

const SERVICE_RULES_YAML = `
        - { action: allow, proto: tcp, ports: [${PORT.iperf}] }
        - { action: allow, proto: tcp, ports: [${PORT.pingpong}] }
        - { action: allow, proto: udp, ports: [${PORT.udp}] }
        - { action: allow, proto: icmp, icmp-type: echo-request }`;

/** What a vnf path adds to the router: NAT (masquerade out of the server's network) and a firewall on the client too (the full chain). */
export interface VnfExtras {
  nat?: boolean;
  clientFirewall?: boolean;
}

function vnfYaml(name: string, routed: boolean, firewall: boolean, x: VnfExtras = {}): string {
  const server = routed ? `${ADDR.serverL3}/24` : `${ADDR.serverL2}/24`;
  const router = `  r:
    ports: { n1: ${ADDR.gw1}/24, n2: ${ADDR.gw2}/24 }
${x.nat ? '    nat: { outside: n2, masquerade: [172.16.1.0/24] }\n' : ''}`;
  const fws = [
    ...(firewall ? [`  fw:
    attach: [s/eth0]
    ingress:
      default: drop
      rules:${SERVICE_RULES_YAML}`] : []),
    ...(x.clientFirewall ? [`  cfw:
    attach: [c/eth0]
    egress:
      default: drop
      rules:${SERVICE_RULES_YAML}`] : []),
  ];
  return `apiVersion: vnf/v1
name: ${name}
containers:
  c: { interfaces: { eth0: { network: n1, ip: ${ADDR.client}/24 } } }
  s: { interfaces: { eth0: { network: ${routed ? 'n2' : 'n1'}, ip: ${server} } } }
networks:
  n1: { subnet: 172.16.1.0/24 }
${routed ? `  n2: { subnet: 172.16.2.0/24 }\nrouters:\n${router}` : ''}${fws.length ? `firewalls:\n${fws.join('\n')}\n` : ''}`;
}

/** `labUp` of a topology (from YAML; rules of the server's firewall replaced when given). */
export async function buildVnf(env: BuildEnv, kind: string, routed: boolean, firewall: boolean, fw?: FirewallDirection, extras: VnfExtras = {}): Promise<Path> {
  const name = `${IF_PREFIX}${env.id}`; // ≤ 15 characters; lab namespaces vnf.<name>.<c|s>
  const file = join(env.ctx.tmp, `${name}.yaml`);
  const yaml = vnfYaml(name, routed, firewall || !!fw, extras);
  writeFileSync(file, yaml);
  const parsed = parseTopology(yaml, file);
  if (!parsed.ok) throw new Error(`bench topology ${name} is invalid: ${parsed.issues.map((i) => i.message).join('; ')}`);
  const topo: Topology = parsed.topology;
  if (fw) topo.ext.firewall!.firewalls[0]!.ingress = fw;
  const down = async (): Promise<void> => {
    await labDown(topo);
  };
  // Registered before the apply: a half-done labUp is undone too.
  env.cleanup.defer(`lab down ${name}`, down, () => {
    run([process.execPath, join(projectRoot(), 'dist', 'vnf-ctl.js'), 'destroy', name], { check: false });
    for (const cn of ['c', 's']) run(['ip', 'netns', 'del', `vnf.${name}.${cn}`], { check: false });
  });
  await labUp(topo, file);
  for (const cn of ['c', 's']) {
    run(inNs(`vnf.${name}.${cn}`, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']), { check: false });
  }
  return finish(env, kind, `vnf.${name}.c`, `vnf.${name}.s`, routed ? ADDR.serverL3 : ADDR.serverL2, { topology: name });
}

async function finish(env: BuildEnv, kind: string, c: string, s: string, serverIp: string, extra: Partial<Path> = {}): Promise<Path> {
  const dstMac = await nextHopMac(c, serverIp, kind);
  return {
    kind,
    client: { ns: c, ifname: 'eth0', ip: ADDR.client, mac: macOf(c, 'eth0') },
    server: { ns: s, ifname: 'eth0', ip: serverIp },
    dstMac,
    ...extra,
  };
}

/** The router + masquerade path: nftables masquerade of everything the router sends out of b (the server's side). */
export const MASQ_NFT = `table ip vnfn {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "b" masquerade
  }
}
`;

/** Every path kind, in report order. */
export const PATHS: PathKind[] = [
  { id: 'veth', label: 'plain veth pair', family: 'limit', fn: 'veth', build: (e) => buildVeth(e) },
  { id: 'null-fwd', label: 'null tcx forwarder (redirect_peer)', family: 'limit', fn: 'forwarder', build: (e) => buildNullForwarder(e) },
  { id: 'linux-bridge', label: 'Linux bridge', family: 'linux', fn: 'bridge', build: (e) => buildLinuxBridge(e) },
  { id: 'linux-router', label: 'Linux router (ip_forward)', family: 'linux', fn: 'router', build: (e, o) => buildLinuxRouter(e, o) },
  {
    id: 'linux-router-nft', label: 'Linux router + nftables ct filter', family: 'linux', fn: 'router+filter',
    build: (e, o) => buildLinuxRouter(e, o ?? { linux: { engine: 'nft', script: SERVICE_NFT } }, 'linux-router-nft'),
  },
  {
    id: 'linux-router-masq', label: 'Linux router + nftables masquerade', family: 'linux', fn: 'router+nat',
    build: (e) => buildLinuxRouter(e, { linux: { engine: 'nft', script: MASQ_NFT } }, 'linux-router-masq'),
  },
  { id: 'vnf-bridge', label: 'vnf bridge', family: 'vnf', fn: 'bridge', build: (e) => buildVnf(e, 'vnf-bridge', false, false) },
  { id: 'vnf-router', label: 'vnf router', family: 'vnf', fn: 'router', build: (e) => buildVnf(e, 'vnf-router', true, false) },
  {
    id: 'vnf-router-fw', label: 'vnf router + firewall', family: 'vnf', fn: 'router+filter',
    build: (e, o) => buildVnf(e, 'vnf-router-fw', true, true, o?.vnf),
  },
  { id: 'vnf-router-nat', label: 'vnf router + NAT (masquerade)', family: 'vnf', fn: 'router+nat', build: (e) => buildVnf(e, 'vnf-router-nat', true, false, undefined, { nat: true }) },
  {
    id: 'vnf-full-chain', label: 'vnf firewall → NAT → router → bridge', family: 'vnf', fn: 'full-chain',
    build: (e) => buildVnf(e, 'vnf-full-chain', true, true, undefined, { nat: true, clientFirewall: true }),
  },
];

export const pathKind = (id: string): PathKind => {
  const k = PATHS.find((p) => p.id === id);
  if (!k) throw new Error(`no path kind ${id}`);
  return k;
};

export const labelOf = (id: string): string => PATHS.find((p) => p.id === id)?.label ?? id;
