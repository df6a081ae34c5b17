/**
 * The page side of the IndexedDB storage tests and benchmark, run in real Chromium. Every
 * function is called through `page.evaluate(() => window.lab.name(...))`.
 */
import { IndexedDbStorage } from '../../src/storage/indexeddb.js';
import { homeOf } from '../../src/storage/buckets.js';
import type { IndexedDbStorageInfo } from '../../src/storage/indexeddb.js';
import type { Entry } from '../../src/core/types.js';

const payload = (index: number, bytes: number): Uint8Array => {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index * 31 + i) & 0xff;
  return data;
};

const entryAt = (index: number, term: number, bytes: number): Entry => ({
  index,
  term,
  kind: 'normal',
  data: payload(index, bytes),
});

/**
 * Appends `count` entries in batches of `batch`, reporting each acknowledged last index to
 * `window.acked` (a Playwright binding) as soon as the write resolves. Never returns on its own
 * if `count` is large: the test kills the browser while it runs.
 */
export async function appendAndReport(
  memberId: string,
  count: number,
  batch: number,
): Promise<void> {
  const storage = await IndexedDbStorage.create(memberId);
  await storage.persist({
    hardState: { term: 1, vote: memberId, commit: 0 },
    snapshot: null,
    entries: [],
  });
  const report = (window as unknown as { acked: (index: number) => Promise<void> }).acked;
  for (let first = 1; first <= count; first += batch) {
    const entries: Entry[] = [];
    for (let index = first; index < first + batch && index <= count; index++)
      entries.push(entryAt(index, 1, 100));
    await storage.persist({ hardState: null, snapshot: null, entries });
    void report(entries.at(-1)!.index);
  }
}

/** Opens an existing member and checks every entry against what was written. */
export async function verify(memberId: string): Promise<{
  lastIndex: number;
  term: number;
  vote: string | null;
  badEntries: number[];
  info: IndexedDbStorageInfo;
}> {
  const storage = await IndexedDbStorage.open(memberId);
  const loaded = await storage.load();
  const badEntries: number[] = [];
  loaded.entries.forEach((entry, position) => {
    const expected = payload(entry.index, 100);
    const same =
      entry.index === position + 1 &&
      entry.data.length === 100 &&
      entry.data.every((b, i) => b === expected[i]);
    if (!same) badEntries.push(entry.index);
  });
  const result = {
    lastIndex: loaded.entries.at(-1)?.index ?? 0,
    term: loaded.hardState.term,
    vote: loaded.hardState.vote,
    badEntries,
    info: storage.info(),
  };
  await storage.close();
  return result;
}

/** Flips a byte in the body of the member's last segment record, as a torn or rotten write would. */
export async function corruptLastSegment(memberId: string): Promise<number> {
  const name = IndexedDbStorage.databaseName(memberId);
  const { factory } = await homeOf(name, { buckets: true, durability: 'strict', create: false });
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = factory.open(name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const tx = db.transaction('segments', 'readwrite');
  const store = tx.objectStore('segments');
  const cursor = await new Promise<IDBCursorWithValue | null>((resolve) => {
    const request = store.openCursor(null, 'prev');
    request.onsuccess = () => resolve(request.result);
  });
  if (cursor === null) throw new Error('no segment to corrupt');
  const key = cursor.key as number;
  const record = cursor.value as { v: number; body: Uint8Array; crc: number };
  const body = record.body.slice();
  body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0xff;
  cursor.update({ ...record, body });
  await new Promise<void>((resolve) => (tx.oncomplete = () => resolve()));
  db.close();
  return key;
}

/** Appends one batch to an existing member (after recovery) and returns its new last index. */
export async function appendAfterRecovery(
  memberId: string,
  from: number,
  count: number,
): Promise<number> {
  const storage = await IndexedDbStorage.open(memberId);
  const loaded = await storage.load();
  const last = loaded.entries.at(-1)?.index ?? 0;
  if (last + 1 !== from)
    throw new Error(`expected the log to end at ${from - 1}, it ends at ${last}`);
  const entries: Entry[] = [];
  for (let index = from; index < from + count; index++) entries.push(entryAt(index, 2, 100));
  await storage.persist({ hardState: null, snapshot: null, entries });
  await storage.close();
  return from + count - 1;
}
