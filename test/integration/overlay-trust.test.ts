/**
 * Trust across hosts (issue 12), on three simulated hosts (bench/lib/sim) with a real etcd and an
 * agent each — what test/integration/hosts.test.ts does not already show:
 *
 *   h1: web1 (front .10), app (back .20), m1 (mgmt .10)
 *   h2: web2 (front .11), m2 (mgmt .11)
 *   h3: db (back .10, firewall db-in: tcp 5432 from front, ping)
 *
 * - routing is local: same-host routing never touches the overlay, cross-host crosses it once,
 *   and a host with no part in a flow sees none of it (device counters of all three hosts);
 * - frames forged on the underlay are dropped: from an address that is no registered host, from a
 *   live host claiming another host's endpoint, with an address the endpoint does not have, on a
 *   VNI that is no network — next to a genuine frame that is delivered;
 * - a host cut off from etcd (its packets to etcd rejected) while an edit lands keeps forwarding
 *   and applies the edit once it reaches etcd again.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { requirePrivileges } from '../helpers/privilege.js';
import { counters } from '../../bench/lib/net.js';
import { run, sleep } from '../../bench/lib/sys.js';
import type { Cluster } from '../../bench/lib/sim/cluster.js';
import { testCluster } from '../helpers/cluster.js';
import { ping, tcpConnects, type SimContainer } from '../../bench/lib/sim/containers.js';
import { StoreTopology } from '../../bench/lib/sim/store-topology.js';
import { UNDERLAY_BRIDGE } from '../../bench/lib/sim/names.js';

requirePrivileges(t);

const DEVICE = 'vnfvx0';
const VNI = { front: 5101, back: 5102, mgmt: 5103 };

function topologyData(name: string, extraRules: unknown[] = []): StoreTopology['data'] {
  return {
    apiVersion: 'vnf/v1',
    name,
    networks: {
      front: { subnet: '10.51.0.0/24', vni: VNI.front },
      back: { subnet: '10.52.0.0/24', vni: VNI.back },
      mgmt: { subnet: '10.53.0.0/24', vni: VNI.mgmt },
    },
    routers: { r1: { ports: { front: '10.51.0.1/24', back: '10.52.0.1/24' } } },
    containers: {
      web1: { host: 'h1', interfaces: { eth0: { network: 'front', ip: '10.51.0.10/24' } } },
      app: { host: 'h1', interfaces: { eth0: { network: 'back', ip: '10.52.0.20/24' } } },
      m1: { host: 'h1', interfaces: { eth0: { network: 'mgmt', ip: '10.53.0.10/24' } } },
      web2: { host: 'h2', interfaces: { eth0: { network: 'front', ip: '10.51.0.11/24' } } },
      m2: { host: 'h2', interfaces: { eth0: { network: 'mgmt', ip: '10.53.0.11/24' } } },
      db: { host: 'h3', interfaces: { eth0: { network: 'back', ip: '10.52.0.10/24' } } },
    },
    firewalls: {
      'db-in': {
        attach: ['db/eth0'],
        ingress: {
          default: 'drop',
          rules: [
            { action: 'allow', proto: 'tcp', from: '10.51.0.0/24', ports: [5432], name: 'postgres' },
            { action: 'allow', proto: 'icmp', icmpType: 'echo-request' },
            ...extraRules,
          ],
        },
      },
    },
  };
}

/** A TCP listener in a container for the test's duration (nc -lk). */
function listen(tt: Test, c: SimContainer, port: number): void {
  const p = spawn('ip', ['netns', 'exec', c.ns, 'nc', '-lk', '-p', String(port)], { stdio: 'ignore' });
  tt.teardown(() => {
    p.kill('SIGKILL');
  });
}

/** The host's VXLAN device counters (read through netlink in its namespace). */
const vx = (cl: Cluster, host: string) => counters(cl.host(host).ns, DEVICE);

/** Pings at 100/s for `seconds` in the background; resolves with (sent, received). */
function flow(from: SimContainer, dst: string, seconds: number): Promise<{ sent: number; received: number; lost: string }> {
  const count = Math.round(seconds * 100);
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', from.ns, 'ping', '-c', String(count), '-i', '0.01', '-W', '1', '-D', '-O', dst], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => {
      const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
      resolve({ sent: m ? Number(m[1]) : 0, received: m ? Number(m[2]) : -1, lost: out.split('\n').filter((l) => /no answer/.test(l)).slice(0, 40).join('\n') });
    });
  });
}

/** Sends one VXLAN datagram (UDP 4789) from namespace `ns`: header with `vni`, then `inner`. */
function sendVxlan(argvPrefix: string[], dst: string, vni: number, inner: Buffer): void {
  const hdr = Buffer.alloc(8);
  hdr[0] = 0x08; // I flag: the VNI is valid
  hdr.writeUIntBE(vni, 4, 3);
  const payload = Buffer.concat([hdr, inner]).toString('hex');
  const js = `const s=require('node:dgram').createSocket('udp4');s.send(Buffer.from('${payload}','hex'),4789,'${dst}',()=>s.close());`;
  run([...argvPrefix, process.execPath, '-e', js]);
}

