/**
 * The page side of the storage benchmark, run in real Chromium: raw IndexedDB puts (the
 * baseline) and IndexedDbStorage appends, each timed per transaction with performance.now().
 */
import { IndexedDbStorage } from '../src/storage/indexeddb.js';
import type { Durability } from '../src/storage/indexeddb.js';
import type { Entry } from '../src/core/types.js';

const ENTRY_BYTES = 100;

function openRaw(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
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

/** The time each of `rounds` transactions took, each putting `batch` records of 100 bytes. */
export async function rawPuts(
  rounds: number,
  batch: number,
  durability: Durability,
): Promise<number[]> {
  const db = await openRaw(`raw-${batch}-${durability}-${performance.now()}`);
  const times: number[] = [];
  let key = 0;
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const tx = db.transaction('records', 'readwrite', { durability });
    const store = tx.objectStore('records');
    for (let i = 0; i < batch; i++) store.put(new Uint8Array(ENTRY_BYTES).fill(i), ++key);
    await completion(tx);
    times.push(performance.now() - started);
  }
  db.close();
  return times;
}

/** The time each of `rounds` appends took, each persisting `batch` entries of 100 bytes. */
export async function appends(
  rounds: number,
  batch: number,
  durability: Durability,
): Promise<number[]> {
  const storage = await IndexedDbStorage.create(
    `bench-${batch}-${durability}-${performance.now()}`,
    {
      durability,
      requestPersistence: false,
    },
  );
  await storage.load();
  const times: number[] = [];
  let index = 0;
  for (let round = 0; round < rounds; round++) {
    const entries: Entry[] = [];
    for (let i = 0; i < batch; i++) {
      index++;
      entries.push({ index, term: 1, kind: 'normal', data: new Uint8Array(ENTRY_BYTES).fill(i) });
    }
    const started = performance.now();
    await storage.persist({ hardState: null, snapshot: null, entries });
    times.push(performance.now() - started);
  }
  await storage.close();
  return times;
}
