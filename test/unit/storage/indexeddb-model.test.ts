/**
 * IndexedDbStorage against the memory storage as a model: random runs of appends (with suffix
 * replacement), hard states, compactions, snapshot installs and reopens, with segments and chunks
 * tiny enough that merges, splits and segments across the compaction point happen all the time.
 * After every reopen both must load exactly the same state.
 */
import 'fake-indexeddb/auto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/core/types.js';
import { IndexedDbStorage } from '../../../src/storage/indexeddb.js';
import { MemoryDisk, MemoryStorage } from '../../../src/storage/memory.js';
import type { PersistedState, Storage } from '../../../src/storage/storage.js';
import { entry, plain, plainSnapshot, snapshot } from './fixtures.js';

const OPTIONS = {
  segmentMergeBytes: 64,
  segmentRunRecordsMax: 3,
  segmentBytesMax: 96,
  snapshotChunkBytes: 4,
};
let runs = 0;

type Step = readonly [kind: number, a: number, b: number];

/** Kinds of step, weighted: appends 3, hard state 1, compaction 2, install 1, reopen 3. */
const kindOf = (roll: number): number => [0, 0, 0, 1, 2, 2, 3, 4, 4, 4][roll] ?? 4;

const view = (state: PersistedState): unknown => ({
  hardState: state.hardState,
  snapshot: plainSnapshot(state.snapshot),
  entries: plain(state.entries),
});

/** Applies one step, chosen to be legal for the model's current disk, to both storages. */
async function step(disk: MemoryDisk, stores: Storage[], [kind, a, b]: Step): Promise<void> {
  const last = disk.lastIndex;
  const snapshotIndex = disk.snapshotIndex;
  const both = (write: (storage: Storage) => Promise<void>) => Promise.all(stores.map(write));
  switch (kind) {
    case 0: {
      const from = Math.max(snapshotIndex + 1, last + 1 - (a % 6));
      const term = Math.max(1, disk.termAt(from - 1)) + (b % 3 === 0 ? 1 : 0);
      const count = 1 + (b % 12);
      const batch: Entry[] = [];
      for (let index = from; index < from + count; index++) batch.push(entry(index, term));
      await both((s) => s.persist({ hardState: null, snapshot: null, entries: batch }));
      return;
    }
    case 1: {
      const term = disk.hardState.term + (a % 2);
      const hardState = { term, vote: b % 2 === 0 ? null : `m${b % 5}`, commit: a % (last + 1) };
      await both((s) => s.persist({ hardState, snapshot: null, entries: [] }));
      return;
    }
    case 2: {
      if (last <= snapshotIndex) return;
      const index = snapshotIndex + 1 + (a % (last - snapshotIndex));
      const through = b % (index + 1);
      const taken = snapshot(index, disk.termAt(index));
      await both((s) => s.compact(taken, through));
      return;
    }
    case 3: {
      const index = Math.max(snapshotIndex + 1, last - 3 + (a % 8));
      const term = Math.max(1, disk.termAt(last), disk.hardState.term) + (b % 2);
      const after = b % 3 === 0 ? [entry(index + 1, term)] : [];
      await both((s) =>
        s.persist({ hardState: null, snapshot: snapshot(index, term), entries: after }),
      );
      return;
    }
    default:
      return; // Reopen: done by the caller.
  }
}

describe('IndexedDbStorage against the memory model', () => {
  it('loads what the model loads after any run of writes and reopens', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(9).map(kindOf), fc.nat(1000), fc.nat(1000)), {
          minLength: 1,
          maxLength: 40,
        }),
        async (steps) => {
          const id = `model-${++runs}`;
          const disk = new MemoryDisk();
          let memory = new MemoryStorage(disk);
          let idb = await IndexedDbStorage.create(id, OPTIONS);
          for (const current of steps) {
            await step(disk, [memory, idb], current);
            if (current[0] === 4) {
              await Promise.all([memory.close(), idb.close()]);
              memory = memory.reopen();
              idb = await IndexedDbStorage.open(id, OPTIONS);
              expect(view(await idb.load())).toEqual(view(await memory.load()));
            }
          }
          await idb.close();
          const final = await IndexedDbStorage.open(id, OPTIONS);
          expect(view(await final.load())).toEqual(view(disk.read()));
          expect(final.info().repair).toBeNull();
          await final.close();
        },
      ),
      { numRuns: 1000 },
    );
  });
});
