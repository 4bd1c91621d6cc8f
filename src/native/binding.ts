/**
 * The only module that loads the native addon (build/Release/vnf_native.node).
 * It declares the native surface with types; src/bpf wraps it for callers.
 *
 * Loading is lazy: importing this module (or anything above it) neither needs
 * the compiled addon nor pays for loading it; the first use of `native.*` does.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError, type BpfErrorProps } from './errors.js';

export interface NativeMapInfo {
  id: number;
  name: string;
  type: number;
  typeName: string;
  keySize: number;
  valueSize: number;
  /** valueSize, or for per-CPU maps one 8-byte-aligned slot per possible CPU. */
  valueBufferSize: number;
  maxEntries: number;
  flags: number;
  perCpu: boolean;
}

export interface NativeMap {
  readonly fd: number;
  readonly name: string;
  readonly closed: boolean;
  lookup(key: Uint8Array): Buffer | null;
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  delete(key: Uint8Array): boolean;
  nextKey(key: Uint8Array | null): Buffer | null;
  /**
   * Every key, each once: all keys present (and not re-inserted) for the whole
   * call are returned; keys inserted or deleted meanwhile may or may not be.
   * A map changing too fast for the walk to finish throws BpfError EAGAIN
   * rather than returning a partial list.
   */
  keys(): Buffer[];
  updateBatch(keys: Uint8Array, values: Uint8Array, count: number, flags?: number): number;
  deleteBatch(keys: Uint8Array, count: number): number;
  lookupBatch(): { keys: Buffer; values: Buffer; count: number };
  info(): NativeMapInfo;
  pin(path: string): void;
  close(): void;
}

export interface NativeTestRunOptions {
  data: Uint8Array;
  ctx?: Uint8Array;
  repeat?: number;
  dataOutSize?: number;
}
export interface NativeTestRunResult {
  retval: number;
  data: Buffer;
  ctx?: Buffer;
  /** Average run time per repetition, in nanoseconds (kernel-measured). */
  duration: number;
}

export interface NativeProgramInfo {
  id: number;
  name: string;
  type: number;
  typeName: string;
  tag: string;
  /** The maps the program uses, by id and name. */
  maps?: Array<{ id: number; name?: string }>;
}

export interface NativeLinkInfo {
  id: number;
  type: number;
  progId: number;
  kind: 'tcx' | 'xdp' | 'other';
  ifindex?: number;
  direction?: 'ingress' | 'egress' | 'unknown';
}

export interface NativeLink {
  readonly fd: number;
  readonly closed: boolean;
  pin(path: string): void;
  update(program: NativeProgram, opts?: { expected?: NativeProgram }): void;
  detach(): void;
  info(): NativeLinkInfo;
  close(): void;
}

export type Iface = string | number;
export type Direction = 'ingress' | 'egress';

export interface NativeProgram {
  readonly fd: number;
  readonly name: string;
  readonly section: string;
  readonly closed: boolean;
  testRun(opts: NativeTestRunOptions): NativeTestRunResult;
  attachTcx(iface: Iface, direction: Direction, opts?: { netns?: string }): NativeLink;
  attachXdp(iface: Iface, opts?: { mode?: 'native' | 'generic'; netns?: string }): NativeLink;
  info(): NativeProgramInfo;
  pin(path: string): void;
  close(): void;
}

export interface NativeObject {
  readonly path: string;
  readonly loaded: boolean;
  readonly closed: boolean;
  load(): Promise<void>;
  close(): void;
  programs(): NativeProgram[];
  maps(): NativeMap[];
  setGlobal(name: string, value: Uint8Array): void;
  resizeMap(name: string, maxEntries: number): void;
  /** The object's own maps (not .rodata/.data/.bss), pinned when pinned or reused by name under pinRoot; before or after load. */
  declaredMaps(): Array<{ name: string; pinned: boolean }>;
  /** Before load: the map is created for this object alone, never reused from or pinned under pinRoot. */
  privateMap(name: string): void;
  /** Before load: the object uses `map` for `name` (neither a new map nor a pinned one). */
  reuseMap(name: string, map: NativeMap): void;
}

export interface TcTarget {
  handle?: number;
  priority?: number;
  netns?: string;
}
export interface TcAttachResult {
  ifindex: number;
  handle: number;
  priority: number;
  progId: number;
}

