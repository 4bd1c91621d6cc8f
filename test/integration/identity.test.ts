/**
 * Per-port identity with real containers (issue 8): a container sends raw frames as someone
 * else — another container's address, another MAC, an ARP reply for the gateway, a VLAN-tagged
 * frame — and none of them gets through; the honest frame beside each attack does.
 */
import t, { type Test } from 'tap';
import { writeFileSync, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, type Lab } from '../helpers/lab.js';
import { nsExec, nsRun, ping } from '../helpers/netns.js';
import { background } from '../helpers/background.js';
import { arp, eth, ETH_P_ARP, ETH_P_IP, ipv4, IPPROTO_UDP, udp } from '../helpers/packets.js';

const TOPOLOGY = `
apiVersion: vnf/v1
name: NAME
containers:
  a: { interfaces: { eth0: { network: left, ip: 10.63.1.10/24, mac: "02:00:00:63:01:0a" } } }
  b: { interfaces: { eth0: { network: left, ip: 10.63.1.11/24, mac: "02:00:00:63:01:0b" } } }
  c: { interfaces: { eth0: { network: right, ip: 10.63.2.10/24, mac: "02:00:00:63:02:0a" } } }
networks:
  left: { subnet: 10.63.1.0/24 }
  right: { subnet: 10.63.2.0/24 }
routers:
  r: { ports: { left: 10.63.1.1/24, right: 10.63.2.1/24 } }
firewalls:
  only-a:
    attach: [c/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: udp, from: 10.63.1.10, ports: [7000] }
`;
const A_MAC = '02:00:00:63:01:0a';
const B_MAC = '02:00:00:63:01:0b';

