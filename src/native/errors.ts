/**
 * BpfError: every failure of the native binding is one of these. It carries
 * the errno, its symbolic code, the failing call, the path or object involved,
 * a hint for the common causes, and for program loads the verifier log.
 */
export interface BpfErrorProps {
  errno: number;
  code: string;
  call: string;
  path?: string;
  log?: string;
  details?: string;
  hint?: string;
}

export class BpfError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly call: string;
  readonly path?: string;
  /** Verifier log of a rejected program (empty unless a load failed in the verifier). */
  readonly log?: string;
  /** libbpf's own messages captured during the call. */
  readonly details?: string;
  readonly hint?: string;

  constructor(message: string, props: BpfErrorProps) {
    const hint = props.hint ?? hintFor(props);
    super(hint ? `${message}\n  hint: ${hint}` : message);
    this.name = 'BpfError';
    this.errno = props.errno;
    this.code = props.code;
    this.call = props.call;
    if (props.path !== undefined) this.path = props.path;
    if (props.log !== undefined) this.log = props.log;
    if (props.details !== undefined) this.details = props.details;
    if (hint !== undefined) this.hint = hint;
  }
}

/** Hints for the failures a user can fix. */
export function hintFor(p: Pick<BpfErrorProps, 'code' | 'call' | 'path' | 'log'>): string | undefined {
  const call = p.call;
  switch (p.code) {
    case 'EPERM':
      if (call.startsWith('bpf_obj_pin') && p.path && /\.[^/]*$/.test(p.path)) return "bpffs does not allow '.' in pin names";
      return 'needs root, or CAP_BPF + CAP_NET_ADMIN (and CAP_SYS_ADMIN for some map types)';
    case 'EACCES':
      if (call.includes('load') && p.log) return 'the verifier rejected the program: see the log on the error (.log)';
      return 'permission denied: run as root, or with CAP_BPF + CAP_NET_ADMIN';
    case 'ENOENT':
      if (call.startsWith('bpf_obj_get') || call === 'bpf_obj_pin' || call.startsWith('bpf_obj_pin'))
        return `nothing at ${p.path ?? 'that path'}: is bpffs mounted at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf) and the topology applied?`;
      if (call.startsWith('bpf_object__open')) return 'no such object file: run `make` to build the BPF objects';
      return undefined;
    case 'ENODEV':
      return `no such interface${p.path ? ` (${p.path})` : ''}: check the name and the network namespace`;
    case 'E2BIG':
      if (call.includes('update')) return 'the map is full: raise its max entries or remove stale entries';
      return undefined;
    case 'EEXIST':
      if (call.includes('pin')) return 'something is already pinned at that path';
      if (call.includes('link_create')) return 'a program is already attached there';
      return undefined;
    case 'EBUSY':
      return 'another operation is in progress on this handle, or an attachment already exists';
    case 'EINVAL':
      if (call.includes('tcx')) return 'the kernel may lack tcx (needs Linux >= 6.6); clsact attachment works on older kernels';
      return undefined;
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
      return 'the kernel does not support this operation on this map or program type';
    default:
      return undefined;
  }
}
