/**
 * BpfMap: typed convenience over a native map handle — whole-map reads by
 * batch (falling back to key iteration where the kernel or map type has no
 * batch op), per-CPU value splitting, and bulk update/delete.
 */
import { native, type NativeMap, type NativeMapInfo } from '../native/binding.js';
import { BpfError } from '../native/errors.js';

export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

function batchUnsupported(e: unknown): boolean {
  return e instanceof BpfError && ['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'ENOTSUPP', 'E524'].includes(e.code);
}

export class BpfMap {
  readonly info: NativeMapInfo;

  constructor(readonly handle: NativeMap) {
    this.info = handle.info();
  }

  /** Opens a map pinned in bpffs; the handle owns its fd. */
  static openPinned(path: string): BpfMap {
    return new BpfMap(native.openPinnedMap(path));
  }

  get name(): string {
    return this.info.name;
  }
  get closed(): boolean {
    return this.handle.closed;
  }

  lookup(key: Uint8Array): Buffer | null {
    return this.handle.lookup(key);
  }
  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.handle.update(key, value, flags);
  }
  delete(key: Uint8Array): boolean {
    return this.handle.delete(key);
  }
  keys(): Buffer[] {
    return this.handle.keys();
  }

  /** Every entry of the map, by BPF_MAP_LOOKUP_BATCH where possible. */
  entries(): Array<[Buffer, Buffer]> {
    const { keySize, valueBufferSize } = this.info;
    try {
      const r = this.handle.lookupBatch();
      const out: Array<[Buffer, Buffer]> = [];
      for (let i = 0; i < r.count; i++) {
        out.push([
          r.keys.subarray(i * keySize, (i + 1) * keySize),
          r.values.subarray(i * valueBufferSize, (i + 1) * valueBufferSize),
        ]);
      }
      return out;
    } catch (e) {
      if (!batchUnsupported(e)) throw e;
    }
    const out: Array<[Buffer, Buffer]> = [];
    for (const k of this.handle.keys()) {
      const v = this.handle.lookup(k);
      if (v) out.push([k, v]); // deleted between next_key and lookup: skip
    }
    return out;
  }

  /**
   * Every key of the map in one buffer (key after key, `keySize` bytes each), by one batch lookup
   * where possible: for scanning a big map without an object per entry.
   */
  packedKeys(): { keys: Buffer; count: number } {
    try {
      const r = this.handle.lookupBatch();
      return { keys: r.keys.subarray(0, r.count * this.info.keySize), count: r.count };
    } catch (e) {
      if (!batchUnsupported(e)) throw e;
    }
    const ks = this.handle.keys();
    return { keys: Buffer.concat(ks), count: ks.length };
  }

  /** Every entry in two buffers (keys back to back, values back to back, `valueBufferSize` each). */
  packedEntries(): { keys: Buffer; values: Buffer; count: number } {
    const { keySize, valueBufferSize } = this.info;
    try {
      const r = this.handle.lookupBatch();
      return { keys: r.keys.subarray(0, r.count * keySize), values: r.values.subarray(0, r.count * valueBufferSize), count: r.count };
    } catch (e) {
      if (!batchUnsupported(e)) throw e;
    }
    const ks: Buffer[] = [];
    const vs: Buffer[] = [];
    for (const k of this.handle.keys()) {
      const v = this.handle.lookup(k);
      if (!v) continue; // deleted between next_key and lookup
      ks.push(k);
      vs.push(v);
    }
    return { keys: Buffer.concat(ks), values: Buffer.concat(vs), count: ks.length };
  }

  /** Per-CPU maps: the value of each possible CPU, each `valueSize` bytes. */
  splitPerCpu(value: Buffer): Buffer[] {
    if (!this.info.perCpu) return [value];
    const slot = Math.ceil(this.info.valueSize / 8) * 8;
    const out: Buffer[] = [];
    for (let off = 0; off + slot <= value.length; off += slot) out.push(value.subarray(off, off + this.info.valueSize));
    return out;
  }

  /** Expands one value to every CPU's slot (for updates of per-CPU maps). */
  perCpuValue(value: Uint8Array): Buffer {
    if (!this.info.perCpu) return Buffer.from(value);
    const slot = Math.ceil(this.info.valueSize / 8) * 8;
    const buf = Buffer.alloc(this.info.valueBufferSize);
    for (let off = 0; off < buf.length; off += slot) Buffer.from(value).copy(buf, off);
    return buf;
  }

  /** Updates many entries: one batch syscall where the kernel has it. */
  updateMany(entries: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, flags = BPF_ANY): void {
    if (entries.length === 0) return;
    const keys = Buffer.concat(entries.map((e) => e[0]));
    const values = Buffer.concat(entries.map((e) => e[1]));
    try {
      this.handle.updateBatch(keys, values, entries.length, flags);
      return;
    } catch (e) {
      if (!batchUnsupported(e)) throw e;
    }
    for (const [k, v] of entries) this.handle.update(k, v, flags);
  }

  /** Updates `count` entries packed back to back (values `info.valueBufferSize` bytes each). */
  updatePacked(keys: Buffer, values: Buffer, count: number, flags = BPF_ANY): void {
    if (count === 0) return;
    try {
      this.handle.updateBatch(keys, values, count, flags);
      return;
    } catch (e) {
      if (!batchUnsupported(e)) throw e;
    }
    const ks = this.info.keySize;
    const vs = this.info.valueBufferSize;
    for (let i = 0; i < count; i++) this.handle.update(keys.subarray(i * ks, (i + 1) * ks), values.subarray(i * vs, (i + 1) * vs), flags);
  }

  /** Deletes `count` keys packed back to back; keys already gone are not an error (see deleteMany). */
  deletePacked(keys: Buffer, count: number): number {
    if (count === 0) return 0;
    if (count > 1) {
      try {
        return this.handle.deleteBatch(keys, count);
      } catch (e) {
        if (!(e instanceof BpfError) || !(batchUnsupported(e) || e.code === 'ENOENT')) throw e;
      }
    }
    const ks = this.info.keySize;
    let n = 0;
    for (let i = 0; i < count; i++) if (this.handle.delete(keys.subarray(i * ks, (i + 1) * ks))) n++;
    return n;
  }

  /**
   * Deletes many keys; keys already gone are not an error. One BPF_MAP_DELETE_BATCH syscall where
   * the kernel has it for this map type; key by key when it has not, or when a key of the batch
   * was already gone (the batch stops at it). Returns how many were deleted.
   */
  deleteMany(keys: ReadonlyArray<Uint8Array>): number {
    if (keys.length === 0) return 0;
    if (keys.length > 1) {
      try {
        return this.handle.deleteBatch(Buffer.concat(keys), keys.length);
      } catch (e) {
        if (!(e instanceof BpfError) || !(batchUnsupported(e) || e.code === 'ENOENT')) throw e;
      }
    }
    let n = 0;
    for (const k of keys) if (this.handle.delete(k)) n++;
    return n;
  }

  pin(path: string): void {
    this.handle.pin(path);
  }
  close(): void {
    this.handle.close();
  }
}
