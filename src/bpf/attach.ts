/**
 * Attaching a TC program to an interface: a tcx link where the kernel has
 * tcx (Linux >= 6.6), else clsact + cls_bpf direct-action. Interfaces may
 * live in another network namespace (netns path, e.g. /run/netns/NAME).
 */
import { native, type Direction, type Iface, type NativeLink, type NativeProgram } from '../native/binding.js';
import { BpfError } from '../native/errors.js';

export type TcMode = 'auto' | 'tcx' | 'clsact';

export type TcAttachment =
  | { kind: 'tcx'; link: NativeLink; ifindex: number; direction: Direction; netns?: string }
  | { kind: 'clsact'; ifindex: number; direction: Direction; handle: number; priority: number; netns?: string };

export interface AttachOptions {
  mode?: TcMode;
  netns?: string;
  /** clsact only: filter handle and priority (default 1/1). */
  handle?: number;
  priority?: number;
}

let tcxCache: boolean | undefined;

/**
 * Whether the kernel has tcx. Probed without touching any interface: a tcx
 * link on a nonexistent ifindex fails with ENODEV where tcx exists and with
 * EINVAL (unknown attach type) where it does not.
 */
export function tcxSupported(probe: NativeProgram): boolean {
  if (tcxCache !== undefined) return tcxCache;
  try {
    probe.attachTcx(0x7ffffff0, 'ingress').close();
    tcxCache = true;
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    if (e.code === 'ENODEV') tcxCache = true;
    else if (e.code === 'EINVAL') tcxCache = false;
    else throw e;
  }
  return tcxCache;
}

export function attachTc(prog: NativeProgram, iface: Iface, direction: Direction, opts: AttachOptions = {}): TcAttachment {
  const mode = opts.mode ?? 'auto';
  const ns = opts.netns ? { netns: opts.netns } : {};
  const ifindex = native.ifindex(iface, opts.netns);
  if (mode === 'tcx' || (mode === 'auto' && tcxSupported(prog))) {
    const link = prog.attachTcx(ifindex, direction, ns);
    return { kind: 'tcx', link, ifindex, direction, ...ns };
  }
  const r = native.tcAttach(ifindex, direction, {
    program: prog,
    handle: opts.handle ?? 1,
    priority: opts.priority ?? 1,
    replace: true,
    ...ns,
  });
  return { kind: 'clsact', ifindex, direction, handle: r.handle, priority: r.priority, ...ns };
}

/** Detaches explicitly. Detaching what is already gone is not an error. */
export function detachTc(a: TcAttachment): void {
  if (a.kind === 'tcx') {
    if (!a.link.closed) a.link.detach();
    return;
  }
  const t = { handle: a.handle, priority: a.priority, ...(a.netns ? { netns: a.netns } : {}) };
  try {
    native.tcDetach(a.ifindex, a.direction, t);
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENODEV') return; // the interface is gone, and the filter with it
    throw e;
  }
}
