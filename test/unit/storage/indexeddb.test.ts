/**
 * IndexedDbStorage under fake-indexeddb: the shared conformance suite, then what only IndexedDB
 * has — member databases and identity, segments, recovery from torn and corrupt records, and
 * typed failures that stop writes without losing acknowledged ones.
 */
import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexedDbStorage } from '../../../src/storage/indexeddb.js';
import type { IndexedDbStorageOptions } from '../../../src/storage/indexeddb.js';
import {
  StorageCorruptError,
  StorageLostError,
  StorageQuotaError,
  StorageUnavailableError,
} from '../../../src/storage/errors.js';
import { StorageClosedError } from '../../../src/storage/checks.js';
import { entries, entry, runStorageConformance, snapshot } from './conformance.js';
import { plain, summary } from './fixtures.js';

let nextMember = 0;
const freshId = (): string => `member-${++nextMember}`;
const open: IndexedDbStorage[] = [];

async function created(options: IndexedDbStorageOptions = {}): Promise<IndexedDbStorage> {
  const storage = await IndexedDbStorage.create(freshId(), options);
  open.push(storage);
  return storage;
}

async function reopened(
  storage: IndexedDbStorage,
  options: IndexedDbStorageOptions = {},
): Promise<IndexedDbStorage> {
  await storage.close();
  const next = await IndexedDbStorage.open(storage.memberId, options);
  open.push(next);
  return next;
}

afterEach(async () => {
  for (const storage of open.splice(0)) await storage.close();
  vi.restoreAllMocks();
});

runStorageConformance('IndexedDbStorage', async () => {
  const storage = await created();
  return { storage, reopen: async () => reopened(storage) };
});

runStorageConformance('IndexedDbStorage (tiny segments and chunks)', async () => {
  const options = { segmentMergeBytes: 40, segmentBytesMax: 60, snapshotChunkBytes: 3 };
  const storage = await created(options);
  return { storage, reopen: async () => reopened(storage, options) };
});

/** The raw records of a member's database, to inspect and damage them. */
async function rawDatabase(storage: IndexedDbStorage) {
  await storage.close();
  return openDB(storage.database);
}

async function segmentKeys(storage: IndexedDbStorage): Promise<number[]> {
  const db = await rawDatabase(storage);
  const keys = (await db.getAllKeys('segments')) as number[];
  db.close();
  return keys;
}

/** Flips one byte of the stored body of `key` in `store`. */
async function corrupt(storage: IndexedDbStorage, store: string, key: IDBValidKey): Promise<void> {
  const db = await rawDatabase(storage);
  const record = (await db.get(store, key)) as { v: number; body: Uint8Array; crc: number };
  const body = record.body.slice();
  body[body.length - 1] = (body.at(-1) ?? 0) ^ 0xff;
  await db.put(store, { ...record, body }, key);
  db.close();
}

