/**
 * MemoryStorage: the shared storage conformance suite, plus what only the memory twin promises
 * (typed errors, a disk shared between reopened storages).
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidPersistUpdateError,
  MemoryDisk,
  MemoryStorage,
  StorageClosedError,
} from '../../../src/storage/memory.js';
import { entries, entry, runStorageConformance } from './conformance.js';

runStorageConformance('MemoryStorage', async () => {
  const storage = new MemoryStorage();
  return { storage, reopen: async () => storage.reopen() };
});

describe('MemoryStorage', () => {
  it('refuses a gap with InvalidPersistUpdateError', async () => {
    const storage = new MemoryStorage();
    await storage.load();
    const failure = storage.persist({ hardState: null, entries: [entry(2, 1)] });
    await expect(failure).rejects.toBeInstanceOf(InvalidPersistUpdateError);
    await expect(failure).rejects.toMatchObject({ code: 'INVALID_PERSIST_UPDATE' });
  });

  it('refuses a hard state whose term goes backwards', async () => {
    const storage = new MemoryStorage();
    await storage.persist({ hardState: { term: 4, vote: null, commit: 0 }, entries: [] });
    await expect(
      storage.persist({ hardState: { term: 3, vote: null, commit: 0 }, entries: [] }),
    ).rejects.toBeInstanceOf(InvalidPersistUpdateError);
  });

  it('refuses persist after close with StorageClosedError', async () => {
    const storage = new MemoryStorage();
    await storage.close();
    await expect(storage.persist({ hardState: null, entries: [] })).rejects.toBeInstanceOf(
      StorageClosedError,
    );
  });

  it('shares one disk between storages opened on it', async () => {
    const disk = new MemoryDisk();
    await new MemoryStorage(disk).persist({ hardState: null, entries: entries(1, 3, 1) });
    expect(disk.lastIndex).toBe(3);
    expect(disk.termAt(3)).toBe(1);
    expect(disk.termAt(4)).toBe(0);
    expect((await new MemoryStorage(disk).load()).entries).toHaveLength(3);
  });
});
