/**
 * Connection tracking under pressure, end to end: a real TCP connection between two firewalled
 * containers stays usable while a third container floods the server's port with hundreds of
 * thousands of new UDP flows (raw frames, random source ports). Before the fix the flood filled
 * the shared LRU table and evicted the connection's entries: its next segment was dropped as
 * invalid. Now the flooder's port holds at most its quota of new connections (from the topology
 * file), the rest are dropped and counted as ct-full, and the connection's entries, protected,
 * stay. With no vnf-ctl process running, the kernel's collector then reclaims the flood's expired
 * entries: the server's port takes new connections again.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp } from '../helpers/lab.js';
import { background } from '../helpers/background.js';
import { nsExec } from '../helpers/netns.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { counted, getStats, getTopology } from '../helpers/vnf.js';

const CLIENT = '10.73.1.10';
const SERVER = '10.73.1.20';
const FLOODER = '10.73.1.66';
const QUOTA = 20000; // settings.conntrack.maxNewPerPort
const FLOWS = 300_000;

const TOPOLOGY = `
apiVersion: vnf/v1
name: NAME
settings:
  conntrack:
    maxNewPerPort: ${QUOTA}
    timeouts: { udp: 15 }
containers:
  client: { interfaces: { eth0: { network: lan, ip: ${CLIENT}/24 } } }
  server: { interfaces: { eth0: { network: lan, ip: ${SERVER}/24 } } }
  flooder: { interfaces: { eth0: { network: lan, ip: ${FLOODER}/24 } } }
networks:
  lan: { subnet: 10.73.1.0/24 }
firewalls:
  server-fw:
    attach: [server/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: tcp, from: ${CLIENT}/32, ports: [80] }
        - { action: allow, proto: udp, ports: [9] }
    egress:
      default: drop
  edge-fw:
    attach: [client/eth0, flooder/eth0]
    ingress:
      default: drop
    egress:
      default: allow
`;

/** Echo server on :80, one connection at a time, each chunk upper-cased. (Ends itself within 90 s.) */
const SERVER_PY = `
import signal, socket, threading
signal.alarm(90)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 80)); s.listen(4)
def serve(c):
    while True:
        d = c.recv(4096)
        if not d: break
        c.sendall(d.upper())
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** Client: connects, then sends each stdin line and prints the echo (or TIMEOUT). */
const CLIENT_PY = `
import signal, socket, sys
signal.alarm(90)
s = socket.socket(); s.settimeout(4); s.connect(('${SERVER}', 80))
print('CONNECTED', flush=True)
for line in sys.stdin:
    m = line.strip().encode()
    s.sendall(m)
    got = b''
    try:
        while len(got) < len(m):
            got += s.recv(4096)
        print(got.decode(), flush=True)
    except OSError as e:
        print('TIMEOUT', e, flush=True)
`;

/** One connect and echo, as a fresh connection: prints OK or the error. */
const ONCE_PY = `
import socket
try:
    s = socket.create_connection(('${SERVER}', 80), timeout=3); s.sendall(b'again'); print('OK' if s.recv(16) == b'AGAIN' else 'BAD')
except OSError as e:
    print('FAIL', e)
