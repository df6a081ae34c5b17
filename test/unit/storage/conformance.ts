/**
 * The storage conformance suite (automerge-repo's `runStorageAdapterTests` idea): every Storage —
 * memory, IndexedDB, file — must pass these tests unchanged. Call `runStorageConformance` from a
 * `*.test.ts` file with a factory that makes an empty storage and a way to reopen it.
 */
import { describe, expect, it } from 'vitest';
import { EMPTY_HARD_STATE } from '../../../src/core/types.js';
import type { Entry, HardState } from '../../../src/core/types.js';
import { describeCompaction, describeInstall } from './conformance-snapshots.js';
import { entries, entry, plain } from './fixtures.js';
import type { StorageUnderTest } from './fixtures.js';

export { entries, entry, snapshot } from './fixtures.js';
export type { StorageUnderTest } from './fixtures.js';

/** Registers the conformance tests for one Storage implementation. */
export function runStorageConformance(
  name: string,
  makeStorage: () => Promise<StorageUnderTest>,
): void {
  describe(`Storage conformance: ${name}`, () => {
    describeBasics(makeStorage);
    describeOverwrites(makeStorage);
    describeRejections(makeStorage);
    describeDurability(makeStorage);
    describe('snapshot install', () => describeInstall(makeStorage));
    describe('compaction', () => describeCompaction(makeStorage));
  });
}

function describeBasics(makeStorage: () => Promise<StorageUnderTest>): void {
  it('loads an empty hard state, no snapshot and no entries when nothing was persisted', async () => {
    const { storage } = await makeStorage();
    const loaded = await storage.load();
    expect(loaded.hardState).toEqual(EMPTY_HARD_STATE);
    expect(loaded.snapshot).toBeNull();
    expect(loaded.entries).toEqual([]);
  });

  it('round-trips hard state and entries, including no-ops and empty data', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    const hardState: HardState = { term: 3, vote: 'm2', commit: 2 };
    const written = [entry(1, 1, 'noop'), entry(2, 2), entry(3, 3)];
    await storage.persist({ hardState, snapshot: null, entries: written });
    await storage.close();
    const loaded = await (await reopen()).load();
    expect(loaded.hardState).toEqual(hardState);
    expect(plain(loaded.entries)).toEqual(plain(written));
  });

  it('keeps the entries when an update carries only a hard state, and vice versa', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    await storage.persist({
      hardState: { term: 1, vote: 'a', commit: 0 },
      snapshot: null,
      entries: entries(1, 3, 1),
    });
    await storage.persist({
      hardState: { term: 2, vote: null, commit: 1 },
      snapshot: null,
      entries: [],
    });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(4, 5, 2) });
    await storage.close();
    const loaded = await (await reopen()).load();
    expect(loaded.hardState).toEqual({ term: 2, vote: null, commit: 1 });
    expect(plain(loaded.entries)).toEqual(plain([...entries(1, 3, 1), ...entries(4, 5, 2)]));
  });

  it('round-trips a long log', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    for (let first = 1; first <= 1000; first += 100) {
      await storage.persist({
        hardState: null,
        snapshot: null,
        entries: entries(first, first + 99, 1 + (first >> 8)),
      });
    }
    await storage.close();
    const loaded = await (await reopen()).load();
    expect(loaded.entries.map((e) => e.index)).toEqual(entries(1, 1000, 1).map((e) => e.index));
    expect(loaded.entries[999]?.term).toBe(1 + (901 >> 8));
  });

  it('applies updates issued back to back in the order they were issued', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    await Promise.all([
      storage.persist({
        hardState: { term: 1, vote: 'a', commit: 0 },
        snapshot: null,
        entries: entries(1, 2, 1),
      }),
      storage.persist({
        hardState: { term: 2, vote: 'b', commit: 1 },
        snapshot: null,
        entries: entries(3, 4, 2),
      }),
      storage.persist({ hardState: null, snapshot: null, entries: [entry(4, 3)] }),
    ]);
    await storage.close();
    const loaded = await (await reopen()).load();
    expect(loaded.hardState).toEqual({ term: 2, vote: 'b', commit: 1 });
    expect(loaded.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 3],
    ]);
  });
}

