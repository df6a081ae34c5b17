/**
 * MemoryStorage: the shared storage conformance suite, plus what only the memory twin promises
 * (typed errors, a disk shared between reopened storages).
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidCompactionError,
  InvalidPersistUpdateError,
  MemoryDisk,
  MemoryStorage,
  StorageClosedError,
} from '../../../src/storage/memory.js';
import { entries, entry, runStorageConformance, snapshot } from './conformance.js';

runStorageConformance('MemoryStorage', async () => {
  const storage = new MemoryStorage();
  return { storage, reopen: async () => storage.reopen() };
});

describe('MemoryStorage', () => {
  it('refuses a gap with InvalidPersistUpdateError', async () => {
    const storage = new MemoryStorage();
    await storage.load();
    const failure = storage.persist({ hardState: null, snapshot: null, entries: [entry(2, 1)] });
    await expect(failure).rejects.toBeInstanceOf(InvalidPersistUpdateError);
    await expect(failure).rejects.toMatchObject({ code: 'INVALID_PERSIST_UPDATE' });
  });

  it('refuses a hard state whose term goes backwards', async () => {
    const storage = new MemoryStorage();
    await storage.persist({
      hardState: { term: 4, vote: null, commit: 0 },
      snapshot: null,
      entries: [],
    });
    await expect(
      storage.persist({
        hardState: { term: 3, vote: null, commit: 0 },
        snapshot: null,
        entries: [],
      }),
    ).rejects.toBeInstanceOf(InvalidPersistUpdateError);
  });

  it('refuses persist after close with StorageClosedError', async () => {
    const storage = new MemoryStorage();
    await storage.close();
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: [] }),
    ).rejects.toBeInstanceOf(StorageClosedError);
  });

  it('shares one disk between storages opened on it', async () => {
    const disk = new MemoryDisk();
    await new MemoryStorage(disk).persist({
      hardState: null,
      snapshot: null,
      entries: entries(1, 3, 1),
    });
    expect(disk.lastIndex).toBe(3);
    expect(disk.termAt(3)).toBe(1);
    expect(disk.termAt(4)).toBe(0);
    expect((await new MemoryStorage(disk).load()).entries).toHaveLength(3);
  });

  it('refuses compactThrough past the snapshot with InvalidCompactionError', async () => {
    const storage = new MemoryStorage();
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 5, 1) });
    const failure = storage.compact(snapshot(3, 1), 4);
    await expect(failure).rejects.toBeInstanceOf(InvalidCompactionError);
    await expect(failure).rejects.toMatchObject({ code: 'INVALID_COMPACTION' });
  });

  it('refuses entries below the snapshot with InvalidPersistUpdateError', async () => {
    const storage = new MemoryStorage();
    await storage.persist({ hardState: null, snapshot: snapshot(5, 1), entries: [] });
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: [entry(5, 1)] }),
    ).rejects.toBeInstanceOf(InvalidPersistUpdateError);
  });

  it('refuses compact after close with StorageClosedError', async () => {
    const storage = new MemoryStorage();
    await storage.close();
    await expect(storage.compact(snapshot(1, 1), 0)).rejects.toBeInstanceOf(StorageClosedError);
  });

  it('knows the terms of stored entries, the compaction point and the snapshot', async () => {
    const disk = new MemoryDisk();
    const storage = new MemoryStorage(disk);
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 4, 1) });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(5, 8, 2) });
    await storage.compact(snapshot(6, 2), 3);
    expect([disk.firstIndex, disk.lastIndex, disk.snapshotIndex]).toEqual([4, 8, 6]);
    expect([2, 3, 4, 6, 8, 9].map((index) => disk.termAt(index))).toEqual([0, 1, 1, 2, 2, 0]);
    await storage.persist({ hardState: null, snapshot: snapshot(10, 3), entries: [] });
    expect([disk.firstIndex, disk.lastIndex, disk.snapshotIndex]).toEqual([11, 10, 10]);
    expect([9, 10, 11].map((index) => disk.termAt(index))).toEqual([0, 3, 0]);
  });
});
