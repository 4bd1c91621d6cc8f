/**
 * Struct codecs: byte layouts of the structs in bpf/abi/*.h, declared once in
 * TS. Offsets follow C's natural alignment; a field that would need implicit
 * padding is refused at definition time, because ABI headers spell their
 * padding out. Tests compare every codec against the BTF of the compiled
 * object, so the two definitions cannot drift apart.
 */
export type Scalar = 'u8' | 'u16' | 'u32' | 'u64' | 'be16' | 'be32' | 'ipv4' | 'mac';
export type FieldType = Scalar | { bytes: number } | { pad: number } | { array: 'u8' | 'u16' | 'u32' | 'u64'; length: number };

export interface FieldLayout {
  name: string;
  type: FieldType;
  offset: number;
  size: number;
}

export interface StructCodec<T> {
  readonly name: string;
  readonly size: number;
  readonly fields: readonly FieldLayout[];
  encode(value: T): Buffer;
  encodeInto(value: T, buf: Buffer, offset: number): void;
  decode(buf: Uint8Array, offset?: number): T;
}

const SCALAR: Record<Scalar, { size: number; align: number }> = {
  u8: { size: 1, align: 1 },
  u16: { size: 2, align: 2 },
  u32: { size: 4, align: 4 },
  u64: { size: 8, align: 8 },
  be16: { size: 2, align: 2 },
  be32: { size: 4, align: 4 },
  ipv4: { size: 4, align: 4 },
  mac: { size: 6, align: 1 },
};

function sizeAlign(t: FieldType): { size: number; align: number } {
  if (typeof t === 'string') return SCALAR[t];
  if ('bytes' in t) return { size: t.bytes, align: 1 };
  if ('pad' in t) return { size: t.pad, align: 1 };
  const e = SCALAR[t.array];
  return { size: e.size * t.length, align: e.align };
}

/** Formats a MAC address as aa:bb:cc:dd:ee:ff. */
export function formatMac(b: Uint8Array, off = 0): string {
  return Array.from(b.subarray(off, off + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

export function parseMac(s: string): Buffer {
  const parts = s.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new TypeError(`not a MAC address: ${s}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

function writeField(buf: Buffer, f: FieldLayout, v: unknown): void {
  const o = f.offset;
  const t = f.type;
  if (typeof t === 'object' && 'pad' in t) return; // buffer starts zeroed
  if (v === undefined) return;
  switch (t) {
    case 'u8': buf.writeUInt8(v as number, o); return;
    case 'u16': buf.writeUInt16LE(v as number, o); return;
    case 'u32': buf.writeUInt32LE((v as number) >>> 0, o); return;
    case 'u64': buf.writeBigUInt64LE(BigInt(v as bigint | number), o); return;
    case 'be16': buf.writeUInt16BE(v as number, o); return;
    case 'be32':
    case 'ipv4': buf.writeUInt32BE((v as number) >>> 0, o); return;
    case 'mac': (typeof v === 'string' ? parseMac(v) : Buffer.from(v as Uint8Array)).copy(buf, o, 0, 6); return;
  }
  if ('bytes' in t) {
    const src = Buffer.from(v as Uint8Array);
    if (src.length > t.bytes) throw new RangeError(`${f.name}: ${src.length} bytes do not fit in ${t.bytes}`);
    src.copy(buf, o);
    return;
  }
  const arr = v as ArrayLike<number | bigint>;
  const es = SCALAR[t.array].size;
  for (let i = 0; i < Math.min(arr.length, t.length); i++) {
    const x = arr[i] as number | bigint;
    if (t.array === 'u8') buf.writeUInt8(Number(x), o + i);
    else if (t.array === 'u16') buf.writeUInt16LE(Number(x), o + i * es);
    else if (t.array === 'u32') buf.writeUInt32LE(Number(x) >>> 0, o + i * es);
    else buf.writeBigUInt64LE(BigInt(x), o + i * es);
  }
}

function readField(b: Buffer, f: FieldLayout): unknown {
  const o = f.offset;
  const t = f.type;
  switch (t) {
    case 'u8': return b.readUInt8(o);
    case 'u16': return b.readUInt16LE(o);
    case 'u32': return b.readUInt32LE(o);
    case 'u64': return b.readBigUInt64LE(o);
    case 'be16': return b.readUInt16BE(o);
    case 'be32':
    case 'ipv4': return b.readUInt32BE(o);
    case 'mac': return formatMac(b, o);
  }
  if ('pad' in t) return undefined;
  if ('bytes' in t) return Buffer.from(b.subarray(o, o + t.bytes));
  const out: (number | bigint)[] = [];
  const es = SCALAR[t.array].size;
  for (let i = 0; i < t.length; i++) {
    if (t.array === 'u8') out.push(b.readUInt8(o + i));
    else if (t.array === 'u16') out.push(b.readUInt16LE(o + i * es));
    else if (t.array === 'u32') out.push(b.readUInt32LE(o + i * es));
    else out.push(b.readBigUInt64LE(o + i * es));
  }
  return out;
}

/**
 * Declares a struct. Field names are the C member names; padding fields
 * ({ pad: n }) are named too (as in the header) and read back as undefined.
 */
export function defineStruct<T>(name: string, spec: ReadonlyArray<readonly [string, FieldType]>): StructCodec<T> {
  const fields: FieldLayout[] = [];
  let off = 0;
  let maxAlign = 1;
  for (const [fname, type] of spec) {
    const { size, align } = sizeAlign(type);
    if (off % align !== 0) {
      throw new Error(`struct ${name}: field ${fname} at offset ${off} needs implicit padding to ${align}-byte alignment; declare the padding explicitly`);
    }
    fields.push({ name: fname, type, offset: off, size });
    off += size;
    maxAlign = Math.max(maxAlign, align);
  }
  if (off % maxAlign !== 0) {
    throw new Error(`struct ${name}: size ${off} needs implicit tail padding to ${maxAlign}-byte alignment; declare it explicitly`);
  }
  const size = off;
  const codec: StructCodec<T> = {
    name,
    size,
    fields,
    encodeInto(value: T, buf: Buffer, offset: number) {
      const view = buf.subarray(offset, offset + size);
      view.fill(0);
      const rec = value as unknown as Record<string, unknown>;
      for (const f of fields) writeField(view, f, rec[f.name]);
    },
    encode(value: T): Buffer {
      const buf = Buffer.alloc(size);
      codec.encodeInto(value, buf, 0);
      return buf;
    },
    decode(input: Uint8Array, offset = 0): T {
      const b = Buffer.from(input.buffer, input.byteOffset + offset, size);
      if (input.byteLength - offset < size) throw new RangeError(`struct ${name}: need ${size} bytes, got ${input.byteLength - offset}`);
      const out: Record<string, unknown> = {};
      for (const f of fields) {
        if (typeof f.type === 'object' && 'pad' in f.type) continue;
        out[f.name] = readField(b, f);
      }
      return out as T;
    },
  };
  return codec;
}

/** Encodes an unsigned integer of `size` bytes, little-endian (host order on x86/arm64). */
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
export function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