describe('IndexedDbStorage: member databases', () => {
  it('opening a member whose database is gone fails with StorageLostError and creates nothing', async () => {
    await expect(IndexedDbStorage.open('never-created')).rejects.toBeInstanceOf(StorageLostError);
    await expect(IndexedDbStorage.open('never-created')).rejects.toMatchObject({
      code: 'STORAGE_LOST',
    });
    const names = (await indexedDB.databases()).map((d) => d.name);
    expect(names).not.toContain(IndexedDbStorage.databaseName('never-created'));
  });

  it('a member wiped by clearing site data comes back lost, never with its old vote', async () => {
    const storage = await created();
    await storage.persist({
      hardState: { term: 7, vote: 'm2', commit: 0 },
      snapshot: null,
      entries: [],
    });
    await storage.close();
    await IndexedDbStorage.destroy(storage.memberId);
    await expect(IndexedDbStorage.open(storage.memberId)).rejects.toBeInstanceOf(StorageLostError);
  });

  it('refuses to create a member id twice', async () => {
    const storage = await created();
    await storage.close();
    await expect(IndexedDbStorage.create(storage.memberId)).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
  });

  it('keeps members of one origin apart, one database each, also across namespaces', async () => {
    const a = await created();
    const b = await IndexedDbStorage.create(a.memberId, { namespace: 'room-2' });
    open.push(b);
    await a.persist({ hardState: null, snapshot: null, entries: entries(1, 3, 1) });
    await b.persist({ hardState: null, snapshot: null, entries: entries(1, 1, 4) });
    expect(summary(await (await reopened(a)).load()).entries).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    const bAgain = await reopened(b, { namespace: 'room-2' });
    expect(summary(await bAgain.load()).entries).toEqual([[1, 4]]);
  });

  it('refuses a database whose identity names another member (misdirected)', async () => {
    const storage = await created();
    const db = await rawDatabase(storage);
    const other = await created();
    const otherDb = await rawDatabase(other);
    await db.put('meta', await otherDb.get('meta', 'identity'), 'identity');
    db.close();
    otherDb.close();
    await expect(IndexedDbStorage.open(storage.memberId)).rejects.toBeInstanceOf(
      StorageCorruptError,
    );
  });

  it('shows its state in info(), persistence unsupported outside a browser', async () => {
    const storage = await created();
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 4, 1) });
    expect(storage.info()).toMatchObject({
      database: IndexedDbStorage.databaseName(storage.memberId),
      durability: 'strict',
      persistence: 'unsupported',
      firstIndex: 1,
      lastIndex: 4,
      snapshotIndex: 0,
      repair: null,
      failure: null,
    });
  });
});

describe('IndexedDbStorage: segments', () => {
  it('stores many small appends in few records', async () => {
    const options = { segmentMergeBytes: 1024, segmentRunRecordsMax: 8 };
    const storage = await created(options);
    for (let index = 1; index <= 200; index++) {
      await storage.persist({ hardState: null, snapshot: null, entries: [entry(index, 1)] });
    }
    const keys = await segmentKeys(storage);
    // Runs of 8 single-entry records are folded into one segment by the 9th append.
    expect(keys.length).toBeLessThanOrEqual(Math.ceil(200 / 9) + 8);
    expect(keys.slice(0, 3)).toEqual([1, 10, 19]);
    const again = await IndexedDbStorage.open(storage.memberId, options);
    open.push(again);
    expect(plain((await again.load()).entries)).toEqual(plain(entries(1, 200, 1)));
  });

  it('splits a large batch into segments of at most segmentBytesMax', async () => {
    const storage = await created({ segmentBytesMax: 200 });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 100, 1) });
    const keys = await segmentKeys(storage);
    expect(keys.length).toBeGreaterThan(5);
    const reopenedStorage = await IndexedDbStorage.open(storage.memberId);
    open.push(reopenedStorage);
    expect((await reopenedStorage.load()).entries).toHaveLength(100);
  });

  it('truncates a conflicting suffix by deleting whole segments, without rewriting older ones', async () => {
    const storage = await created({ segmentMergeBytes: 0 });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 10, 1) });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(11, 20, 1) });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(21, 30, 1) });
    const again = await reopened(storage, { segmentMergeBytes: 0 });
    await again.persist({ hardState: null, snapshot: null, entries: entries(15, 16, 2) });
    expect(await segmentKeys(again)).toEqual([1, 11, 15]);
    const loaded = await (await IndexedDbStorage.open(storage.memberId)).load();
    expect(loaded.entries.map((e) => e.index)).toEqual(entries(1, 16, 1).map((e) => e.index));
    expect(loaded.entries[14]?.term).toBe(2);
    expect(plain(loaded.entries.slice(13, 14))).toEqual(plain([entry(14, 1)]));
  });

  it('compaction deletes the segments below the compaction point and keeps the one across it', async () => {
    const storage = await created({ segmentMergeBytes: 0 });
    for (let first = 1; first <= 40; first += 10) {
      await storage.persist({
        hardState: null,
        snapshot: null,
        entries: entries(first, first + 9, 1),
      });
    }
    await storage.compact(snapshot(25, 1), 25);
    expect(await segmentKeys(storage)).toEqual([21, 31]);
    const loaded = await (await IndexedDbStorage.open(storage.memberId)).load();
    expect(loaded.entries.map((e) => e.index)).toEqual(entries(26, 40, 1).map((e) => e.index));
  });

  it('appends after a reopen whose last segment lies across the compaction point', async () => {
    const storage = await created();
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 10, 1) });
    await storage.compact(snapshot(7, 1), 7);
    const again = await reopened(storage);
    await again.persist({ hardState: null, snapshot: null, entries: entries(11, 12, 1) });
    const third = await reopened(again);
    expect(plain((await third.load()).entries)).toEqual(plain(entries(8, 12, 1)));
  });

  it('compaction also deletes an older segment a newer one replaced (model test counterexample)', async () => {
    const options = { segmentMergeBytes: 0 };
    const storage = await created(options);
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 2, 1) });
    await storage.compact(snapshot(1, 1), 1);
    await storage.persist({ hardState: null, snapshot: null, entries: entries(2, 5, 2) });
    await storage.persist({ hardState: null, snapshot: null, entries: [entry(6, 3)] });
    const again = await reopened(storage, options);
    await again.compact(snapshot(5, 2), 5);
    expect(await segmentKeys(again)).toEqual([6]);
    const third = await IndexedDbStorage.open(storage.memberId, options);
    open.push(third);
    expect(summary(await third.load()).entries).toEqual([[6, 3]]);
  });

  it('a snapshot install deletes every segment and stores the snapshot in chunks', async () => {
    const storage = await created({ snapshotChunkBytes: 2 });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 30, 1) });
    await storage.persist({ hardState: null, snapshot: snapshot(50, 2), entries: [entry(51, 2)] });
    const db = await rawDatabase(storage);
    expect(await db.getAllKeys('segments')).toEqual([51]);
    expect((await db.getAllKeys('chunks')).length).toBeGreaterThan(2);
    db.close();
  });
});

