/**
 * Storage in memory: the twin of the IndexedDB storage for tests, demos and the simulator. The
 * durable medium is a `MemoryDisk` that outlives any one `MemoryStorage`, so a test can "reopen"
 * a member's storage after a crash and see exactly what was persisted, nothing more.
 *
 * It checks every update the way a real log store must (TigerBeetle: assert on write): entries
 * consecutive, starting at or below lastIndex + 1, terms never going backwards; a bad update is
 * refused with `InvalidPersistUpdateError` and leaves the disk unchanged.
 */
import { RaftError } from '../core/errors.js';
import { EMPTY_HARD_STATE } from '../core/types.js';
import type { Entry, HardState } from '../core/types.js';
import type { PersistedState, PersistUpdate, Storage } from './storage.js';

/** An update that would leave the log with a hole, out of order, or with a term going backwards. */
export class InvalidPersistUpdateError extends RaftError {
  readonly code = 'INVALID_PERSIST_UPDATE';
  constructor(message: string) {
    super(`invalid persist update: ${message}`);
    this.name = 'InvalidPersistUpdateError';
  }
}

/** A `persist` or `load` on a storage that was closed. */
export class StorageClosedError extends RaftError {
  readonly code = 'STORAGE_CLOSED';
  constructor() {
    super('storage is closed');
    this.name = 'StorageClosedError';
  }
}

/**
 * Returns why `update` cannot be applied on top of a log whose last index is `lastIndex` and whose
 * entry terms `termAt(index)` returns, or null if it can. Shared by every in-memory store.
 */
export function findPersistUpdateViolation(
  hardState: HardState,
  lastIndex: number,
  termAt: (index: number) => number,
  update: PersistUpdate,
): string | null {
  const next = update.hardState;
  if (next !== null && next.term < hardState.term) {
    return `hard state term ${next.term} is below the stored term ${hardState.term}`;
  }
  const first = update.entries[0];
  if (first === undefined) return null;
  if (first.index < 1) return `first entry index ${first.index} is below 1`;
  if (first.index > lastIndex + 1) {
    return `first entry index ${first.index} leaves a gap after last index ${lastIndex}`;
  }
  let previousTerm = first.index === 1 ? 0 : termAt(first.index - 1);
  let expectedIndex = first.index;
  for (const entry of update.entries) {
    if (entry.index !== expectedIndex) {
      return `entry index ${entry.index} where ${expectedIndex} was expected (entries must be consecutive)`;
    }
    if (entry.term < previousTerm) {
      return `entry ${entry.index} has term ${entry.term}, below the previous entry's term ${previousTerm}`;
    }
    previousTerm = entry.term;
    expectedIndex++;
  }
  return null;
}

/** Copies an entry with its own bytes, as a durable medium would (callers may reuse buffers). */
export function copyEntry(entry: Entry): Entry {
  return { index: entry.index, term: entry.term, kind: entry.kind, data: entry.data.slice() };
}

/**
 * The durable medium behind MemoryStorage: the hard state and log as they would be on disk.
 * Applying an update is atomic: it is checked first and either fully applied or refused.
 */
export class MemoryDisk {
  private hardStateValue: HardState = EMPTY_HARD_STATE;
  private readonly log: Entry[] = [];

  get hardState(): HardState {
    return this.hardStateValue;
  }

  get lastIndex(): number {
    return this.log.length;
  }

  /** The term of the entry at `index`, or 0 when there is none. */
  termAt(index: number): number {
    return this.log[index - 1]?.term ?? 0;
  }

  /** A copy of what is on disk: the loaded state never aliases the disk. */
  read(): PersistedState {
    return { hardState: { ...this.hardStateValue }, entries: this.log.map(copyEntry) };
  }

  /** Checks and applies one update; throws InvalidPersistUpdateError and changes nothing if bad. */
  write(update: PersistUpdate): void {
    const violation = findPersistUpdateViolation(
      this.hardStateValue,
      this.log.length,
      (index) => this.termAt(index),
      update,
    );
    if (violation !== null) throw new InvalidPersistUpdateError(violation);
    if (update.hardState !== null) this.hardStateValue = { ...update.hardState };
    const first = update.entries[0];
    if (first === undefined) return;
    this.log.length = first.index - 1; // Replace the stored suffix from the first new index.
    for (const entry of update.entries) this.log.push(copyEntry(entry));
  }
}

/**
 * A Storage over a MemoryDisk. Every persist is durable once its promise resolves; `reopen()`
 * gives a fresh storage over the same disk, as a restarted tab would get.
 */
export class MemoryStorage implements Storage {
  private closed = false;

  constructor(readonly disk: MemoryDisk = new MemoryDisk()) {}

  async load(): Promise<PersistedState> {
    if (this.closed) throw new StorageClosedError();
    return this.disk.read();
  }

  async persist(update: PersistUpdate): Promise<void> {
    if (this.closed) throw new StorageClosedError();
    this.disk.write(update);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** A new storage over the same disk (the old one should be closed first). */
  reopen(): MemoryStorage {
    return new MemoryStorage(this.disk);
  }
}