export interface BtfMember {
  name: string;
  offset: number;
  bitOffset: number;
  bitfieldSize: number;
  size: number;
  kind: string;
}
export interface BtfStruct {
  name: string;
  size: number;
  members: BtfMember[];
}

/**
 * A consumer of a BPF ring buffer map: a worker thread reads records and hands them to the
 * callback in batches on the event loop (never blocking it). While open it keeps the process
 * alive; close() stops the thread (waking it at once), is idempotent, and drops batches not yet
 * delivered. An environment cleanup hook closes what is left.
 */
export interface NativeRingBuffer {
  readonly closed: boolean;
  close(): void;
}
/** Called with a batch of raw records, or once with an error after which nothing more comes. */
export type RingBufferCallback = (err: Error | null, records: Buffer[] | null) => void;

export interface NativeBinding {
  BpfObject: new (path: string, opts?: { pinRoot?: string }) => NativeObject;
  openPinnedMap(path: string): NativeMap;
  openPinnedProgram(path: string): NativeProgram;
  openPinnedLink(path: string): NativeLink;
  /** Consumes a ring buffer map, given by pin path or map handle (its fd is duplicated). */
  openRingBuffer(map: string | NativeMap, onRecords: RingBufferCallback): NativeRingBuffer;
  tcAttach(iface: Iface, dir: Direction, opts: TcTarget & { program: NativeProgram; replace?: boolean }): TcAttachResult;
  tcDetach(iface: Iface, dir: Direction, opts?: TcTarget): boolean;
  tcQuery(iface: Iface, dir: Direction, opts?: TcTarget): number | null;
  tcDestroyHook(iface: Iface, opts?: { netns?: string }): boolean;
  btfStructLayout(file: string, name: string): BtfStruct;
  ifindex(name: string | number, netns?: string): number;
  /** flock(LOCK_NB): true when taken, false when another descriptor holds it. */
  flock(fd: number, exclusive: boolean): boolean;
  flockRelease(fd: number): void;
  /** libbpf_probe_bpf_map_type: 1 supported, 0 not, a negative errno when the probe could not run (EPERM...). */
  probeMapType(mapType: number): number;
  /** libbpf_probe_bpf_prog_type, as probeMapType. */
  probeProgType(progType: number): number;
  /** libbpf_probe_bpf_helper: whether programs of progType may call helper helperId, as probeMapType. */
  probeHelper(progType: number, helperId: number): number;
  setErrorClass(ctor: new (message: string, props: BpfErrorProps) => Error): void;
  readonly libbpfVersion: string;
  readonly numPossibleCpus: number;
}

/** The project root: the folder holding package.json, above this file. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('vnf: cannot find the project root (package.json + binding.gyp) above ' + fileURLToPath(import.meta.url));
}

function load(): NativeBinding {
  const file = join(projectRoot(), 'build', 'Release', 'vnf_native.node');
  if (!existsSync(file)) {
    throw new Error(`vnf: native addon not built (${file} is missing): run \`make\``);
  }
  const require = createRequire(import.meta.url);
  const b = require(file) as NativeBinding;
  b.setErrorClass(BpfError);
  return b;
}

let loaded: NativeBinding | undefined;

function binding(): NativeBinding {
  return (loaded ??= load());
}

/**
 * The native addon, loaded on first use: `native.x` is forwarded to the addon,
 * loading it then (and throwing "native addon not built" if it is missing).
 * Read-only; `then` is never forwarded, so awaiting or resolving a promise
 * with it does not load the addon either.
 */
export const native: NativeBinding = new Proxy(Object.create(null) as NativeBinding, {
  get(_target, prop) {
    if (typeof prop === 'symbol' || prop === 'then') return undefined;
    return Reflect.get(binding(), prop);
  },
  has(_target, prop) {
    return Reflect.has(binding(), prop);
  },
  ownKeys() {
    return Reflect.ownKeys(binding());
  },
  getOwnPropertyDescriptor(_target, prop) {
    const d = Reflect.getOwnPropertyDescriptor(binding(), prop);
    // The target stays empty, so the proxy may only report configurable properties.
    return d && { ...d, configurable: true };
  },
  set() {
    throw new TypeError('vnf: the native binding is read-only');
  },
  defineProperty() {
    throw new TypeError('vnf: the native binding is read-only');
  },
  deleteProperty() {
    throw new TypeError('vnf: the native binding is read-only');
  },
});
