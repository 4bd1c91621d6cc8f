/**
 * TCP connection tracking against forged segments, end to end: a real TCP
 * connection between two firewalled containers, and a third container that
 * forges (raw AF_PACKET frames, the peers' addresses) an out-of-window RST, a
 * reply-direction SYN and SYN/ACK, and an out-of-window RST in the original
 * direction. Before the window checks, the RST moved the entry to CLOSE and
 * the SYN then deleted it: the connection died in the firewall while both
 * endpoints still held it. Now the forgeries are dropped as CT_INVALID and the
 * connection goes on.
 *
 * An ordinary container cannot send as another's address at all (per-port
 * identity drops it at its own port: test/integration/identity.test.ts). The
 * attacker here is the one kind that can: a forwarding container on another
 * network, declared (allowedSources) to send as the LAN's addresses, whose
 * frames the router carries onto the LAN. Its forgeries reach the victims'
 * firewalls, which is what this test is about.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, type Lab } from '../helpers/lab.js';
import { nsExec } from '../helpers/netns.js';
import { BpfMap } from '../../src/bpf/map.js';
import { pinDir } from '../../src/model/names.js';
import { ctEntryCodec, ctKeyCodec, ctTcpDirs } from '../../src/vnf/conntrack/codec.js';

const CLIENT = '10.72.1.10';
const SERVER = '10.72.1.20';
const CPORT = 40123;

const TOPOLOGY = `
apiVersion: vnf/v1
name: NAME
containers:
  client: { interfaces: { eth0: { network: lan, ip: ${CLIENT}/24 } } }
  server: { interfaces: { eth0: { network: lan, ip: ${SERVER}/24 } } }
  attacker: { interfaces: { eth0: { network: dmz, ip: 10.72.2.66/24, allowedSources: [10.72.1.0/24] } } }
networks:
  lan: { subnet: 10.72.1.0/24 }
  dmz: { subnet: 10.72.2.0/24 }
routers:
  r: { ports: { lan: 10.72.1.1/24, dmz: 10.72.2.1/24 } }
firewalls:
  server-fw:
    attach: [server/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: tcp, from: ${CLIENT}/32, ports: [80] }
    egress:
      default: drop
  client-fw:
    attach: [client/eth0]
    ingress:
      default: drop
    egress:
      default: allow
`;

/** Echo server on :80: answers each chunk upper-cased. (Every script ends itself within 50 s.) */
const SERVER_PY = `
import signal, socket
signal.alarm(50)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 80)); s.listen(1)
c, _ = s.accept()
while True:
    d = c.recv(4096)
    if not d: break
    c.sendall(d.upper())
`;

