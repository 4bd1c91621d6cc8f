/**
 * The physical network of a simulated cluster: a namespace holding a Linux bridge with an
 * address (etcd listens on it), and per host a namespace whose `ul0` is plugged into that bridge.
 * IPv6 is off in all of them, so an interface's counters move only with the traffic a test sends.
 */
import type { Cleanup } from '../cleanup.js';
import { run } from '../sys.js';
import { bridgeAddr, hostAddr, hostNetns, underlayPort, UNDERLAY_BRIDGE, UNDERLAY_IF, UNDERLAY_MTU, type ClusterNames } from './names.js';

const ip = (ns: string, ...args: string[]): void => {
  run(['ip', '-n', ns, ...args]);
};

/** A namespace with lo up and IPv6 off; deleted by the cleanup. */
export function quietNetns(name: string, cleanup: Cleanup): void {
  run(['ip', 'netns', 'add', name]);
  cleanup.defer(`delete namespace ${name}`, () => {
    run(['ip', 'netns', 'del', name], { check: false });
  }, () => {
    run(['ip', 'netns', 'del', name], { check: false });
  });
  ip(name, 'link', 'set', 'lo', 'up');
  run(['ip', 'netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
}

export function createUnderlay(n: ClusterNames, cleanup: Cleanup): void {
  quietNetns(n.underlay, cleanup);
  ip(n.underlay, 'link', 'add', UNDERLAY_BRIDGE, 'mtu', String(UNDERLAY_MTU), 'type', 'bridge');
  ip(n.underlay, 'addr', 'add', `${bridgeAddr(n)}/24`, 'dev', UNDERLAY_BRIDGE);
  ip(n.underlay, 'link', 'set', UNDERLAY_BRIDGE, 'up');
}

/** Host namespace number i with ul0 (10.x.0.11+i/24, MTU 1500) on the underlay bridge. */
export function plugHost(n: ClusterNames, host: string, i: number, cleanup: Cleanup): { ns: string; addr: string } {
  const ns = hostNetns(n, host);
  quietNetns(ns, cleanup);
  const port = underlayPort(host);
  ip(n.underlay, 'link', 'add', port, 'mtu', String(UNDERLAY_MTU), 'type', 'veth', 'peer', 'name', UNDERLAY_IF, 'netns', ns, 'mtu', String(UNDERLAY_MTU));
  ip(n.underlay, 'link', 'set', port, 'master', UNDERLAY_BRIDGE);
  ip(n.underlay, 'link', 'set', port, 'up');
  const addr = hostAddr(n, i);
  ip(ns, 'addr', 'add', `${addr}/24`, 'dev', UNDERLAY_IF);
  ip(ns, 'link', 'set', UNDERLAY_IF, 'up');
  return { ns, addr };
}
