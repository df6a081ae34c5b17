/**
 * What one `persist` or `compact` changes in a segmented storage (IndexedDB, files), planned
 * synchronously on its SegmentLayout after the write rules (checks.ts) passed: segment writes, meta
 * records and a snapshot to store, in the order they apply. Each storage then carries the changes
 * out in its own medium — one transaction, or one journal batch — so the two never differ in
 * what a write means.
 */
import type { Snapshot } from '../core/types.js';
import {
  findCompactionViolation,
  findPersistUpdateViolation,
  InvalidCompactionError,
  InvalidPersistUpdateError,
} from './checks.js';
import { encodeCompactionPoint, encodeHardState, sealSnapshot } from './records.js';
import type { MetaName, SealedRecord, SnapshotRecord } from './records.js';
import type { SegmentLayout, SegmentWrite } from './segment-layout.js';
import type { PersistUpdate } from './storage.js';

export type StorageChange =
  | { readonly kind: 'segment'; readonly write: SegmentWrite }
  | { readonly kind: 'meta'; readonly name: MetaName; readonly body: Uint8Array }
  | {
      /** Store the chunks and the `snapshot` meta record naming them; drop `previous`'s. */
      readonly kind: 'snapshot';
      readonly record: SnapshotRecord;
      readonly chunks: readonly SealedRecord[];
      readonly previous: SnapshotRecord | null;
    };

/**
 * The changes of `update` (snapshot, then entries, then hard state), applied to `layout` as
 * planned. Throws InvalidPersistUpdateError, changing nothing, if the update breaks a write rule.
 */
export function planPersist(
  layout: SegmentLayout,
  update: PersistUpdate,
  snapshotChunkBytes: number,
): StorageChange[] {
  const violation = findPersistUpdateViolation(layout, update);
  if (violation !== null) throw new InvalidPersistUpdateError(violation);
  const changes: StorageChange[] = [];
  if (update.snapshot !== null) {
    const stored = snapshotChange(layout, update.snapshot, snapshotChunkBytes);
    changes.push(stored, ...segments(layout.planInstall(update.snapshot, stored.record)));
    changes.push(compactionChange(layout));
  }
  changes.push(...segments(layout.planEntries(update.entries)));
  if (update.hardState !== null) {
    layout.hardState = { ...update.hardState };
    changes.push({ kind: 'meta', name: 'hardState', body: encodeHardState(update.hardState) });
  }
  return changes;
}

/**
 * The changes of `compact(snapshot, compactThrough)`, applied to `layout` as planned. Throws
 * InvalidCompactionError, changing nothing, if the compaction breaks a rule.
 */
export function planCompaction(
  layout: SegmentLayout,
  snapshot: Snapshot,
  compactThrough: number,
  snapshotChunkBytes: number,
): StorageChange[] {
  const violation = findCompactionViolation(layout, snapshot, compactThrough);
  if (violation !== null) throw new InvalidCompactionError(violation);
  const changes: StorageChange[] = [];
  if (snapshot.meta.index > layout.snapshotIndex) {
    const stored = snapshotChange(layout, snapshot, snapshotChunkBytes);
    layout.snapshot = stored.record;
    changes.push(stored);
  }
  changes.push(...segments(layout.planCompaction(compactThrough)));
  if (compactThrough > 0) changes.push(compactionChange(layout));
  return changes;
}

function snapshotChange(
  layout: SegmentLayout,
  snapshot: Snapshot,
  chunkBytes: number,
): Extract<StorageChange, { kind: 'snapshot' }> {
  const { record, chunks } = sealSnapshot(snapshot, chunkBytes);
  return { kind: 'snapshot', record, chunks, previous: layout.snapshot };
}

function compactionChange(layout: SegmentLayout): StorageChange {
  return { kind: 'meta', name: 'compaction', body: encodeCompactionPoint(layout.point) };
}

function segments(writes: readonly SegmentWrite[]): StorageChange[] {
  return writes.map((write) => ({ kind: 'segment', write }));
}