`;

/** The flood: FLOWS new UDP flows from the flooder's own address to the server, two datagrams
 * each, as raw frames: random source ports, destination ports 9, 10, ... (the server allows 9
 * only; every flow still opens a connection at the flooder's own port first). argv[1]: the
 * server's MAC. (Flows of one datagram would not reach the old LRU's active list, where the
 * connection's entries live; flows used twice do, as real ones are.) */
const FLOOD_PY = `
import random, socket, struct, sys
n = ${FLOWS}
sk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sk.bind(('eth0', 0))
mac = sk.getsockname()[4]
dmac = bytes.fromhex(sys.argv[1].replace(':', ''))
def csum(b):
    s = sum(struct.unpack('!10H', b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
ip = bytearray(struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + 8 + 16, 0, 0, 64, 17, 0, socket.inet_aton('${FLOODER}'), socket.inet_aton('${SERVER}')))
ip[10:12] = struct.pack('!H', csum(bytes(ip)))
head = dmac + mac + b'\\x08\\x00' + bytes(ip)
ports = random.sample(range(1024, 65536), 64512)
for i in range(n):
    f = head + struct.pack('!HHHH', ports[i % 64512], 9 + i // 64512, 24, 0) + b'x' * 16
    sk.send(f)
    sk.send(f)
print('SENT', n, flush=True)
`;

/** A python process in a namespace whose stdout lines can be awaited. */
class Py {
  readonly p: ChildProcessWithoutNullStreams;
  private lines: string[] = [];
  private waiters: Array<() => void> = [];

  constructor(t: Test, ns: string, code: string) {
    this.p = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', code], { detached: true });
    let buf = '';
    this.p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        this.waiters.splice(0).forEach((w) => w());
      }
    });
    t.teardown(() => {
      try { process.kill(-this.p.pid!, 'SIGKILL'); } catch { /* already gone */ }
    });
  }

  async line(timeoutMs = 8000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (Date.now() > deadline) return '(nothing)';
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 200); });
    }
    return this.lines.shift()!;
  }

  async say(s: string): Promise<string> {
    this.p.stdin.write(`${s}\n`);
    return this.line();
  }
}

interface CtRow { proto: string; src: { address: string; port: number | null }; dst: { address: string; port: number | null }; state: string; ifname: string | null; protected: boolean }
const conntrack = (name: string): CtRow[] => JSON.parse(vnfctl(['conntrack', name, '-o', 'json']).stdout) as CtRow[];
const isConn = (c: CtRow): boolean => c.proto === 'tcp' && c.dst.address === SERVER && c.dst.port === 80 && c.src.address === CLIENT;

if (requirePrivileges(t)) {
  t.test('an idle TCP connection stays usable while a third container floods the server\'s port with 300,000 new flows', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['client', 'server', 'flooder']);
    new Py(t, lab.ns('server'), SERVER_PY);
    await new Promise((r) => setTimeout(r, 500));
    const client = new Py(t, lab.ns('client'), CLIENT_PY);
    t.equal(await client.line(), 'CONNECTED', 'the client connects through both firewalls');
    t.equal(await client.say('before'), 'BEFORE', 'data flows both ways');
    t.same(conntrack(lab.name).filter(isConn).map((c) => [c.state, c.protected]), [['established', true], ['established', true]],
      'tracked at both ports, ESTABLISHED and protected');

    // The flood, in the background, from the flooder's own address to the server's port.
    const dir = mkdtempSync(join(tmpdir(), 'vnf-flood-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'flood.py'), FLOOD_PY);
    const serverMac = nsExec(lab.ns('server'), ['cat', '/sys/class/net/eth0/address']).trim();
    // The connection stays idle meanwhile: idle established connections are what the flood used to evict.
    const flood = background(t, lab.ns('flooder'), `python3 ${join(dir, 'flood.py')} ${serverMac}`);
    const end = Date.now() + 120_000;
    while (!flood.out().includes('SENT') && Date.now() < end) await new Promise((r) => setTimeout(r, 500));
    t.match(flood.out(), new RegExp(`SENT ${FLOWS}`), `the flooder sent ${FLOWS} frames`);
    t.equal(await client.say('after the flood'), 'AFTER THE FLOOD', 'the idle connection works after the flood');
    t.equal(await client.say('x'.repeat(3000)), 'X'.repeat(3000), 'with data in both directions');

    const stats = getStats(lab.name);
    const full = counted(stats, 'firewall', 'drop:ct-full');
    // Both datagrams of every flow beyond the flooder's quota, less what its veth may have dropped before our hook.
    t.ok(full >= 0.9 * 2 * (FLOWS - QUOTA), `vnf-ctl stats shows ${full} datagrams of new flows dropped as drop:ct-full`);
    const ct = conntrack(lab.name);
    t.same(ct.filter(isConn).map((c) => [c.state, c.protected]), [['established', true], ['established', true]], 'the connection is still tracked at both ports');
    const udp = ct.filter((c) => c.proto === 'udp');
    t.equal(udp.length, 2 * QUOTA, `the flood holds ${udp.length} entries: its quota at the flooder's port and as many at the server's`);
    const view = getTopology(lab.name) as unknown as { conntrack?: Array<{ ifname: string; other: number }> };
    t.equal((view.conntrack ?? []).filter((z) => Number(z.other) === QUOTA).length, 2, `vnf-ctl get shows both ports at the quota of ${QUOTA}`);
    t.equal(nsExec(lab.ns('client'), ['python3', '-c', ONCE_PY]).trim().split(' ')[0], 'FAIL',
      "meanwhile a new connection to the server is refused: the flood holds the server port's quota");

    // Nothing of vnf-ctl runs now: the kernel's collector reclaims the flood's entries (UDP: 15 s).
    const gone = Date.now() + 60_000;
    let left = udp.length;
    while (left > 0 && Date.now() < gone) {
      await new Promise((r) => setTimeout(r, 1000));
      left = conntrack(lab.name).filter((c) => c.proto === 'udp').length;
    }
    t.equal(left, 0, 'the expired flood entries were reclaimed by the kernel');
    t.equal(await client.say('still'), 'STILL', 'the connection is still usable');
    t.equal(nsExec(lab.ns('client'), ['python3', '-c', ONCE_PY]).trim(), 'OK', "the server's port takes new connections again");
    client.p.stdin.end();
  });
}