/** Sends raw frames (hex) from a container's eth0 through an AF_PACKET socket. */
function sendRaw(t: Test, ns: string, frames: Buffer[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'vnf-raw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const script = join(dir, 'send.py');
  writeFileSync(script, [
    'import socket, sys',
    's = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)',
    "s.bind(('eth0', 0))",
    'for h in sys.argv[1:]:',
    '    s.send(bytes.fromhex(h))',
  ].join('\n'));
  nsExec(ns, ['python3', script, ...frames.map((f) => f.toString('hex'))]);
}

function drops(lab: Lab): Record<string, number> {
  const s = JSON.parse(vnfctl(['stats', lab.name, '-o', 'json']).stdout) as { vnfs: Array<{ vnf: string; reason: string; packets: number }> };
  return Object.fromEntries(s.vnfs.filter((v) => v.vnf === 'core').map((v) => [v.reason, v.packets]));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (requirePrivileges(t)) {
  t.test('a forged source address does not pass a rule that admits the real owner', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['a', 'b', 'c']);
    // Warm up ARP and routes (the router's MAC for a and b).
    t.equal(ping(lab.ns('a'), '10.63.1.1', 1), 1);
    t.equal(ping(lab.ns('b'), '10.63.1.1', 1), 1);
    const routerMac = /lladdr (\S+)/.exec(nsRun(lab.ns('b'), ['ip', 'neigh', 'show', '10.63.1.1']).stdout)?.[1];
    t.ok(routerMac, `b knows the router's MAC (${routerMac})`);
    const sink = background(t, lab.ns('c'), 'exec nc -u -l -k 7000');
    await sleep(300);
    const datagram = (src: string, srcMac: string, text: string): Buffer =>
      eth(routerMac!, srcMac, ETH_P_IP, ipv4({ src, dst: '10.63.2.10', proto: IPPROTO_UDP, ttl: 64 }, udp(src, '10.63.2.10', 40000, 7000, Buffer.from(text))));
    const before = drops(lab)['drop:spoof-ip'] ?? 0;
    sendRaw(t, lab.ns('b'), [datagram('10.63.1.10', B_MAC, 'forged-by-b\n')]);
    nsExec(lab.ns('a'), ['sh', '-c', 'echo honest-from-a | nc -u -w 1 10.63.2.10 7000']);
    await sleep(500);
    t.match(sink.out(), /honest-from-a/, 'a, whom the rule admits, gets through');
    t.notMatch(sink.out(), /forged-by-b/, "b, sending as a's address, does not");
    t.ok((drops(lab)['drop:spoof-ip'] ?? 0) > before, 'counted as drop:spoof-ip');
  });

  t.test("a forged source MAC is dropped and never moves the victim's FDB entry", async (t) => {
    const lab = labUp(t, TOPOLOGY, ['a', 'b', 'c']);
    const before = drops(lab)['drop:spoof-mac'] ?? 0;
    sendRaw(t, lab.ns('b'), [eth('ff:ff:ff:ff:ff:ff', A_MAC, ETH_P_IP, ipv4({ src: '10.63.1.11', dst: '10.63.1.255', proto: IPPROTO_UDP }, udp('10.63.1.11', '10.63.1.255', 1, 9, Buffer.alloc(8))))]);
    await sleep(200);
    t.equal((drops(lab)['drop:spoof-mac'] ?? 0) - before, 1, "b sending as a's MAC: drop:spoof-mac");
    const fdb = JSON.parse(vnfctl(['get', lab.name, '-o', 'json', '--only', 'fdb']).stdout) as { fdb: Array<{ mac: string; kind: string }> };
    t.notOk(fdb.fdb.some((f) => f.mac === A_MAC && f.kind === 'learned'), "a's MAC was not learned behind b");
    t.equal(ping(lab.ns('b'), '10.63.1.10', 2), 2, 'a is still reachable at its own port');
  });

  t.test("a forged ARP reply for the gateway does not poison a neighbour's cache", async (t) => {
    const lab = labUp(t, TOPOLOGY, ['a', 'b', 'c']);
    t.equal(ping(lab.ns('a'), '10.63.1.1', 1), 1, 'a resolved the gateway');
    const neigh = (): string => nsRun(lab.ns('a'), ['ip', 'neigh', 'show', '10.63.1.1']).stdout;
    const real = /lladdr (\S+)/.exec(neigh())?.[1];
    t.ok(real && real !== B_MAC, `the gateway is at ${real}`);
    const before = drops(lab)['drop:spoof-arp'] ?? 0;
    // "10.63.1.1 is at b's MAC", sent to a: Linux updates an existing entry from an unsolicited reply.
    sendRaw(t, lab.ns('b'), [eth(A_MAC, B_MAC, ETH_P_ARP, arp(2, B_MAC, '10.63.1.1', A_MAC, '10.63.1.10'))]);
    await sleep(300);
    t.equal(/lladdr (\S+)/.exec(neigh())?.[1], real, "a still has the gateway's real MAC");
    t.equal((drops(lab)['drop:spoof-arp'] ?? 0) - before, 1, 'drop:spoof-arp');
    t.equal(ping(lab.ns('a'), '10.63.1.1', 1), 1, 'and a still reaches the real gateway');
  });

  t.test('a VLAN-tagged frame is dropped at the port (the tag would otherwise ride along)', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['a', 'b', 'c']);
    const inner = ipv4({ src: '10.63.1.11', dst: '10.63.1.10', proto: IPPROTO_UDP }, udp('10.63.1.11', '10.63.1.10', 1, 7, Buffer.from('tagged')));
    const tag = Buffer.from([0x00, 0x05, 0x08, 0x00]); // VID 5, then IPv4
    const tagged = Buffer.concat([eth(A_MAC, B_MAC, 0x8100, tag), inner]);
    const before = drops(lab)['drop:vlan'] ?? 0;
    const dump = background(t, lab.ns('a'), 'exec tcpdump -l -n -i eth0 -c 1 udp port 7 2>/dev/null');
    await sleep(500);
    sendRaw(t, lab.ns('b'), [tagged, tagged]);
    await sleep(500);
    t.equal((drops(lab)['drop:vlan'] ?? 0) - before, 2, 'both counted as drop:vlan (the receive path moved the tag to vlan_tci)');
    t.notMatch(dump.out(), /UDP/, 'nothing reached a');
  });

  t.test('a table flood (70,000 source MACs, 20,000 ARP senders) and then a takeover: nothing is learned, nothing is taken', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['a', 'b', 'c']);
    t.equal(ping(lab.ns('c'), '10.63.1.10', 1), 1, 'c reaches a through the router (the router resolved a)');
    const before = drops(lab);
    // b floods from inside its namespace: random source MACs, then ARP requests for the gateway
    // from random senders on the subnet (each would be a new learned neighbour), then claims a.
    const dir = mkdtempSync(join(tmpdir(), 'vnf-flood-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    chmodSync(dir, 0o755);
    const script = join(dir, 'flood.py');
    writeFileSync(script, [
      'import os, socket, struct, sys',
      's = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)',
      "s.bind(('eth0', 0))",
      'def mac(): return bytes([0x02]) + os.urandom(5)',
      "bcast = b'\\xff' * 6",
      'for i in range(70000):',
      "    s.send(bcast + mac() + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac() + bytes([10, 63, 1, 11]) + bytes(6) + bytes([10, 63, 1, 1]))",
      'for i in range(20000):',
      `    m = bytes.fromhex('${B_MAC.replaceAll(':', '')}')`, // b's own MAC: only the sender address lies
      "    s.send(bcast + m + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + m + bytes([10, 63, 1, 12 + i % 240]) + bytes(6) + bytes([10, 63, 1, 1]))",
      'for h in sys.argv[1:]:',
      '    s.send(bytes.fromhex(h))',
    ].join('\n'));
    const takeover = [
      // a's MAC as the source (the bridge would move a's entry behind b)
      eth('ff:ff:ff:ff:ff:ff', A_MAC, ETH_P_IP, ipv4({ src: '10.63.1.11', dst: '10.63.1.255', proto: IPPROTO_UDP }, udp('10.63.1.11', '10.63.1.255', 1, 9, Buffer.alloc(8)))),
      // a gratuitous ARP: "10.63.1.10 is at b's MAC" (the router would send a's traffic to b)
      eth('ff:ff:ff:ff:ff:ff', B_MAC, ETH_P_ARP, arp(1, B_MAC, '10.63.1.10', '00:00:00:00:00:00', '10.63.1.10')),
    ];
    nsExec(lab.ns('b'), ['python3', script, ...takeover.map((f) => f.toString('hex'))]);
    await sleep(500);
    const after = drops(lab);
    const grew = (r: string): number => (after[r] ?? 0) - (before[r] ?? 0);
    t.ok(grew('drop:spoof-mac') >= 70_000 && grew('drop:spoof-arp') >= 20_000, `the flood stopped at b's port (spoof-mac ${grew('drop:spoof-mac')}, spoof-arp ${grew('drop:spoof-arp')})`);
    t.ok(grew('drop:spoof-mac') >= 1 && grew('drop:spoof-arp') >= 1, 'and so did the takeover');
    const got = JSON.parse(vnfctl(['get', lab.name, '-o', 'json', '--only', 'fdb,neighbours']).stdout) as {
      fdb: Array<{ mac: string; kind: string }>; neighbours: Array<{ ip: string; mac: string }>;
    };
    t.ok(got.fdb.length <= 8, `no flooded MAC was learned (${got.fdb.length} FDB entries)`);
    t.notOk(got.neighbours.some((n) => n.mac === B_MAC && n.ip === '10.63.1.10'), "the router does not think a's address is at b");
    t.ok(got.neighbours.length <= 4, `no flooded sender became a neighbour (${got.neighbours.length})`);
    t.equal(ping(lab.ns('c'), '10.63.1.10', 2), 2, 'c still reaches a (routed to a, not to b)');
    t.equal(ping(lab.ns('b'), '10.63.1.10', 2), 2, 'b still reaches a on the bridge');
  });
}
