/**
 * BpfObject: open → (set globals, size maps) → load (verifier, off the main
 * thread) → use programs and maps → close. close() cascades to every map and
 * program handle taken from the object; using one afterwards throws.
 */
import { native, type NativeObject, type NativeProgram } from '../native/binding.js';
import { BpfError } from '../native/errors.js';
import { BpfMap } from './map.js';

export interface OpenOptions {
  /** Maps declared with LIBBPF_PIN_BY_NAME are pinned (or reused) under this bpffs folder. */
  pinRoot?: string;
  /** Values of `const volatile` globals, set before load. */
  globals?: Record<string, Uint8Array>;
  /** Map sizes to override before load. */
  maxEntries?: Record<string, number>;
  /** Maps created for this object alone, even if pinned by name (no pin under pinRoot is reused or made). */
  privateMaps?: string[];
  /** Maps taken from elsewhere (e.g. another object's private map), instead of created or reused from a pin. */
  reuseMaps?: Record<string, BpfMap>;
}

function notFound(kind: string, name: string, path: string, known: string[]): BpfError {
  return new BpfError(`no ${kind} named ${name} in ${path} (has: ${known.join(', ') || 'none'})`, {
    errno: 2,
    code: 'ENOENT',
    call: `find ${kind}`,
    path,
  });
}

export class BpfObject {
  private progs = new Map<string, NativeProgram>();
  private mapsByName = new Map<string, BpfMap>();

  private constructor(readonly handle: NativeObject) {}

  /** Opens an ELF object without loading it. */
  static open(path: string, opts: OpenOptions = {}): BpfObject {
    const o = new BpfObject(new native.BpfObject(path, opts.pinRoot ? { pinRoot: opts.pinRoot } : {}));
    try {
      for (const [k, v] of Object.entries(opts.globals ?? {})) o.handle.setGlobal(k, v);
      for (const [k, v] of Object.entries(opts.maxEntries ?? {})) o.handle.resizeMap(k, v);
      for (const k of opts.privateMaps ?? []) o.handle.privateMap(k);
      for (const [k, v] of Object.entries(opts.reuseMaps ?? {})) o.handle.reuseMap(k, v.handle);
    } catch (e) {
      o.close();
      throw e;
    }
    return o;
  }

  /** Opens and loads an object; on failure nothing stays open. */
  static async load(path: string, opts: OpenOptions = {}): Promise<BpfObject> {
    const o = BpfObject.open(path, opts);
    try {
      await o.loadNow();
    } catch (e) {
      o.close();
      throw e;
    }
    return o;
  }

  get path(): string {
    return this.handle.path;
  }
  get closed(): boolean {
    return this.handle.closed;
  }

  /** The names of the object's own maps, before or after load. */
  declaredMaps(): Array<{ name: string; pinned: boolean }> {
    return this.handle.declaredMaps();
  }

  setGlobal(name: string, value: Uint8Array): void {
    this.handle.setGlobal(name, value);
  }

  async loadNow(): Promise<this> {
    await this.handle.load();
    for (const p of this.handle.programs()) this.progs.set(p.name, p);
    for (const m of this.handle.maps()) this.mapsByName.set(m.name, new BpfMap(m));
    return this;
  }

  program(name: string): NativeProgram {
    if (this.closed) this.handle.programs(); // throws the use-after-close error
    const p = this.progs.get(name);
    if (!p) throw notFound('program', name, this.path, [...this.progs.keys()]);
    return p;
  }

  map(name: string): BpfMap {
    if (this.closed) this.handle.maps();
    const m = this.mapsByName.get(name);
    if (!m) throw notFound('map', name, this.path, [...this.mapsByName.keys()]);
    return m;
  }

  programs(): NativeProgram[] {
    return [...this.progs.values()];
  }
  maps(): BpfMap[] {
    return [...this.mapsByName.values()];
  }

  /** Closes the object and, with it, all its map and program handles. Idempotent. */
  close(): void {
    this.handle.close();
  }
}
