/**
 * NAT end to end, with real sockets: containers on two private networks behind router r1, whose
 * third network (wan) has an uplink interface with an "internet" namespace behind it (the lab
 * creates both). The internet holds the gateway 192.0.2.1 and a server at 198.51.100.1, and
 * knows no route to the private networks: whatever reaches it must carry a public source.
 *
 *   web 10.81.1.10, client 10.81.1.20 -- front --+
 *                                               r1 -- wan 192.0.2.2 -- uplink -- internet (192.0.2.1, 198.51.100.1)
 *   db 10.81.2.10 (floating 192.0.2.10) -- back -+
 *
 * masquerade front and back; db has a floating address; tcp 8080 -> web:80 and udp 5353 ->
 * db:53 are published. db's firewall lets in udp 53 only: floating traffic passes it as any.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, type Lab } from '../helpers/lab.js';
import { nsExec, nsRun, ping } from '../helpers/netns.js';
import { background, type Background } from '../helpers/background.js';

const TOPOLOGY = `
apiVersion: vnf/v1
name: NAME
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.81.1.10/24 } } }
  client: { interfaces: { eth0: { network: front, ip: 10.81.1.20/24 } } }
  db: { interfaces: { eth0: { network: back, ip: 10.81.2.10/24 } } }
networks:
  front: { subnet: 10.81.1.0/24 }
  back: { subnet: 10.81.2.0/24 }
  wan:
    subnet: 192.0.2.0/24
    uplink: { interface: NAME-up, lab: { namespace: internet, ip: 192.0.2.1 } }
routers:
  r1:
    ports: { front: 10.81.1.1/24, back: 10.81.2.1/24, wan: 192.0.2.2/24 }
    routes: [ { to: 0.0.0.0/0, via: 192.0.2.1 } ]
    nat:
      outside: wan
      masquerade: [10.81.1.0/24, 10.81.2.0/24]
      ports: "20000-29999"
      floating: [ { inside: 10.81.2.10, outside: 192.0.2.10 } ]
      forward:
        - { proto: tcp, port: 8080, to: 10.81.1.10:80 }
        - { proto: udp, port: 5353, to: 10.81.2.10:53 }
firewalls:
  db-in:
    attach: [db/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: udp, ports: [53] }
`;

const CONTAINERS = ['web', 'client', 'db', 'internet'];
const REMOTE = '198.51.100.1';

/** Scripts the namespaces run with this node: a TCP echo server that reports each peer, a UDP echo server, and a client. */
const SCRIPTS = {
  tcpServer: `
const net = require('net');
const [host, port] = process.argv.slice(2);
net.createServer((c) => {
  console.log('peer ' + c.remoteAddress + ':' + c.remotePort);
  c.on('data', (d) => c.write(d));
  c.on('error', () => {});
}).listen(Number(port), host, () => console.log('listening'));
`,
  udpServer: `
const s = require('dgram').createSocket('udp4');
const [host, port] = process.argv.slice(2);
s.on('message', (m, r) => { console.log('peer ' + r.address + ':' + r.port); s.send(m, r.port, r.address); });
s.bind(Number(port), host, () => console.log('listening'));
`,
  // Opens N connections at once, checks each echoes, reports its local ports, holds them open; SIGUSR1 has every one echo again.
  tcpClients: `
const net = require('net');
const [host, port, n] = process.argv.slice(2);
const socks = [];
let ok = 0;
for (let i = 0; i < Number(n); i++) {
  const s = net.connect(Number(port), host);
  socks.push(s);
  s.setTimeout(10000, () => { console.log('timeout'); process.exit(1); });
  s.once('data', () => { if (++ok === Number(n)) console.log('ok ' + socks.map((x) => x.localPort).join(',')); });
  s.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
  s.on('connect', () => s.write('hello'));
}
let again = 0;
process.on('SIGUSR1', () => {
  for (const s of socks) { s.once('data', () => { if (++again === socks.length) console.log('again ok'); }); s.write('x'); }
});
`,
  udpClient: `
const s = require('dgram').createSocket('udp4');
const [host, port] = process.argv.slice(2);
s.on('message', (m) => { console.log('local ' + s.address().port); console.log('reply ' + m.toString()); process.exit(0); });
s.send('query', Number(port), host);
setTimeout(() => { console.log('timeout'); process.exit(1); }, 3000);
`,
  tcpOnce: `
const s = require('net').connect(Number(process.argv[3]), process.argv[2]);
s.setTimeout(3000, () => { console.log('timeout'); process.exit(1); });
s.on('connect', () => s.write('hello'));
s.on('data', (d) => { console.log('reply ' + d.toString()); process.exit(0); });
s.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
`,
};

