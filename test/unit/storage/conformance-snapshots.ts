/**
 * The storage conformance suite, part two: snapshots. A snapshot arrives two ways — installed
 * from the leader with `persist` (the log restarts empty after it) or taken by the member itself
 * and stored with `compact` (entries up to the compaction point are dropped, a tail may stay) —
 * and both must survive a reopen exactly. Registered by `runStorageConformance`.
 */
import { expect, it } from 'vitest';
import type { Storage } from '../../../src/storage/storage.js';
import { entries, entry, plain, plainSnapshot, snapshot, summary } from './fixtures.js';
import type { StorageUnderTest } from './fixtures.js';

type MakeStorage = () => Promise<StorageUnderTest>;

/** A storage holding entries 1..10 of term 1 and hard state term 1, commit 10. */
async function withTenEntries(
  makeStorage: MakeStorage,
): Promise<{ storage: Storage; reopen: () => Promise<Storage> }> {
  const { storage, reopen } = await makeStorage();
  await storage.load();
  await storage.persist({
    hardState: { term: 1, vote: 'm1', commit: 10 },
    snapshot: null,
    entries: entries(1, 10, 1),
  });
  return { storage, reopen };
}

/** Closes `storage` and loads what a reopened storage finds. */
async function closeAndReload(storage: Storage, reopen: () => Promise<Storage>) {
  await storage.close();
  return (await reopen()).load();
}

/** Snapshots installed with `persist`. */
export function describeInstall(makeStorage: MakeStorage): void {
  it('drops the stored log: a reopen finds the snapshot, no entries and the hard state', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    const installed = snapshot(20, 2);
    const hardState = { term: 2, vote: null, commit: 20 };
    await storage.persist({ hardState, snapshot: installed, entries: [] });
    const loaded = await closeAndReload(storage, reopen);
    expect(plainSnapshot(loaded.snapshot)).toEqual(plainSnapshot(installed));
    expect(loaded.entries).toEqual([]);
    expect(loaded.hardState).toEqual(hardState);
  });

  it('drops stored entries past the snapshot index too', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    await storage.persist({ hardState: null, snapshot: snapshot(5, 1), entries: [] });
    expect(summary(await closeAndReload(storage, reopen))).toEqual({
      snapshot: [5, 1],
      entries: [],
    });
  });

  it('appends the entries of the same update right after the snapshot', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    const after = [entry(21, 2), entry(22, 3)];
    await storage.persist({ hardState: null, snapshot: snapshot(20, 2), entries: after });
    const loaded = await closeAndReload(storage, reopen);
    expect(plain(loaded.entries)).toEqual(plain(after));
  });

  it('lets later updates continue the log after the snapshot, and replace their own suffix', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    await storage.persist({ hardState: null, snapshot: snapshot(20, 2), entries: [] });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(21, 23, 2) });
    await storage.persist({ hardState: null, snapshot: null, entries: [entry(23, 3)] });
    expect(summary(await closeAndReload(storage, reopen))).toEqual({
      snapshot: [20, 2],
      entries: [
        [21, 2],
        [22, 2],
        [23, 3],
      ],
    });
  });

  it('rejects entries that do not start right after the installed snapshot, changing nothing', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    for (const first of [20, 22]) {
      await expect(
        storage.persist({ hardState: null, snapshot: snapshot(20, 2), entries: [entry(first, 2)] }),
      ).rejects.toThrow();
    }
    const loaded = await closeAndReload(storage, reopen);
    expect(loaded.snapshot).toBeNull();
    expect(loaded.entries).toHaveLength(10);
  });

  it('rejects entries whose term is below the installed snapshot term', async () => {
    const { storage } = await makeStorage();
    await storage.load();
    await expect(
      storage.persist({ hardState: null, snapshot: snapshot(20, 3), entries: [entry(21, 2)] }),
    ).rejects.toThrow();
  });

  it('rejects installing a snapshot that is not newer than the stored one', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    await storage.persist({ hardState: null, snapshot: snapshot(20, 2), entries: [] });
    for (const index of [20, 15]) {
      await expect(
        storage.persist({ hardState: null, snapshot: snapshot(index, 2), entries: [] }),
      ).rejects.toThrow();
    }
    expect(summary(await closeAndReload(storage, reopen)).snapshot).toEqual([20, 2]);
  });

  it('rejects a snapshot at index 0', async () => {
    const { storage } = await makeStorage();
    await storage.load();
    await expect(
      storage.persist({ hardState: null, snapshot: snapshot(0, 1), entries: [] }),
    ).rejects.toThrow();
  });

  it('stores copies: mutating snapshot bytes after persist or after load changes nothing', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    const installed = snapshot(20, 2);
    await storage.persist({ hardState: null, snapshot: installed, entries: [] });
    installed.data.fill(0);
    await storage.close();
    const reopened = await reopen();
    const first = await reopened.load();
    expect(plainSnapshot(first.snapshot)).toEqual(plainSnapshot(snapshot(20, 2)));
    first.snapshot?.data.fill(0);
    const again = await closeAndReload(reopened, reopen);
    expect(plainSnapshot(again.snapshot)).toEqual(plainSnapshot(snapshot(20, 2)));
  });
}

