/**
 * vnf networks for a real container runtime: Debian's podman (CNI backend) runs busybox
 * containers on two vnf networks through the installed `vnf` CNI plugin. Containers on one
 * network reach each other; the other network's default firewall lets in exactly what it says
 * (from front to port 7000, nothing else); a container reaches a lab namespace across the vnf
 * router; `podman network ls` lists the networks; `podman rm` cleans up through DEL.
 */
import t from 'tap';
import { requirePrivileges } from '../helpers/privilege.js';
import { labUp } from '../helpers/lab.js';
import { nsRun } from '../helpers/netns.js';
import { addressOf, cniNetwork, container, exec, podman, requirePodman } from '../helpers/podman.js';
import { getTopology } from '../helpers/vnf.js';
import { cniHostLinks } from '../helpers/cni.js';
import { randomBytes } from 'node:crypto';

const FILE = `
apiVersion: vnf/v1
name: NAME
containers:
  srv: { interfaces: { eth0: { network: lab, ip: 10.64.3.10/24 } } }
networks:
  front: { subnet: 10.64.1.0/24 }
  back: { subnet: 10.64.2.0/24 }
  lab: { subnet: 10.64.3.0/24 }
routers:
  r: { ports: { front: 10.64.1.1/24, back: 10.64.2.1/24, lab: 10.64.3.1/24 } }
firewalls:
  back-in:
    networks: [back]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: tcp, from: 10.64.1.0/24, ports: [7000] }
`;

const attachedCount = (name: string): number => getTopology(name).interfaces.filter((i) => i.owner === 'attached').length;
/** Host interfaces the plugin made for a CNI network (their alias names it). */
/** Connects with busybox nc from a container; what the listener said ('' when nothing answered). */
const tcpFrom = (c: string, ip: string, port: number): string => exec(c, ['nc', '-w', '2', ip, String(port)]).stdout.trim();

if (requirePrivileges(t)) {
  t.test('podman containers on vnf networks: reach, firewall, router, network ls, rm', async (t) => {
    requirePodman();
    const lab = labUp(t, FILE, ['srv']);
    const tag = randomBytes(3).toString('hex');
    const front = cniNetwork(t, `vnf-${lab.name}-front`, { topology: lab.name, network: 'front' });
    const back = cniNetwork(t, `vnf-${lab.name}-back`, { topology: lab.name, network: 'back' });

    const ls = podman(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
    t.match(ls.stdout, new RegExp(`^${front} vnf$`, 'm'), 'podman network ls lists front (driver vnf)');
    t.match(ls.stdout, new RegExp(`^${back} vnf$`, 'm'), 'and back');

    const p1 = container(t, `p1-${tag}`, front);
    const p2 = container(t, `p2-${tag}`, front);
    const listen = 'nc -ll -p 7000 -e echo open-7000 & nc -ll -p 7001 -e echo open-7001 & exec sleep 1000';
    const p3 = container(t, `p3-${tag}`, back, ['sh', '-c', listen]);
    t.equal(attachedCount(lab.name), 3, 'three attachments in vnf-ctl get');
    t.equal(cniHostLinks({ network: front }).length + cniHostLinks({ network: back }).length, 3, 'three host interfaces with the plugin\'s alias');
    const [ip1, ip2, ip3] = [addressOf(p1, front), addressOf(p2, front), addressOf(p3, back)];
    t.match(ip1, /^10\.64\.1\./, `p1 has an address of front (${ip1}), recorded by podman from the result`);
    t.match(ip3, /^10\.64\.2\./, `p3 has an address of back (${ip3})`);

    t.equal(exec(p1, ['ping', '-c', '1', '-W', '2', ip2]).status, 0, 'p1 reaches p2 on the same vnf network');
    t.equal(exec(p2, ['ping', '-c', '1', '-W', '2', ip1]).status, 0, 'and back');
    t.equal(exec(p1, ['ping', '-c', '1', '-W', '2', '10.64.3.10']).status, 0, 'p1 reaches the lab namespace srv across the vnf router');

    t.equal(tcpFrom(p1, ip3, 7000), 'open-7000', 'p1 (front) reaches p3:7000: back-in allows it');
    t.equal(tcpFrom(p1, ip3, 7001), '', 'p1 does not reach p3:7001: back-in drops it');
    t.equal(exec(p1, ['ping', '-c', '1', '-W', '1', ip3]).status, 1, 'nor pings p3');
    const fromLab = nsRun(lab.ns('srv'), ['nc', '-w', '2', ip3, '7000'], 10_000);
    t.equal(fromLab.stdout.trim(), '', 'srv (lab, not front) does not reach p3:7000');

    const rm = podman(['rm', '-f', '-t', '0', p1, p2, p3]);
    t.equal(rm.status, 0, `podman rm ${rm.stderr}`);
    t.equal(attachedCount(lab.name), 0, 'podman rm took the attachments off through DEL');
    t.same([...cniHostLinks({ network: front }), ...cniHostLinks({ network: back })], [], 'and their host interfaces');
  });
}