function scripts(t: Test): Record<keyof typeof SCRIPTS, string> {
  const dir = mkdtempSync(join(tmpdir(), 'vnf-nat-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = {} as Record<keyof typeof SCRIPTS, string>;
  for (const [k, v] of Object.entries(SCRIPTS)) {
    const f = join(dir, `${k}.js`);
    writeFileSync(f, v);
    out[k as keyof typeof SCRIPTS] = f;
  }
  return out;
}

async function until(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const node = process.execPath;
const peers = (b: Background): string[] => [...b.out().matchAll(/^peer (\S+)$/gm)].map((m) => m[1]!);
/** The last peer a server reported, once it has reported `n` (its output arrives asynchronously). */
async function peerNo(b: Background, n: number): Promise<string> {
  await until(`peer number ${n}`, () => peers(b).length >= n, 5000).catch(() => undefined);
  return peers(b)[n - 1] ?? '';
}

interface Mapping { router: string; kind: string; proto: string; inside: string; outside: string; remote: string; state: string }
interface Endpoint { address: string; port: number | null; icmpId: number | null }
type MappingJson = Omit<Mapping, 'inside' | 'outside' | 'remote'> & { inside: Endpoint; outside: Endpoint; remote: Endpoint };
/** `vnf-ctl nat -o json`, its endpoints ({address, port}) written as addr:port for comparing with what peers saw. */
function mappings(lab: Lab): Mapping[] {
  const r = vnfctl(['nat', lab.name, '-o', 'json']);
  if (r.status !== 0) throw new Error(`vnf-ctl nat: ${r.stderr}`);
  const at = (e: Endpoint): string => (e.port !== null ? `${e.address}:${e.port}` : e.icmpId !== null ? `${e.address}#${e.icmpId}` : e.address);
  return (JSON.parse(r.stdout) as MappingJson[]).map((m) => ({ ...m, inside: at(m.inside), outside: at(m.outside), remote: at(m.remote) }));
}

function setupInternet(lab: Lab): void {
  const ns = lab.ns('internet');
  nsExec(ns, ['ip', 'addr', 'add', `${REMOTE}/32`, 'dev', 'lo']);
  // Somewhere beyond the gateway, for TTL-expired errors: forwarded on-link (never answered).
  nsExec(ns, ['ip', 'route', 'add', '203.0.113.0/24', 'dev', 'wan']);
}

if (requirePrivileges(t)) {
  t.test('NAT: masquerade, floating address, port forwarding, hairpin, ICMP errors', async (t) => {
    const lab = labUp(t, TOPOLOGY, CONTAINERS);
    const js = scripts(t);
    setupInternet(lab);
    const inet = lab.ns('internet');

    await t.test('the internet sees only public addresses; 200 concurrent connections get 200 distinct outside ports', async (t) => {
      const server = background(t, inet, `exec ${node} ${js.tcpServer} ${REMOTE} 9000`);
      await until('the server', () => server.out().includes('listening'));
      // The first packet towards the gateway may be given up for its ARP request.
      ping(lab.ns('web'), REMOTE, 1);
      const a = background(t, lab.ns('web'), `exec ${node} ${js.tcpClients} ${REMOTE} 9000 100`);
      const b = background(t, lab.ns('client'), `exec ${node} ${js.tcpClients} ${REMOTE} 9000 100`);
      await until('200 connections', () => /^ok /m.test(a.out()) && /^ok /m.test(b.out()), 20_000);
      const seen = peers(server);
      t.equal(seen.length, 200, '200 connections reached the server');
      t.ok(seen.every((p) => p.startsWith('192.0.2.2:')), `every source is the uplink address (${seen.filter((p) => !p.startsWith('192.0.2.2:')).slice(0, 3).join(', ')})`);
      const ports = seen.map((p) => Number(p.split(':')[1]));
      t.equal(new Set(ports).size, 200, 'no two connections share an outside port');
      t.ok(ports.every((p) => p >= 20000 && p <= 29999), 'every outside port is from the range');

      // vnf-ctl nat shows exactly what the server saw.
      const m = mappings(lab).filter((x) => x.kind === 'masquerade' && x.remote === `${REMOTE}:9000`);
      t.same(m.map((x) => x.outside).sort(), seen.slice().sort(), 'vnf-ctl nat lists the outside tuples the server observed');
      const insidePorts = new Set(m.filter((x) => x.inside.startsWith('10.81.1.10:')).map((x) => Number(x.inside.split(':')[1])));
      const webPorts = (/^ok (\S+)/m.exec(a.out())?.[1] ?? '').split(',').map(Number);
      t.same([...insidePorts].sort(), webPorts.slice().sort(), "its inside ports are web's local ports");
      t.ok(m.every((x) => x.state === 'established'), 'every mapping is established');

      // A re-apply that does not change NAT keeps every mapping (and plans nothing).
      const before = mappings(lab).map((x) => `${x.inside}>${x.outside}`).sort();
      t.equal(vnfctl(['apply', '-f', lab.file]).status, 0, 're-apply');
      t.match(vnfctl(['plan', '-f', lab.file]).stdout, /no changes/, 'plan after apply and traffic: no changes');
      t.same(mappings(lab).map((x) => `${x.inside}>${x.outside}`).sort(), before, 'the mappings survived the re-apply');
      process.kill(a.proc.pid!, 'SIGUSR1'); // the connections still carry data after it
      await until('the connections to echo again', () => a.out().includes('again ok'));
      t.pass('every connection carries data after the re-apply');
      await a.stop('SIGTERM');
      await b.stop('SIGTERM');
      await server.stop();
    });

    await t.test('a floating address: outbound with its own public address, ports kept; inbound through the firewall', async (t) => {
      const server = background(t, inet, `exec ${node} ${js.udpServer} ${REMOTE} 9001`);
      await until('the server', () => server.out().includes('listening'));
      ping(lab.ns('db'), REMOTE, 1);
      const r = nsRun(lab.ns('db'), [node, js.udpClient, REMOTE, '9001'], 10_000);
      t.match(r.stdout, /reply query/, 'db reaches the internet');
      t.match(await peerNo(server, 1), /^192\.0\.2\.10:\d+$/, 'db leaves as its floating address');
      t.equal(peers(server)[0]?.split(':')[1], /^local (\d+)$/m.exec(r.stdout)?.[1], 'with its own source port');

      const dns = background(t, lab.ns('db'), `exec ${node} ${js.udpServer} 0.0.0.0 53`);
      await until('db listening', () => dns.out().includes('listening'));
      const q = nsRun(inet, [node, js.udpClient, '192.0.2.10', '53'], 10_000);
      t.match(q.stdout, /reply query/, 'the internet reaches db at its floating address');
      t.match(await peerNo(dns, 1), /^192\.0\.2\.1:\d+$/, 'db sees the real client address');
      const neigh = nsExec(inet, ['ip', 'neigh', 'show', '192.0.2.10']);
      t.match(neigh, /lladdr/, 'the uplink answered ARP for the floating address');

      // db's firewall lets in udp 53 only: a TCP connection to the floating address is dropped there.
      const ssh = background(t, lab.ns('db'), `exec ${node} ${js.tcpServer} 0.0.0.0 22`);
      await until('db tcp listening', () => ssh.out().includes('listening'));
      const blocked = nsRun(inet, [node, js.tcpOnce, '192.0.2.10', '22'], 10_000);
      t.match(blocked.stdout, /timeout/, "floating traffic passes db's firewall like any other");
      t.equal(peers(ssh).length, 0, 'nothing reached the TCP listener');
    });

    await t.test('port forwarding from outside and hairpinned from inside', async (t) => {
      const http = background(t, lab.ns('web'), `exec ${node} ${js.tcpServer} 0.0.0.0 80`);
      await until('web listening', () => http.out().includes('listening'));
      const r = nsRun(inet, [node, js.tcpOnce, '192.0.2.2', '8080'], 10_000);
      t.match(r.stdout, /reply hello/, 'tcp 8080 on the uplink address reaches web:80');
      t.match(await peerNo(http, 1), /^192\.0\.2\.1:\d+$/, 'web sees the real client address');

      const h = nsRun(lab.ns('client'), [node, js.tcpOnce, '192.0.2.2', '8080'], 10_000);
      t.match(h.stdout, /reply hello/, 'an inside container reaches the forwarded port (hairpin)');
      t.match(await peerNo(http, 2), /^10\.81\.1\.20:\d+$/, 'web sees the inside client');

      const dns = background(t, lab.ns('db'), `exec ${node} ${js.udpServer} 0.0.0.0 53`);
      await until('db listening', () => dns.out().includes('listening'));
      t.match(nsRun(inet, [node, js.udpClient, '192.0.2.2', '5353'], 10_000).stdout, /reply query/, 'udp 5353 reaches db:53');
      t.match(nsRun(lab.ns('web'), [node, js.udpClient, '192.0.2.10', '53'], 10_000).stdout, /reply query/, 'an inside container reaches the floating address (hairpin)');
    });

    await t.test('a TTL-expired error from beyond the uplink reaches the inside sender, translated', async (t) => {
      ping(lab.ns('web'), REMOTE, 1);
      const r = nsRun(lab.ns('web'), ['ping', '-c', '1', '-W', '2', '-t', '2', '203.0.113.5'], 10_000);
      t.match(r.stdout, /From 192\.0\.2\.1 icmp_seq=1 Time to live exceeded/, `ping got the error (${r.stdout.trim()})`);
    });

    await t.test('vnf-ctl stats counts the translations', async (t) => {
      const s = vnfctl(['stats', lab.name]);
      t.equal(s.status, 0);
      t.match(s.stdout, /nat-snat/i);
      t.match(s.stdout, /nat-new/i);
    });
  });
}
