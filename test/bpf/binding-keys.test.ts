/**
 * keys() returns every key or throws — never a silently shortened or
 * duplicated list. A key deleted while the walk stands on it makes the
 * kernel's get_next_key start over from the first key; keys() must neither
 * repeat what it already has nor stop early. The guarantee: every key present
 * (and not re-inserted) for the whole call is returned, exactly once.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/native/binding.js';
import { loadTest, tempPinDir } from '../helpers/objects.js';
import { requirePrivileges } from '../helpers/privilege.js';

const ADDON = join(projectRoot(), 'build', 'Release', 'vnf_native.node');

/** bt_hash keys: { addr: u32, port: u16, proto: u8, pad } — 8 bytes. */
const hashKey = (i: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(i, 0);
  return b;
};
const VALUE = Buffer.alloc(24);

function distinct(keys: Buffer[]): number {
  return new Set(keys.map((k) => k.toString('hex'))).size;
}

/**
 * Starts a child that deletes and re-inserts the `churn` keys of the map
 * pinned at `pin` as fast as it can, with a window of deleted keys, until it
 * is killed (at teardown) or 60 s pass. Resolves once it runs.
 */
function churner(t: Test, pin: string, churn: number[]): Promise<void> {
  const code = `
    const b = require(${JSON.stringify(ADDON)});
    const m = b.openPinnedMap(${JSON.stringify(pin)});
    const keys = ${JSON.stringify(churn)}.map((i) => { const k = Buffer.alloc(8); k.writeUInt32LE(i, 0); return k; });
    const v = Buffer.alloc(24);
    const WINDOW = 200; // keys deleted but not yet re-inserted
    const end = Date.now() + 60000;
    process.stdout.write('ready\\n');
    for (let i = 0; Date.now() < end; i++) {
      m.delete(keys[i % keys.length]);
      m.update(keys[(i + keys.length - WINDOW) % keys.length], v);
    }
  `;
  const c = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    c.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    c.stdout.once('data', () => resolve());
    c.once('exit', (status) => reject(new Error(`churner exited early (${status})`)));
  });
}

if (requirePrivileges(t)) {
  t.test('a full hash map: every key, once', async (t) => {
    const obj = await loadTest(t, 'binding_test', { maxEntries: { bt_hash: 2048 } });
    const m = obj.map('bt_hash');
    for (let i = 0; i < 2048; i++) m.update(hashKey(i), VALUE);
    const keys = m.keys();
    t.equal(keys.length, 2048, 'all keys');
    t.equal(distinct(keys), 2048, 'none twice');
  });

  t.test('an array: every index; an LPM trie: every prefix; an empty map: nothing', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    t.same(obj.map('bt_array').keys().map((k) => k.readUInt32LE(0)), Array.from({ length: 16 }, (_, i) => i));
    const lpm = obj.map('bt_lpm');
    for (let i = 0; i < 40; i++) {
      const k = Buffer.alloc(12); // { prefixlen, id, addr }: 10.0.i.0/24 of id 1
      k.writeUInt32LE(32 + 24, 0);
      k.writeUInt32BE(1, 4);
      k.writeUInt32BE(0x0a000000 + (i << 8), 8);
      lpm.update(k, Buffer.alloc(4));
    }
    t.equal(distinct(lpm.keys()), 40, 'every prefix, once');
    t.same(obj.map('bt_hash').keys(), [], 'empty');
  });

  t.test('while another process deletes and re-inserts keys, no key is lost or repeated', async (t) => {
    const pinRoot = tempPinDir(t);
    const obj = await loadTest(t, 'binding_test', { pinRoot, maxEntries: { bt_hash: 4096 } });
    const m = obj.map('bt_hash');
    const pin = join(pinRoot, 'bt_hash_churn');
    m.handle.pin(pin);
    const stable = Array.from({ length: 1500 }, (_, i) => i);
    const churn = Array.from({ length: 1500 }, (_, i) => 100_000 + i);
    for (const i of [...stable, ...churn]) m.update(hashKey(i), VALUE);
    await churner(t, pin, churn);

    const rounds = 60;
    let repeated = 0;
    let lost = 0;
    let foreign = 0;
    for (let r = 0; r < rounds; r++) {
      const keys = m.keys();
      repeated += keys.length - distinct(keys);
      const seen = new Set(keys.map((k) => k.readUInt32LE(0)));
      lost += stable.filter((i) => !seen.has(i)).length;
      foreign += [...seen].filter((i) => !(i < 1500 || (i >= 100_000 && i < 101_500))).length;
    }
    t.comment(`${rounds} walks: ${repeated} repeated, ${lost} lost`);
    t.equal(repeated, 0, `no key returned twice in ${rounds} walks`);
    t.equal(lost, 0, 'every key present throughout was returned');
    t.equal(foreign, 0, 'nothing that was never in the map');
  });
}