describe('IndexedDbStorage: recovery', () => {
  async function withThreeSegments(): Promise<IndexedDbStorage> {
    const storage = await created({ segmentMergeBytes: 0 });
    await storage.persist({
      hardState: { term: 2, vote: 'm1', commit: 12 },
      snapshot: null,
      entries: entries(1, 10, 1),
    });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(11, 20, 2) });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(21, 25, 2) });
    return storage;
  }

  it('truncates a torn last segment, reports it, and stays repaired after another reopen', async () => {
    const storage = await withThreeSegments();
    await corrupt(storage, 'segments', 21);
    const again = await IndexedDbStorage.open(storage.memberId);
    open.push(again);
    const loaded = await again.load();
    expect(loaded.entries.at(-1)?.index).toBe(20);
    expect(loaded.hardState).toEqual({ term: 2, vote: 'm1', commit: 12 });
    expect(again.info().repair).toEqual({ truncatedAfter: 20, reason: 'checksum mismatch' });
    expect(loaded.votesWithheld).toBe(true);
    await again.persist({ hardState: null, snapshot: null, entries: entries(21, 22, 3) });
    const third = await reopened(again);
    // The cut is remembered until the member caught up and released its vote.
    expect((await third.load()).votesWithheld).toBe(true);
    expect(third.info()).toMatchObject({ repair: { truncatedAfter: 20 }, votesWithheld: true });
    await third.releaseVotes();
    expect(third.info().votesWithheld).toBe(false);
    const fourth = await reopened(third);
    expect(fourth.info()).toMatchObject({ repair: null, votesWithheld: false });
    expect((await fourth.load()).votesWithheld).toBe(false);
    expect(summary(await fourth.load()).entries.slice(-3)).toEqual([
      [20, 2],
      [21, 3],
      [22, 3],
    ]);
  });

  it('refuses to skip a corrupt segment in the middle: StorageCorruptError', async () => {
    const storage = await withThreeSegments();
    await corrupt(storage, 'segments', 11);
    const failure = IndexedDbStorage.open(storage.memberId);
    await expect(failure).rejects.toBeInstanceOf(StorageCorruptError);
    await expect(failure).rejects.toMatchObject({ code: 'STORAGE_CORRUPT' });
  });

  it('refuses a hole where a middle segment is missing', async () => {
    const storage = await withThreeSegments();
    const db = await rawDatabase(storage);
    await db.delete('segments', 11);
    db.close();
    await expect(IndexedDbStorage.open(storage.memberId)).rejects.toThrow(/hole in the log/);
  });

  it('treats a record stored under another key as corrupt (misdirected write)', async () => {
    const storage = await withThreeSegments();
    const db = await rawDatabase(storage);
    await db.put('segments', await db.get('segments', 1), 11);
    db.close();
    await expect(IndexedDbStorage.open(storage.memberId)).rejects.toBeInstanceOf(
      StorageCorruptError,
    );
  });

  it('refuses a corrupt hard state rather than forget its vote', async () => {
    const storage = await withThreeSegments();
    await corrupt(storage, 'meta', 'hardState');
    await expect(IndexedDbStorage.open(storage.memberId)).rejects.toThrow(/hardState record/);
  });

  it('refuses a corrupt snapshot chunk', async () => {
    const storage = await created({ snapshotChunkBytes: 2 });
    await storage.persist({ hardState: null, snapshot: snapshot(9, 1), entries: [] });
    await corrupt(storage, 'chunks', [9, 1]);
    await expect(
      IndexedDbStorage.open(storage.memberId, { snapshotChunkBytes: 2 }),
    ).rejects.toThrow(/snapshot 9 chunk 1/);
  });

  it('refuses a record of an unknown format version', async () => {
    const storage = await withThreeSegments();
    const db = await rawDatabase(storage);
    const record = (await db.get('meta', 'hardState')) as object;
    await db.put('meta', { ...record, v: 99 }, 'hardState');
    db.close();
    await expect(IndexedDbStorage.open(storage.memberId)).rejects.toThrow(/format version 99/);
  });
});

