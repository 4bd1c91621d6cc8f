/**
 * Checks a TS struct codec against the layout the compiler produced, read
 * from the BTF of a compiled object: same size, and every named member at the
 * same offset with the same size.
 */
import type { Test } from 'tap';
import { native } from '../../src/native/binding.js';
import type { StructCodec } from '../../src/codec/struct.js';

export function assertLayoutMatchesBtf(t: Test, codec: StructCodec<unknown>, btfFile: string, structName = codec.name): void {
  const btf = native.btfStructLayout(btfFile, structName);
  t.equal(codec.size, btf.size, `${structName}: size`);
  const codecFields = codec.fields.filter((f) => !(typeof f.type === 'object' && 'pad' in f.type));
  const btfMembers = btf.members.filter((m) => !m.name.startsWith('_pad'));
  t.same(
    codecFields.map((f) => [f.name, f.offset, f.size]),
    btfMembers.map((m) => [m.name, m.offset, m.size]),
    `${structName}: members, offsets and sizes`,
  );
}
