/**
 * Containers on a simulated host, as the runtime creates them for the agent: a network namespace
 * per container (vnf.<topology>.<container>, the lab's name) and per interface a veth whose host
 * end, named hostVethName(topology, container, iface), sits in the host's network namespace, and
 * whose container end carries the file's name, MAC and address, the default route via the
 * gateway, and the overlay MTU (1450). Commands run in a container with `inContainer`.
 */
import { formatAddr } from '../../../src/spec/index.js';
import type { Container, ContainerInterface } from '../../../src/spec/model.js';
import { hostVethName, labNetns } from '../../../src/model/names.js';
import type { Cleanup } from '../cleanup.js';
import { run } from '../sys.js';
import { OVERLAY_MTU } from './names.js';
import type { SimHost } from './host.js';

export interface SimInterface extends ContainerInterface {
  /** The host end's name, in the host's namespace. */
  hostVeth: string;
  /** Dotted address. */
  addr: string;
}

export interface SimContainer {
  name: string;
  topology: string;
  host: SimHost;
  /** Its network namespace. */
  ns: string;
  interfaces: SimInterface[];
  /** Removes it now (the cleanup would otherwise). */
  remove(): Promise<void>;
}

export const inContainer = (c: SimContainer, argv: string[]): string[] => ['ip', 'netns', 'exec', c.ns, ...argv];

export function createContainer(topology: string, c: Container, host: SimHost, cleanup: Cleanup): SimContainer {
  const ns = labNetns(topology, c.name);
  run(['ip', 'netns', 'add', ns]);
  const remove = cleanup.defer(`delete container namespace ${ns}`, () => {
    run(['ip', 'netns', 'del', ns], { check: false }); // takes its veths, and their host ends with them
  });
  run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  const ifs: SimInterface[] = [];
  let routed = false;
  for (const i of c.interfaces) {
    const hv = hostVethName(topology, c.name, i.name);
    const addr = formatAddr(i.ip);
    run(['ip', '-n', host.ns, 'link', 'add', hv, 'mtu', String(OVERLAY_MTU), 'type', 'veth', 'peer', 'name', i.name, 'netns', ns, 'mtu', String(OVERLAY_MTU)]);
    run(['ip', '-n', ns, 'link', 'set', i.name, 'address', i.mac]);
    run(['ip', '-n', ns, 'addr', 'add', `${addr}/${i.prefix}`, 'dev', i.name]);
    run(['ip', '-n', ns, 'link', 'set', i.name, 'up']);
    run(['ip', '-n', host.ns, 'link', 'set', hv, 'up']);
    if (i.gateway !== undefined && !routed) {
      run(['ip', '-n', ns, 'route', 'replace', 'default', 'via', formatAddr(i.gateway), 'dev', i.name]);
      routed = true;
    }
    ifs.push({ ...i, hostVeth: hv, addr });
  }
  return { name: c.name, topology, host, ns, interfaces: ifs, remove };
}

/** Pings from a container; the number of replies. */
export function ping(from: SimContainer, dst: string, count = 3, opts: { intervalS?: number; waitS?: number; extra?: string[] } = {}): number {
  const r = run(inContainer(from, ['ping', '-c', String(count), '-i', String(opts.intervalS ?? 0.2), '-W', String(opts.waitS ?? 1), '-q', ...(opts.extra ?? []), dst]), {
    check: false, timeoutMs: 30_000,
  });
  const m = /(\d+) (?:packets )?received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/**
 * Whether a TCP connection from `from` to dst:port is accepted (nc -z; a listener must be there,
 * see `listen`). A drop shows as a timeout after waitS, a reject or a closed port at once.
 */
export function tcpConnects(from: SimContainer, dst: string, port: number, waitS = 2): boolean {
  return run(inContainer(from, ['nc', '-z', '-w', String(waitS), dst, String(port)]), { check: false, timeoutMs: (waitS + 5) * 1000 }).status === 0;
}
