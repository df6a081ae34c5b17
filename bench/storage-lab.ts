/**
 * The page side of the storage benchmark, run in real Chromium: raw IndexedDB puts (the
 * baseline) and IndexedDbStorage appends, timed per transaction with performance.now().
 */
import { IndexedDbStorage } from '../src/storage/indexeddb.js';
import { homeOf } from '../src/storage/buckets.js';
import type { Durability } from '../src/storage/indexeddb.js';
import type { Entry } from '../src/core/types.js';

const ENTRY_BYTES = 100;

/** A bare database, in a Storage Bucket of its own where the browser has them, as a member's is. */
async function openRaw(name: string, durability: Durability): Promise<IDBDatabase> {
  const { factory } = await homeOf(name, { buckets: true, durability, create: true });
  return new Promise((resolve, reject) => {
    const request = factory.open(name, 1);
    request.onupgradeneeded = () => request.result.createObjectStore('records');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function completion(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}

/**
 * Raw IndexedDB put transactions (the baseline) and IndexedDbStorage appends of `batch` entries
 * of 100 bytes, alternating one of each per round so both see the same moment of a noisy machine.
 * Returns the time of every transaction and of every append, in milliseconds. With `withRaw` false,
 * only the appends run (several tabs appending at once, with no raw puts among them).
 */
export async function interleaved(
  rounds: number,
  batch: number,
  durability: Durability,
  withRaw = true,
): Promise<{ raw: number[]; appends: number[] }> {
  const tag = `${batch}-${durability}-${Math.round(performance.now() * 1000)}-${Math.random()}`;
  const db = await openRaw(`raw-${tag}`, durability);
  const storage = await IndexedDbStorage.create(`bench-${tag}`, {
    durability,
    requestPersistence: false,
  });
  await storage.load();
  const raw: number[] = [];
  const appendTimes: number[] = [];
  let key = 0;
  let index = 0;
  for (let round = 0; round < rounds; round++) {
    let started = performance.now();
    if (withRaw) {
      const tx = db.transaction('records', 'readwrite', { durability });
      const store = tx.objectStore('records');
      for (let i = 0; i < batch; i++) store.put(new Uint8Array(ENTRY_BYTES).fill(i), ++key);
      await completion(tx);
      raw.push(performance.now() - started);
    }

    const entries: Entry[] = [];
    for (let i = 0; i < batch; i++) {
      index++;
      entries.push({ index, term: 1, kind: 'normal', data: new Uint8Array(ENTRY_BYTES).fill(i) });
    }
    started = performance.now();
    await storage.persist({ hardState: null, snapshot: null, entries });
    appendTimes.push(performance.now() - started);
  }
  db.close();
  await storage.close();
  return { raw, appends: appendTimes };
}
