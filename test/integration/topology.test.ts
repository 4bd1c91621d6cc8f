/**
 * The product end to end: a topology file, vnf-ctl, real namespaces and real
 * traffic crossing eBPF bridges and routers — no Linux bridge, no kernel
 * routing in the path.
 */
import t from 'tap';
import { join } from 'node:path';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { requirePrivileges } from '../helpers/privilege.js';
import { readableCopy, runCopyAsNobody } from '../helpers/readable-copy.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, labFile, TWO_NETS } from '../helpers/lab.js';
import { nsExec, nsRun, ping, tcpTransfer } from '../helpers/netns.js';
import { run, sh } from '../helpers/sh.js';
import { pinDir } from '../../src/model/names.js';
import { native } from '../../src/native/binding.js';

function stats(name: string): { vnfs: Array<{ vnf: string; reason: string; packets: number }>; ports: Array<{ ifname: string; direction: string; packets: number }> } {
  const r = vnfctl(['stats', name, '-o', 'json']);
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}
const count = (s: ReturnType<typeof stats>, vnf: string, reason: string): number =>
  s.vnfs.filter((v) => v.vnf === vnf && v.reason === reason).reduce((a, v) => a + v.packets, 0);

if (requirePrivileges(t)) {
  t.test('two containers on one network: ping and TCP across the eBPF bridge', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    t.equal(ping(lab.ns('a'), '10.61.1.11', 3), 3, 'a pings b');
    const tcp = await tcpTransfer(lab.ns('b'), lab.ns('a'), '10.61.1.11', 5555, 'hello-over-ebpf\n');
    t.equal(tcp.clientStatus, 0, `TCP client succeeded ${tcp.clientStderr}`);
    t.equal(tcp.received, 'hello-over-ebpf\n', 'TCP payload received');
    const s = stats(lab.name);
    t.ok(count(s, 'bridge', 'forward') > 5, 'known-unicast forwards counted by the bridge');
    t.ok(count(s, 'core', 'deliver') > 5, 'deliveries counted');
  });

  t.test('a TCP stream arrives intact through bridge and router', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const payload = Array.from({ length: 20000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const tcp = await tcpTransfer(lab.ns('c'), lab.ns('a'), '10.61.2.10', 5556, payload);
    t.equal(tcp.received.length, payload.length, `all ${payload.length} bytes received across the router`);
    t.equal(tcp.received, payload, 'byte for byte');
  });

  t.test('routing between networks: ping, TTL expiry gives time-exceeded from the router, no kernel forwarding', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    t.equal(ping(lab.ns('a'), '10.61.2.10', 3), 3, 'a (left) pings c (right) through router r');
    t.equal(ping(lab.ns('c'), '10.61.1.1', 2), 2, 'c pings the router port on the other network');
    const ttl = nsRun(lab.ns('a'), ['ping', '-c', '1', '-W', '2', '-t', '1', '10.61.2.10']);
    t.match(ttl.stdout, /From 10\.61\.1\.1 .*Time to live exceeded/i, 'ICMP time exceeded from the router port');
    const unreachable = nsRun(lab.ns('a'), ['ping', '-c', '1', '-W', '2', '10.99.0.1']);
    t.match(unreachable.stdout, /From 10\.61\.1\.1 .*(Unreachable|unreachable)/, 'ICMP net unreachable for a destination without a route');
    const links = sh('ip', ['-d', 'link', 'show']);
    t.notMatch(links, /bridge_slave|\bbridge\b.*vnf/, 'no vnf interface is enslaved to a Linux bridge');
    const s = stats(lab.name);
    t.ok(count(s, 'router', 'routed') >= 6, 'routed packets counted');
    t.ok(count(s, 'router', 'icmp-error') >= 2, 'ICMP errors counted');
  });

  t.test('routing works with net.ipv4.ip_forward=0 in the host', async (t) => {
    const before = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    t.teardown(() => { run('sysctl', ['-qw', `net.ipv4.ip_forward=${before}`]); });
    sh('sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    t.equal(ping(lab.ns('b'), '10.61.2.10', 2), 2);
  });

  t.test('three networks, a static route through a gateway container', async (t) => {
    const yaml = `
apiVersion: vnf/v1
name: NAME
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.62.1.10/24 } } }
  gw:
    # gw forwards between back and mgmt: it sends on each side as the other side's hosts.
    interfaces:
      eth0: { network: back, ip: 10.62.2.254/24, allowedSources: [10.62.3.0/24] }
      eth1: { network: mgmt, ip: 10.62.3.1/24, allowedSources: [10.62.1.0/24] }
  ops: { interfaces: { eth0: { network: mgmt, ip: 10.62.3.10/24 } } }
networks:
  front: { subnet: 10.62.1.0/24 }
  back: { subnet: 10.62.2.0/24 }
  mgmt: { subnet: 10.62.3.0/24 }
routers:
  r1:
    ports: { front: 10.62.1.1/24, back: 10.62.2.1/24 }
    routes:
      - { to: 10.62.3.0/24, via: 10.62.2.254 }
`;
    const lab = labUp(t, yaml, ['web', 'gw', 'ops']);
    nsExec(lab.ns('gw'), ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    nsExec(lab.ns('ops'), ['ip', 'route', 'replace', 'default', 'via', '10.62.3.1']);
    t.equal(ping(lab.ns('web'), '10.62.3.10', 3), 3, 'web reaches ops via r1 and the static route through gw');
    const s = JSON.parse(vnfctl(['get', lab.name, '-o', 'json']).stdout) as { routes: Array<{ to: string; packets: number }> };
    t.ok(s.routes.find((r) => r.to === '10.62.3.0/24')!.packets >= 3, 'static route counter');
  });

  t.test('unknown unicast floods to every other port of the network, in the kernel', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    nsExec(lab.ns('a'), ['ip', 'neigh', 'replace', '10.61.1.99', 'lladdr', '02:99:99:99:99:99', 'dev', 'eth0']);
    const before = stats(lab.name);
    ping(lab.ns('a'), '10.61.1.99', 2);
    const after = stats(lab.name);
    t.ok(count(after, 'bridge', 'flood') - count(before, 'bridge', 'flood') >= 2, 'the bridge flooded');
    // The copies reach the other ports' egress hooks, where none is for its container's MAC:
    // dropped there before any policy sees them (no container takes frames for another MAC).
    t.ok(count(after, 'core', 'drop:not-for-port') - count(before, 'core', 'drop:not-for-port') >= 2, 'clones reached the other ports and were not delivered');
  });

  t.test('apply twice changes nothing; plan says so; state survives re-runs', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    ping(lab.ns('a'), '10.61.1.11', 1);
    const again = vnfctl(['apply', '-f', lab.file]);
    t.equal(again.status, 0);
    t.match(again.stdout, /no changes/);
    const p = vnfctl(['plan', '-f', lab.file]);
    t.match(p.stdout, /no changes/);
    const get = JSON.parse(vnfctl(['get', lab.name, '-o', 'json']).stdout) as { interfaces: Array<{ links: string[]; chainIn: string[] }>; fdb: unknown[]; routes: unknown[]; neighbours: Array<{ kind: string }> };
    t.equal(get.interfaces.length, 3);
    for (const i of get.interfaces) {
      t.same(i.links.sort(), ['egress', 'ingress'], 'both links attached');
      t.same(i.chainIn, ['bridge']);
    }
    t.equal(get.routes.length, 2, 'connected routes');
    t.ok(get.neighbours.length >= 3);
  });

  t.test('a container added with attach reaches the others; detach removes it', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const ns = `${lab.name}-x`;
    const host = `${lab.name}x`;
    t.teardown(() => { run('ip', ['netns', 'del', ns]); run('ip', ['link', 'del', host]); });
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    sh('ip', ['-n', ns, 'addr', 'add', '10.61.2.50/24', 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', '10.61.2.1']);
    sh('ip', ['link', 'set', host, 'up']);
    const r = vnfctl(['attach', host, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.50/24', '--netns', `/run/netns/${ns}`]);
    t.equal(r.status, 0, r.stderr);
    t.equal(ping(ns, '10.61.2.10', 2), 2, 'attached container reaches c on its network');
    t.equal(ping(ns, '10.61.1.10', 2), 2, 'and a through the router');
    t.match(vnfctl(['apply', '-f', lab.file]).stdout, /no changes/, 'the attachment survives apply of the file');
    const get = JSON.parse(vnfctl(['get', lab.name, '-o', 'json']).stdout) as { interfaces: Array<{ ifname: string; owner: string }> };
    t.equal(get.interfaces.find((i) => i.ifname === host)?.owner, 'attached');
    // A second interface attached without its namespace: its MAC is learned, not declared.
    const ns2 = `${lab.name}-y`;
    const host2 = `${lab.name}y`;
    t.teardown(() => { run('ip', ['netns', 'del', ns2]); run('ip', ['link', 'del', host2]); });
    sh('ip', ['netns', 'add', ns2]);
    sh('ip', ['link', 'add', host2, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns2]);
    sh('ip', ['-n', ns2, 'addr', 'add', '10.61.2.51/24', 'dev', 'eth0']);
    sh('ip', ['-n', ns2, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['link', 'set', host2, 'up']);
    t.equal(vnfctl(['attach', host2, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.51/24']).status, 0);
    t.equal(ping(ns2, '10.61.2.10', 2), 2, 'an attachment with an unknown MAC works by learning');
    const mac2 = sh('ip', ['-n', ns2, '-j', 'link', 'show', 'eth0']);
    const learnedMac = (JSON.parse(mac2) as Array<{ address: string }>)[0]!.address;
    const learned = (): Array<{ mac: string; kind: string }> => (JSON.parse(vnfctl(['get', lab.name, '-o', 'json']).stdout) as { fdb: Array<{ mac: string; kind: string }> }).fdb;
    t.ok(learned().some((f) => f.mac === learnedMac && f.kind === 'learned'), 'its MAC was learned by the bridge');
    t.match(vnfctl(['apply', '-f', lab.file]).stdout, /no changes/);
    t.ok(learned().some((f) => f.mac === learnedMac && f.kind === 'learned'), 'learned state survives a re-run of vnf-ctl');
    const d = vnfctl(['detach', host]);
    t.equal(d.status, 0, d.stderr);
    t.equal(ping(ns, '10.61.2.10', 1), 0, 'no traffic after detach');
    t.equal(existsSync(`${pinDir(lab.name)}/links/${host}@in`), false, 'its link pin is gone');
  });

  t.test('destroy and lab down leave no pins, links, records or namespaces', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    // The links of this lab's ports, held open by this process: a detached link reports no interface.
    const dir = join(pinDir(lab.name), 'links');
    const links = readdirSync(dir).map((f) => native.openPinnedLink(join(dir, f)));
    t.teardown(() => links.forEach((l) => l.close()));
    const attached = (): number => links.filter((l) => (l.info().ifindex ?? 0) !== 0).length;
    t.equal(attached(), 6, 'six links attached (ingress + egress of three ports)');
    const d = vnfctl(['destroy', lab.name]);
    t.equal(d.status, 0, d.stderr);
    t.equal(attached(), 0, 'destroy detached all six, the interfaces still being there');
    const r = vnfctl(['lab', 'down', '-f', lab.file]);
    t.equal(r.status, 0, r.stderr);
    t.equal(existsSync(pinDir(lab.name)), false, 'pin dir removed');
    t.equal(existsSync(`/run/vnf/${lab.name}`), false, 'record removed');
    t.notOk(readdirSync('/run/netns').some((n) => n.includes(lab.name)), 'namespaces removed');
    const again = vnfctl(['destroy', lab.name]);
    t.equal(again.status, 2, 'destroying a topology that is gone is invalid input');
    t.match(again.stderr, new RegExp(`no topology named ${lab.name}`), 'and says so');
  });

  t.test('bad input: clear error, exit 2, nothing created', async (t) => {
    const lab = labFile(t, TWO_NETS.replace('10.61.1.11/24', '10.61.9.11/24'), ['a', 'b', 'c']);
    const r = vnfctl(['lab', 'up', '-f', lab.file]);
    t.equal(r.status, 2);
    t.match(r.stderr, /topology\.yaml:\d+:\d+: containers\.b\.interfaces\.eth0\.ip/);
    t.equal(existsSync(pinDir(lab.name)), false, 'no pins');
    t.notOk(readdirSync('/run/netns').some((n) => n.includes(lab.name)), 'no namespaces');
    const apply = vnfctl(['apply', '-f', labFile(t, TWO_NETS, ['a', 'b', 'c']).file]);
    t.equal(apply.status, 2, 'apply with containers that do not exist is invalid input');
    t.match(apply.stderr, /do not exist.*lab up/);
    const attach = vnfctl(['attach', 'nosuchif0', '--topology', 'nosuchtopo', '--network', 'x', '--ip', '10.0.0.1/24']);
    t.equal(attach.status, 2);
    t.match(attach.stderr, /no applied topology/);
  });

  t.test('lab up --fast-attach: expedited grace periods only while it attaches, the setting put back', async (t) => {
    const before = readFileSync('/sys/kernel/rcu_expedited', 'utf8').trim();
    t.teardown(() => writeFileSync('/sys/kernel/rcu_expedited', before));
    const lab = labFile(t, TWO_NETS, ['a', 'b', 'c']);
    const r = vnfctl(['lab', 'up', '-f', lab.file, '--fast-attach']);
    t.equal(r.status, 0, r.stderr);
    t.equal(readFileSync('/sys/kernel/rcu_expedited', 'utf8').trim(), before, 'rcu_expedited is what it was before');
    t.equal(ping(lab.ns('a'), '10.61.2.10', 2), 2, 'and the ports work');
  });

  t.test('without privileges: one clear message, exit 1, nothing changed', async (t) => {
    const lab = labFile(t, TWO_NETS, ['a', 'b', 'c']);
    // Run from a world-readable copy: the checkout may live in a folder nobody else can read.
    const copy = readableCopy(t);
    const r = runCopyAsNobody(copy, ['lab', 'up', '-f', lab.file]);
    t.equal(r.status, 1);
    t.match(r.stderr, /not privileged/);
    t.equal(existsSync(pinDir(lab.name)), false);
  });
}
