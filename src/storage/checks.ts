/**
 * The rules every Storage enforces on what it is asked to write (TigerBeetle: assert on write),
 * shared by the in-memory stores and meant for every other one, with the typed errors a store
 * throws when a rule is broken. A refused write leaves the store unchanged.
 *
 * The stored log is: an optional snapshot at index S, then consecutive entries after a compaction
 * point C <= S (C = 0 without a snapshot), whose last index is at least S. Entries at or below S
 * are committed (the snapshot is of applied state), so no update may replace them.
 */
import { RaftError } from '../core/errors.js';
import type { HardState, Snapshot } from '../core/types.js';
import type { PersistUpdate } from './storage.js';

/**
 * An update that would leave the log with a hole, out of order, with a term going backwards, or
 * replacing entries the stored snapshot covers.
 */
export class InvalidPersistUpdateError extends RaftError {
  readonly code = 'INVALID_PERSIST_UPDATE';
  constructor(message: string) {
    super(`invalid persist update: ${message}`);
    this.name = 'InvalidPersistUpdateError';
  }
}

/** A `compact` whose compaction point is past its snapshot, or whose snapshot the log contradicts. */
export class InvalidCompactionError extends RaftError {
  readonly code = 'INVALID_COMPACTION';
  constructor(message: string) {
    super(`invalid compaction: ${message}`);
    this.name = 'InvalidCompactionError';
  }
}

/** A `persist`, `compact` or `load` on a storage that was closed. */
export class StorageClosedError extends RaftError {
  readonly code = 'STORAGE_CLOSED';
  constructor() {
    super('storage is closed');
    this.name = 'StorageClosedError';
  }
}

/** What the checks need to know of a stored log. */
export interface StoredLogView {
  readonly hardState: HardState;
  /** The stored snapshot's index, or 0 without one. */
  readonly snapshotIndex: number;
  /** The index of the last entry; the snapshot index when no entry follows the snapshot. */
  readonly lastIndex: number;
  /** The term at `index`, for any index from the compaction point to `lastIndex` (0 at index 0). */
  termAt(index: number): number;
}

/** Returns why `snapshot` is malformed (index and term safe integers >= 1, data bytes), or null. */
export function findSnapshotViolation(snapshot: Snapshot): string | null {
  const { index, term } = snapshot.meta;
  if (!Number.isSafeInteger(index) || index < 1) return `snapshot index ${index} is not >= 1`;
  if (!Number.isSafeInteger(term) || term < 1) return `snapshot term ${term} is not >= 1`;
  if (!(snapshot.data instanceof Uint8Array)) return 'snapshot data is not a Uint8Array';
  return null;
}

/**
 * Returns why `update` cannot be applied to `log`, or null if it can. The rules:
 * - the hard state's term never goes backwards;
 * - a snapshot (installed first) is well formed and newer than the stored one; the log then
 *   restarts empty after it;
 * - entries are consecutive with terms never going backwards (from the term before the first),
 *   and the first comes right after the snapshot index at the lowest (entries the snapshot covers
 *   are committed and never replaced) and at lastIndex + 1 at the highest (no gap).
 */
export function findPersistUpdateViolation(
  log: StoredLogView,
  update: PersistUpdate,
): string | null {
  const next = update.hardState;
  if (next !== null && next.term < log.hardState.term) {
    return `hard state term ${next.term} is below the stored term ${log.hardState.term}`;
  }
  const installed = update.snapshot;
  if (installed !== null) {
    const violation = findSnapshotViolation(installed);
    if (violation !== null) return violation;
    if (installed.meta.index <= log.snapshotIndex) {
      return `installs a snapshot at ${installed.meta.index}, not after the stored one at ${log.snapshotIndex}`;
    }
  }
  const first = update.entries[0];
  if (first === undefined) return null;
  const base = installed === null ? log.snapshotIndex : installed.meta.index;
  const lastIndex = installed === null ? log.lastIndex : installed.meta.index;
  if (first.index <= base) {
    return `first entry index ${first.index} would replace entries the snapshot at ${base} covers`;
  }
  if (first.index > lastIndex + 1) {
    return `first entry index ${first.index} leaves a gap after last index ${lastIndex}`;
  }
  // With a snapshot installed, base = lastIndex: the first entry follows the snapshot.
  const previousTerm = installed !== null ? installed.meta.term : log.termAt(first.index - 1);
  return findEntriesViolation(update.entries, previousTerm);
}

/** Entries consecutive from the first, terms never below `previousTerm` or each other's. */
function findEntriesViolation(
  entries: PersistUpdate['entries'],
  previousTerm: number,
): string | null {
  let termBefore = previousTerm;
  let expectedIndex = entries[0]?.index ?? 0;
  for (const entry of entries) {
    if (entry.index !== expectedIndex) {
      return `entry index ${entry.index} where ${expectedIndex} was expected (entries must be consecutive)`;
    }
    if (entry.term < termBefore) {
      return `entry ${entry.index} has term ${entry.term}, below the previous entry's term ${termBefore}`;
    }
    termBefore = entry.term;
    expectedIndex++;
  }
  return null;
}

/**
 * Returns why `compact(snapshot, compactThrough)` cannot be applied to `log`, or null if it can:
 * the snapshot is well formed; `compactThrough` is a safe integer in [0, snapshot index]; and a
 * snapshot newer than the stored one is of a stored entry (index <= lastIndex) with that entry's
 * term (a member snapshots only what it applied, which it stored first).
 */
export function findCompactionViolation(
  log: StoredLogView,
  snapshot: Snapshot,
  compactThrough: number,
): string | null {
  const violation = findSnapshotViolation(snapshot);
  if (violation !== null) return violation;
  const { index, term } = snapshot.meta;
  if (!Number.isSafeInteger(compactThrough) || compactThrough < 0 || compactThrough > index) {
    return `compactThrough ${compactThrough} is not in [0, snapshot index ${index}]`;
  }
  if (index <= log.snapshotIndex) return null; // An older snapshot: ignored, nothing to check.
  if (index > log.lastIndex) {
    return `snapshot at ${index} is past the last stored index ${log.lastIndex}`;
  }
  const storedTerm = log.termAt(index);
  if (storedTerm !== term) {
    return `snapshot at ${index} has term ${term}, the stored entry there has term ${storedTerm}`;
  }
  return null;
}