function describeOverwrites(makeStorage: () => Promise<StorageUnderTest>): void {
  it('replaces the stored suffix when entries start at or below the last index', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 5, 1) });
    await storage.persist({ hardState: null, snapshot: null, entries: [entry(3, 2)] });
    await storage.close();
    const loaded = await (await reopen()).load();
    expect(loaded.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
    expect(plain(loaded.entries)).toEqual(plain([entry(1, 1), entry(2, 1), entry(3, 2)]));
  });

  it('replaces the whole log when entries start at index 1', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 4, 1) });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 2, 2) });
    await storage.close();
    const loaded = await (await reopen()).load();
    expect(loaded.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 2],
      [2, 2],
    ]);
  });

  it('appends entries that start right after the last index', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 2, 1) });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(3, 3, 1) });
    await storage.close();
    expect((await (await reopen()).load()).entries.map((e) => e.index)).toEqual([1, 2, 3]);
  });
}

function describeRejections(makeStorage: () => Promise<StorageUnderTest>): void {
  it('rejects entries that would leave a gap, and keeps the log unchanged', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    await storage.persist({
      hardState: { term: 1, vote: null, commit: 0 },
      snapshot: null,
      entries: entries(1, 2, 1),
    });
    await expect(
      storage.persist({
        hardState: { term: 2, vote: null, commit: 0 },
        snapshot: null,
        entries: [entry(4, 2)],
      }),
    ).rejects.toThrow();
    await storage.close();
    const loaded = await (await reopen()).load();
    expect(loaded.hardState.term).toBe(1);
    expect(loaded.entries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('rejects entries that are not consecutive', async () => {
    const { storage } = await makeStorage();
    await storage.load();
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: [entry(1, 1), entry(3, 1)] }),
    ).rejects.toThrow();
  });

  it('rejects an entry at index 0', async () => {
    const { storage } = await makeStorage();
    await storage.load();
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: [entry(0, 1)] }),
    ).rejects.toThrow();
  });

  it('rejects entry terms that go backwards', async () => {
    const { storage } = await makeStorage();
    await storage.load();
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 2, 3) });
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: [entry(3, 2)] }),
    ).rejects.toThrow();
  });

  it('rejects persist after close', async () => {
    const { storage } = await makeStorage();
    await storage.load();
    await storage.close();
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: [entry(1, 1)] }),
    ).rejects.toThrow();
  });
}

function describeDurability(makeStorage: () => Promise<StorageUnderTest>): void {
  it('a reopened storage sees exactly what was persisted before close', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    await storage.persist({
      hardState: { term: 5, vote: 'x', commit: 3 },
      snapshot: null,
      entries: entries(1, 3, 5),
    });
    await storage.close();
    const reopened = await reopen();
    const loaded = await reopened.load();
    expect(loaded.hardState).toEqual({ term: 5, vote: 'x', commit: 3 });
    expect(loaded.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    await reopened.persist({ hardState: null, snapshot: null, entries: [entry(4, 5)] });
    await reopened.close();
    expect((await (await reopen()).load()).entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
  });

  it('returns copies: mutating loaded or persisted values does not change what is stored', async () => {
    const { storage, reopen } = await makeStorage();
    await storage.load();
    const written = entry(1, 1);
    await storage.persist({ hardState: null, snapshot: null, entries: [written] });
    written.data.fill(0);
    await storage.close();
    const reopened = await reopen();
    const loaded = await reopened.load();
    expect(plain(loaded.entries)).toEqual(plain([entry(1, 1)]));
    loaded.entries[0]?.data.fill(0);
    (loaded.entries as Entry[]).length = 0;
    await reopened.close();
    expect(plain((await (await reopen()).load()).entries)).toEqual(plain([entry(1, 1)]));
  });
}