describe('IndexedDbStorage: failures', () => {
  it('a quota error rejects that write and every later one, and loses nothing acknowledged', async () => {
    const storage = await created();
    await storage.persist({
      hardState: { term: 1, vote: null, commit: 0 },
      snapshot: null,
      entries: entries(1, 3, 1),
    });
    const quota = new DOMException('quota', 'QuotaExceededError');
    const put = vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementationOnce(() => {
      throw quota;
    });
    const failed = storage.persist({ hardState: null, snapshot: null, entries: entries(4, 5, 1) });
    const queued = storage.persist({ hardState: null, snapshot: null, entries: entries(6, 6, 1) });
    await expect(failed).rejects.toBeInstanceOf(StorageQuotaError);
    await expect(queued).rejects.toBeInstanceOf(StorageQuotaError);
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: [] }),
    ).rejects.toMatchObject({ code: 'STORAGE_QUOTA' });
    expect(storage.info().failure?.code).toBe('STORAGE_QUOTA');
    put.mockRestore();
    const again = await reopened(storage);
    expect(summary(await again.load()).entries).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    await again.persist({ hardState: null, snapshot: null, entries: entries(4, 4, 1) });
  });

  it('a database deleted by another connection fails the storage with StorageUnavailableError', async () => {
    const storage = await created();
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 2, 1) });
    await IndexedDbStorage.destroy(storage.memberId);
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: entries(3, 3, 1) }),
    ).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(storage.info().failure?.code).toBe('STORAGE_UNAVAILABLE');
  });

  it('takes a database upgraded past its schema (a newer webraft, other code) as lost', async () => {
    const future = await openDB(IndexedDbStorage.databaseName('from-the-future'), 7);
    future.close();
    // Its log is no longer ours to trust: the member rejoins as a new one (connect() does).
    const opening = IndexedDbStorage.open('from-the-future');
    await expect(opening).rejects.toBeInstanceOf(StorageLostError);
    await expect(opening).rejects.toThrow(/upgraded by other code/);
  });

  it('rejects writes after close with StorageClosedError', async () => {
    const storage = await created();
    await storage.close();
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: [] }),
    ).rejects.toBeInstanceOf(StorageClosedError);
  });
});