/** Snapshots a member took itself, stored with `compact`. */
export function describeCompaction(makeStorage: MakeStorage): void {
  it('a reopen finds the snapshot and the entries after the compaction point', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    const taken = snapshot(8, 1);
    await storage.compact(taken, 5);
    const loaded = await closeAndReload(storage, reopen);
    expect(plainSnapshot(loaded.snapshot)).toEqual(plainSnapshot(taken));
    expect(plain(loaded.entries)).toEqual(plain(entries(6, 10, 1)));
    expect(loaded.hardState).toEqual({ term: 1, vote: 'm1', commit: 10 });
  });

  it('compacting through the snapshot index keeps only the entries after it', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    await storage.compact(snapshot(8, 1), 8);
    expect(summary(await closeAndReload(storage, reopen)).entries).toEqual([
      [9, 1],
      [10, 1],
    ]);
  });

  it('compacting the whole log keeps the snapshot and no entries', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    await storage.compact(snapshot(10, 1), 10);
    expect(summary(await closeAndReload(storage, reopen))).toEqual({
      snapshot: [10, 1],
      entries: [],
    });
  });

  it('lets entries continue after the compacted log', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    await storage.compact(snapshot(10, 1), 10);
    await storage.persist({ hardState: null, snapshot: null, entries: entries(11, 12, 2) });
    await storage.persist({ hardState: null, snapshot: null, entries: [entry(12, 3)] });
    expect(summary(await closeAndReload(storage, reopen)).entries).toEqual([
      [11, 2],
      [12, 3],
    ]);
  });

  it('ignores a snapshot older than the stored one, which stays', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    await storage.compact(snapshot(8, 1), 8);
    await storage.compact(snapshot(5, 1), 5);
    expect(summary(await closeAndReload(storage, reopen))).toEqual({
      snapshot: [8, 1],
      entries: [
        [9, 1],
        [10, 1],
      ],
    });
  });

  it('replaces the stored snapshot with a newer one', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    await storage.compact(snapshot(5, 1), 5);
    await storage.compact(snapshot(8, 1), 6);
    const loaded = await closeAndReload(storage, reopen);
    expect(plainSnapshot(loaded.snapshot)).toEqual(plainSnapshot(snapshot(8, 1)));
    expect(summary(loaded).entries.map(([index]) => index)).toEqual([7, 8, 9, 10]);
  });

  it('compacts further with the same snapshot, and never un-compacts', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    await storage.compact(snapshot(8, 1), 3);
    await storage.compact(snapshot(8, 1), 8);
    await storage.compact(snapshot(8, 1), 2);
    expect(summary(await closeAndReload(storage, reopen)).entries.map(([index]) => index)).toEqual([
      9, 10,
    ]);
  });

  it('keeps a compacted snapshot across a later install of a newer one', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    await storage.compact(snapshot(8, 1), 5);
    await storage.persist({ hardState: null, snapshot: snapshot(30, 4), entries: [entry(31, 4)] });
    expect(summary(await closeAndReload(storage, reopen))).toEqual({
      snapshot: [30, 4],
      entries: [[31, 4]],
    });
  });

  describeCompactionRejections(makeStorage);
}

function describeCompactionRejections(makeStorage: MakeStorage): void {
  it('rejects compactThrough past the snapshot index, changing nothing', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    await expect(storage.compact(snapshot(5, 1), 6)).rejects.toThrow();
    await expect(storage.compact(snapshot(5, 1), -1)).rejects.toThrow();
    expect(summary(await closeAndReload(storage, reopen))).toEqual({
      snapshot: null,
      entries: entries(1, 10, 1).map((e) => [e.index, e.term]),
    });
  });

  it('rejects a snapshot past the last stored index', async () => {
    const { storage } = await withTenEntries(makeStorage);
    await expect(storage.compact(snapshot(11, 1), 5)).rejects.toThrow();
  });

  it('rejects a snapshot whose term disagrees with the stored entry at its index', async () => {
    const { storage } = await withTenEntries(makeStorage);
    await expect(storage.compact(snapshot(8, 2), 5)).rejects.toThrow();
  });

  it('rejects entries that would replace entries the snapshot covers', async () => {
    const { storage, reopen } = await withTenEntries(makeStorage);
    await storage.compact(snapshot(8, 1), 5);
    for (const first of [5, 6, 8]) {
      await expect(
        storage.persist({ hardState: null, snapshot: null, entries: [entry(first, 2)] }),
      ).rejects.toThrow();
    }
    await storage.persist({ hardState: null, snapshot: null, entries: [entry(9, 2)] });
    expect(summary(await closeAndReload(storage, reopen)).entries.map(([, term]) => term)).toEqual([
      1, 1, 1, 2,
    ]);
  });

  it('rejects compact after close', async () => {
    const { storage } = await withTenEntries(makeStorage);
    await storage.close();
    await expect(storage.compact(snapshot(5, 1), 5)).rejects.toThrow();
  });
}