/** An Ethernet + IPv4 + UDP frame (checksums right: the receiver's stack must accept it if it arrives). */
function udpFrame(srcMac: string, dstMac: string, src: string, dst: string, dport: number, text: string): Buffer {
  const mac = (m: string): Buffer => Buffer.from(m.split(':').map((x) => parseInt(x, 16)));
  const ip4 = (a: string): Buffer => Buffer.from(a.split('.').map(Number));
  const data = Buffer.from(text);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(40000, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + data.length, 4); // checksum 0: none (allowed for UDP over IPv4)
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + data.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  ip4(src).copy(ip, 12);
  ip4(dst).copy(ip, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  return Buffer.concat([mac(dstMac), mac(srcMac), Buffer.from([0x08, 0x00]), ip, udp, data]);
}

/** Collects what a UDP listener in a container receives (nc -lu). */
function udpSink(tt: Test, c: SimContainer, port: number): () => string {
  let got = '';
  const p = spawn('ip', ['netns', 'exec', c.ns, 'nc', '-lu', '-p', String(port)], { stdio: ['ignore', 'pipe', 'ignore'] });
  p.stdout.on('data', (d: Buffer) => (got += d.toString()));
  tt.teardown(() => {
    p.kill('SIGKILL');
  });
  return () => got;
}

t.test('three hosts through etcd and the eBPF overlay', { timeout: 600_000 }, async (t) => {
  const cl = await testCluster(t, { hosts: 3, agents: true });
  const name = `mh${Math.random().toString(36).slice(2, 7)}`;
  const topo = new StoreTopology(cl, cl.dir, topologyData(name));
  const first = topo.apply();
  await cl.waitConverged(first.revision, 60_000);
  const c = (n: string): SimContainer => topo.container(n);
  listen(t, c('db'), 5432);
  listen(t, c('db'), 22);

  await t.test('containers reach each other across hosts and networks as the file says; the firewall blocks what it says', async (tt) => {
    tt.equal(ping(c('web1'), '10.51.0.11'), 3, 'web1 (h1) -> web2 (h2): one network across hosts');
    tt.equal(ping(c('web1'), '10.52.0.10'), 3, 'web1 (h1) -> db (h3): routed, across hosts');
    tt.equal(ping(c('web2'), '10.52.0.10'), 3, 'web2 (h2) -> db (h3)');
    tt.equal(ping(c('m1'), '10.53.0.11'), 3, 'm1 (h1) -> m2 (h2): a network without a router');
    tt.equal(ping(c('web1'), '10.52.0.20'), 3, 'web1 -> app: routed on h1');
    tt.ok(tcpConnects(c('web1'), '10.52.0.10', 5432), 'db-in allows tcp 5432 from front, across hosts');
    tt.notOk(tcpConnects(c('web1'), '10.52.0.10', 22, 1), 'db-in drops tcp 22');
    tt.notOk(tcpConnects(c('app'), '10.52.0.10', 5432, 1), 'db-in drops tcp 5432 from back');
    tt.equal(ping(c('m1'), '10.52.0.10', 2), 0, 'mgmt has no router: m1 cannot reach db');
  });

  await t.test('routing is local: same-host routing never touches the overlay; cross-host crosses it once', async (tt) => {
    const before = { h1: vx(cl, 'h1'), h2: vx(cl, 'h2'), h3: vx(cl, 'h3') };
    tt.equal(ping(c('web1'), '10.52.0.20', 20, { intervalS: 0.01 }), 20, 'web1 -> app (both on h1)');
    const mid = { h1: vx(cl, 'h1'), h2: vx(cl, 'h2'), h3: vx(cl, 'h3') };
    // A neighbour probe of an earlier flow (web1 -> web2) may cross meanwhile: never the 20 pings.
    tt.ok(mid.h1.txPackets - before.h1.txPackets < 3, `nothing of it left h1 through the overlay (${mid.h1.txPackets - before.h1.txPackets} packets)`);
    tt.equal(ping(c('web1'), '10.52.0.10', 20, { intervalS: 0.01 }), 20, 'web1 (h1) -> db (h3)');
    const after = { h1: vx(cl, 'h1'), h2: vx(cl, 'h2'), h3: vx(cl, 'h3') };
    const d = { h1tx: after.h1.txPackets - mid.h1.txPackets, h3rx: after.h3.rxPackets - mid.h3.rxPackets, h3tx: after.h3.txPackets - mid.h3.txPackets, h2rx: after.h2.rxPackets - mid.h2.rxPackets };
    tt.ok(d.h1tx >= 20 && d.h1tx < 23, `the 20 requests left h1 once each (${d.h1tx} packets)`);
    tt.ok(d.h3rx >= 20 && d.h3rx < 23, `and arrived at h3 once each (${d.h3rx})`);
    tt.ok(d.h3tx >= 20 && d.h3tx < 23, `the 20 replies left h3 once each, routed on h3 (${d.h3tx})`);
    tt.ok(d.h2rx < 3, `h2, with no part in it, saw none of them (${d.h2rx} packets: neighbour probes at most)`);
  });

  await t.test('frames forged on the underlay are dropped', async (tt) => {
    const got = udpSink(tt, c('web2'), 9999);
    await sleep(200);
    const h2 = cl.host('h2').addr;
    const web1 = c('web1').interfaces[0]!;
    const web2 = c('web2').interfaces[0]!;
    const frame = (text: string, src = web1.addr): Buffer => udpFrame(web1.mac, web2.mac, src, web2.addr, 9999, text);
    // The control: h1 sending as web1 (which lives on h1) is what a genuine frame looks like.
    sendVxlan(cl.host('h1').enter([]), h2, VNI.front, frame('genuine'));
    // An intruder on the underlay (an address that is no registered host).
    const intruder = `${cl.names.prefix}-x`;
    run(['ip', 'netns', 'add', intruder]);
    cl.cleanup.defer(`delete ${intruder}`, () => void run(['ip', 'netns', 'del', intruder], { check: false }));
    run(['ip', 'link', 'add', 'ul-x', 'netns', cl.names.underlay, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', intruder]);
    run(['ip', '-n', cl.names.underlay, 'link', 'set', 'ul-x', 'master', UNDERLAY_BRIDGE, 'up']);
    run(['ip', '-n', intruder, 'addr', 'add', `10.${cl.names.octet}.0.200/24`, 'dev', 'ul0']);
    run(['ip', '-n', intruder, 'link', 'set', 'ul0', 'up']);
    sendVxlan(['ip', 'netns', 'exec', intruder], h2, VNI.front, frame('intruder'));
    // A live host (h3) claiming an endpoint that lives on h1.
    sendVxlan(cl.host('h3').enter([]), h2, VNI.front, frame('h3-as-web1'));
    // h1 sending as web1's MAC from an address web1 does not have.
    sendVxlan(cl.host('h1').enter([]), h2, VNI.front, frame('forged-ip', '10.51.0.77'));
    // h1 as web1, but on a VNI that is no network.
    sendVxlan(cl.host('h1').enter([]), h2, 999, frame('unknown-vni'));
    await sleep(500);
    tt.match(got(), /genuine/, 'the genuine frame from h1 was delivered (the sink works)');
    tt.notMatch(got(), /intruder/, 'a frame from an unregistered underlay address is dropped');
    tt.notMatch(got(), /h3-as-web1/, 'a frame from h3 claiming an endpoint of h1 is dropped');
    tt.notMatch(got(), /forged-ip/, 'a frame from h1 with an address its endpoint does not have is dropped');
    tt.notMatch(got(), /unknown-vni/, 'a frame on an unknown VNI is dropped');
  });

  await t.test('a host cut off from etcd keeps forwarding and catches up with an edit it missed', async (tt) => {
    // h2 cannot reach etcd (its agent retries) while an edit lands: db-in now allows tcp 22.
    const port = String(cl.etcd.url.split(':').pop());
    const cut = ['ip', 'netns', 'exec', cl.host('h2').ns, 'iptables', '-w', '-I', 'OUTPUT', '-p', 'tcp', '--dport', port, '-j', 'REJECT', '--reject-with', 'tcp-reset'];
    run(cut);
    cl.cleanup.defer('uncut h2', () => void run([...cut.slice(0, 6), '-D', ...cut.slice(7)], { check: false }));
    topo.data.firewalls = topologyData(name, [{ action: 'allow', proto: 'tcp', from: '10.51.0.0/24', ports: [22], name: 'ssh' }]).firewalls;
    const during = flow(c('web2'), '10.52.0.10', 3);
    const edit = topo.apply();
    tt.ok(edit.changed, 'the edit was written');
    const r = await during;
    tt.equal(r.received, r.sent, `h2, cut off, kept forwarding (${r.received}/${r.sent})`);
    await cl.waitConverged(edit.revision, 30_000, { hosts: ['h1', 'h3'] });
    tt.ok(tcpConnects(c('web1'), '10.52.0.10', 22), 'the edit is in force on h3');
    const v = cl.view();
    tt.not(v.hosts.find((h) => h.name === 'h2')?.appliedRevision, edit.revision, 'h2 has not seen it');
    run([...cut.slice(0, 6), '-D', ...cut.slice(7)]);
    const caught = await cl.waitConverged(edit.revision, 30_000, { hosts: ['h2'] });
    tt.pass(`h2 caught up ${Math.round(caught.ms)} ms after it could reach etcd again`);
    // (Had the cut outlived h2's lease, h3 re-adds h2's endpoints once h2 registers again: a few tries.)
    let ok = false;
    for (let i = 0; i < 10 && !ok; i++) ok = tcpConnects(c('web2'), '10.52.0.10', 22, 1);
    tt.ok(ok, 'and its container reaches db:22');
  });
});