/** Client from a fixed port: each stdin line is sent, the echo printed (or TIMEOUT). */
const CLIENT_PY = `
import signal, socket, sys
signal.alarm(50)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('${CLIENT}', ${CPORT})); s.settimeout(4); s.connect(('${SERVER}', 80))
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

/** Sends forged TCP segments (JSON list in argv[1]) from eth0 with checksums that verify. */
const FORGE_PY = `
import json, socket, struct, sys
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
sk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sk.bind(('eth0', 0))
mac = sk.getsockname()[4]
for g in json.loads(sys.argv[1]):
    src, dst = socket.inet_aton(g['src']), socket.inet_aton(g['dst'])
    tcp = struct.pack('!HHIIBBHHH', g['sport'], g['dport'], g['seq'], g['ack'], 5 << 4, g['flags'], 1024, 0, 0)
    tcp = tcp[:16] + struct.pack('!H', csum(src + dst + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 0x4242, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    sk.send(bytes.fromhex(g['dmac'].replace(':', '')) + mac + b'\\x08\\x00' + ip + tcp)
print(len(json.loads(sys.argv[1])))
`;

const RST = 0x04;
const SYN = 0x02;
const ACK = 0x10;

/** A python process in a namespace whose stdout lines can be awaited. */
class Py {
  readonly p: ChildProcessWithoutNullStreams;
  private lines: string[] = [];
  private waiters: Array<() => void> = [];

  constructor(t: Test, ns: string, code: string) {
    // Its own process group: teardown ends python too, not only the `ip` that
    // exec'd it (an orphan would hold our pipes and keep the test alive).
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

  /** Sends a line to the client and returns its answer. */
  async say(s: string): Promise<string> {
    this.p.stdin.write(`${s}\n`);
    return this.line();
  }
}

interface Tracked { cliNxt: number; srvNxt: number }

/** The connection's entries (one per firewalled port), read from the pinned table. */
function tracked(lab: Lab): Tracked[] {
  const m = BpfMap.openPinned(join(pinDir(lab.name), 'vnf_ct'));
  try {
    return m.entries().map(([k, v]) => [ctKeyCodec.decode(k), ctEntryCodec.decode(v)] as const)
      .filter(([k]) => k.proto === 6 && k.sport === CPORT && k.dport === 80)
      .map(([, e]) => {
        const [o, r] = ctTcpDirs(e);
        return { cliNxt: o.td_end, srvNxt: r.td_end };
      });
  } finally {
    m.close();
  }
}

function conntrackStates(lab: Lab): string[] {
  const ct = JSON.parse(vnfctl(['conntrack', lab.name, '-o', 'json']).stdout) as Array<{ proto: string; src: { address: string; port: number | null }; dst: { address: string; port: number | null }; state: string }>;
  return ct.filter((c) => c.proto === 'tcp' && c.src.address === CLIENT && c.src.port === CPORT && c.dst.address === SERVER && c.dst.port === 80).map((c) => c.state);
}

function ctInvalidDrops(lab: Lab): number {
  const s = JSON.parse(vnfctl(['stats', lab.name, '-o', 'json']).stdout) as { vnfs: Array<{ vnf: string; reason: string; packets: number }> };
  return s.vnfs.filter((v) => v.vnf === 'firewall' && v.reason === 'drop:ct-invalid').reduce((a, v) => a + v.packets, 0);
}

if (requirePrivileges(t)) {
  t.test('forged RSTs and reply-direction SYNs from a third container do not kill a tracked connection', async (t) => {
    const lab = labUp(t, TOPOLOGY, ['client', 'server', 'attacker']);
    // The attacker's frames go to the router (its gateway on dmz), which routes them onto the LAN.
    nsExec(lab.ns('attacker'), ['ping', '-c', '1', '-W', '1', '10.72.2.1']);
    const routerMac = /lladdr (\S+)/.exec(nsExec(lab.ns('attacker'), ['ip', 'neigh', 'show', '10.72.2.1']))?.[1] ?? '';
    t.ok(routerMac, `the attacker knows its gateway (${routerMac})`);
    const [clientMac, serverMac] = [routerMac, routerMac];

    new Py(t, lab.ns('server'), SERVER_PY);
    await new Promise((r) => setTimeout(r, 500)); // listening
    const client = new Py(t, lab.ns('client'), CLIENT_PY);
    t.equal(await client.line(), 'CONNECTED', 'the client connects to the server through both firewalls');
    t.equal(await client.say('one'), 'ONE', 'data flows both ways');
    t.same(conntrackStates(lab), ['established', 'established'], 'tracked ESTABLISHED at both ports');

    const [e] = tracked(lab);
    t.ok(e, 'the entry, read from the pinned table');
    const { cliNxt, srvNxt } = e!;
    const far = (x: number, d: number): number => (x + d) >>> 0;
    const fromServer = { src: SERVER, dst: CLIENT, sport: 80, dport: CPORT, dmac: clientMac };
    const fromClient = { src: CLIENT, dst: SERVER, sport: CPORT, dport: 80, dmac: serverMac };
    const forged = [
      { ...fromServer, flags: RST | ACK, seq: far(srvNxt, 0x4000_0000), ack: cliNxt }, // out of window, ahead
      { ...fromServer, flags: RST, seq: far(srvNxt, -0x4000_0000), ack: 0 },           // out of window, behind
      { ...fromServer, flags: SYN, seq: 0x0bad_5eed, ack: 0 },                         // the responder's SYN
      { ...fromServer, flags: SYN | ACK, seq: 0x0bad_5eed, ack: far(cliNxt, 12345) },  // and SYN/ACK
      { ...fromServer, flags: RST | ACK, seq: far(srvNxt, 0x4000_0000), ack: cliNxt }, // the RST again, after the SYN
      { ...fromClient, flags: RST | ACK, seq: far(cliNxt, 0x4000_0000), ack: srvNxt }, // at the server, out of window
    ];
    const drops0 = ctInvalidDrops(lab);
    const sent = nsExec(lab.ns('attacker'), ['python3', '-c', FORGE_PY, JSON.stringify(forged)]).trim();
    t.equal(sent, String(forged.length), `the attacker sent ${forged.length} forged segments`);
    await new Promise((r) => setTimeout(r, 300));
    t.equal(ctInvalidDrops(lab) - drops0, forged.length, 'every one dropped by the victim\'s firewall as drop:ct-invalid');

    t.same(conntrackStates(lab), ['established', 'established'], 'the entries are still ESTABLISHED');
    t.equal(await client.say('two'), 'TWO', 'the connection keeps working');
    t.equal(await client.say('three and more'), 'THREE AND MORE', 'both ways');
    t.same(conntrackStates(lab), ['established', 'established'], 'still ESTABLISHED');
    client.p.stdin.end();
  });
}
