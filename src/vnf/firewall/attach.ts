/**
 * The firewall of run-time attachments (`vnf-ctl attach --firewall`, the CNI plugin's
 * `firewall`): chosen from the file when the attachment is made, read back from the kernel
 * afterwards (attachments live only there). An attached interface on a network whose file
 * containers are protected is never left open by omission: it takes the network's default
 * firewall (`firewalls.<name>.networks`), or the attach is refused until one is named.
 */
import type { Topology } from '../../spec/model.js';
import { groupSlotName } from '../../model/ids.js';
import { didYouMean } from '../../spec/suggest.js';
import { LOST_ATTACH_OPTION, type AttachedPortReader, type AttachOptionDecl } from '../types.js';
import { fwBindCodec, fwBindKeyCodec } from './codec.js';
import { VNF_MAP_FW_BIND } from '../../abi/firewall.js';
import { VNF_DIR_RX } from '../common/codec.js';
import { firewallsOf } from './model.js';

/**
 * The option of an attached port whose chains run the firewall but whose binding names no known
 * firewall: the port keeps failing closed (no binding: everything dropped) until it is detached.
 */
export const LOST_FIREWALL = LOST_ATTACH_OPTION;

function choose(t: Topology, network: string, asked: string | null | undefined): string | undefined {
  const fws = firewallsOf(t);
  if (asked === null) return undefined;
  if (asked !== undefined) {
    if (!fws.some((f) => f.name === asked)) {
      const names = fws.map((f) => f.name);
      throw new Error(`topology ${t.name} has no firewall ${asked}${didYouMean(asked, names) || (names.length ? ` (firewalls: ${names.join(', ')})` : ' (it has no firewalls)')}`);
    }
    return asked;
  }
  const dflt = fws.find((f) => f.networks.includes(network));
  if (dflt) return dflt.name;
  // The containers of the file on this network that a firewall protects.
  const guarded = new Set<string>();
  for (const f of fws) {
    for (const a of f.attach) {
      const c = t.containers.find((x) => x.name === a.container);
      if (c?.interfaces.some((i) => i.name === a.interface && i.network === network)) guarded.add(f.name);
    }
  }
  if (guarded.size) {
    throw new Error(`the containers of network ${network} are protected by firewall ${[...guarded].sort().join(', ')}: name the firewall of this interface ` +
      `(--firewall NAME, or "firewall" in a CNI config), give the network a default (firewalls.NAME.networks: [${network}]), or ask for none (--no-firewall)`);
  }
  return undefined;
}

function read(k: AttachedPortReader): string | undefined {
  if (!k.runs) return undefined;
  const bind = k.entries(VNF_MAP_FW_BIND)?.get(fwBindKeyCodec.encode({ ifindex: k.ifindex, dir: VNF_DIR_RX }).toString('hex'));
  if (!bind) return LOST_FIREWALL;
  const id = fwBindCodec.decode(bind).ruleset;
  const names = new Set(k.topologies.flatMap((t) => firewallsOf(t).map((f) => f.name)));
  for (const name of names) {
    for (const slot of [0, 1] as const) {
      if (k.ids.groups.get(groupSlotName('firewall', `${name}/egress`, slot)) === id) return name;
    }
  }
  return LOST_FIREWALL;
}

function problem(t: Topology, option: string): string | undefined {
  if (option === LOST_FIREWALL || firewallsOf(t).some((f) => f.name === option)) return undefined;
  return `firewall ${option} protects it: keep the firewall in the file, or detach the interface first`;
}

export const firewallAttachOption: AttachOptionDecl = { choose, read, problem };
