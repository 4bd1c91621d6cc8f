/**
 * The stored topology: written only when its text differs (compare-and-swap on the key's mod
 * revision, so two writers never overwrite each other unseen), read and validated on the way out.
 */
import type { Store } from './client.js';
import { StoreError } from './client.js';
import { StoreInputError } from './keys.js';
import { decodeValue, encodeValue, topologyValue } from './values.js';
import type { StoredTopology } from './snapshot.js';

export interface PutResult {
  revision: number;
  changed: boolean;
}

/** The stored topology, or undefined; a stored value that does not validate throws StoreError. */
export async function getStoredTopology(store: Store): Promise<StoredTopology | undefined> {
  const r = await store.call((c) => c.get(store.keys.topology).exec());
  const kv = r.kvs[0];
  if (!kv) return undefined;
  const d = decodeValue(topologyValue, store.keys.topology, kv.value.toString());
  if (!d.ok) throw new StoreError(`the stored topology is not usable: ${d.problem}`);
  return { ...d.value, revision: Number(kv.mod_revision) };
}

/** Writes the topology unless the same text is stored already. */
export async function putTopology(store: Store, source: string, file: string): Promise<PutResult> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await store.call((c) => c.get(store.keys.topology).exec());
    const kv = r.kvs[0];
    if (kv) {
      const d = decodeValue(topologyValue, store.keys.topology, kv.value.toString());
      if (d.ok && d.value.source === source) return { revision: Number(kv.mod_revision), changed: false };
    }
    const value = encodeValue({ source, file });
    const modRevision = kv ? kv.mod_revision : '0';
    const t = await store.call((c) => c.if(store.keys.topology, 'Mod', '==', modRevision).then(c.put(store.keys.topology).value(value)).commit()).catch((e: unknown) => {
      // The file itself is the problem (invalid input, exit 2), not the store.
      if (e instanceof StoreError && /request is too large/.test(e.message)) {
        throw new StoreInputError(`${file} is too large for the store: ${Buffer.byteLength(value)} bytes stored, more than it accepts in one request ` +
          `(etcd --max-request-bytes, 1.5 MiB by default); nothing written`);
      }
      throw e;
    });
    if (t.succeeded) return { revision: Number(t.header.revision), changed: true };
  }
  throw new StoreError('the stored topology keeps changing under this write (another apply?): run the command again');
}

/** Deletes the stored topology; false when there was none. */
export async function deleteTopology(store: Store): Promise<boolean> {
  const r = await store.call((c) => c.delete().key(store.keys.topology).exec());
  return Number(r.deleted) > 0;
}
