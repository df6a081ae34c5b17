/**
 * Storage in memory: the twin of the IndexedDB storage for tests, demos and the simulator. The
 * durable medium is a `MemoryDisk` that outlives any one `MemoryStorage`, so a test can "reopen"
 * a member's storage after a crash and see exactly what was persisted, nothing more.
 *
 * It checks every write the way a real log store must (TigerBeetle: assert on write; the rules
 * are in checks.ts): a bad update or compaction is refused with a typed error and leaves the disk
 * unchanged.
 */
import { assert } from '../core/errors.js';
import { EMPTY_HARD_STATE } from '../core/types.js';
import type { Entry, HardState, Snapshot } from '../core/types.js';
import {
  findCompactionViolation,
  findPersistUpdateViolation,
  InvalidCompactionError,
  InvalidPersistUpdateError,
  StorageClosedError,
} from './checks.js';
import type { StoredLogView } from './checks.js';
import type { PersistedState, PersistUpdate, Storage, StorageInfo } from './storage.js';

export {
  findCompactionViolation,
  findPersistUpdateViolation,
  findSnapshotViolation,
  InvalidCompactionError,
  InvalidPersistUpdateError,
  StorageClosedError,
} from './checks.js';
export type { StoredLogView } from './checks.js';

/** Copies an entry with its own bytes, as a durable medium would (callers may reuse buffers). */
export function copyEntry(entry: Entry): Entry {
  return { index: entry.index, term: entry.term, kind: entry.kind, data: entry.data.slice() };
}

/** Copies a snapshot with its own bytes and configuration. */
export function copySnapshot(snapshot: Snapshot): Snapshot {
  const { index, term, config } = snapshot.meta;
  return {
    meta: { index, term, config: { voters: [...config.voters], learners: [...config.learners] } },
    data: snapshot.data.slice(),
  };
}

/**
 * The durable medium behind MemoryStorage: hard state, newest snapshot and log as they would be
 * on disk. Each write is atomic: it is checked first and either fully applied or refused.
 */
export class MemoryDisk implements StoredLogView {
  private hardStateValue: HardState = EMPTY_HARD_STATE;
  private snapshotValue: Snapshot | null = null;
  /** The compaction point: index of the last entry dropped (0 if none); log[0] is at offset + 1. */
  private offset = 0;
  /** The term of the entry at `offset` (0 when offset is 0). */
  private offsetTerm = 0;
  private log: Entry[] = [];

  get hardState(): HardState {
    return this.hardStateValue;
  }

  /** The stored snapshot (shared, do not mutate; `read()` gives copies), or null. */
  get snapshot(): Snapshot | null {
    return this.snapshotValue;
  }

  get snapshotIndex(): number {
    return this.snapshotValue?.meta.index ?? 0;
  }

  /** Index of the first stored entry (one past the compaction point), even if none is stored. */
  get firstIndex(): number {
    return this.offset + 1;
  }

  get lastIndex(): number {
    return this.offset + this.log.length;
  }

  /**
   * The term of the entry at `index`: a stored entry, the compaction point or the snapshot's
   * index; 0 for any other index (compacted away or past the end) and for index 0.
   */
  termAt(index: number): number {
    if (index === this.offset) return this.offsetTerm;
    if (index === this.snapshotIndex) return this.snapshotValue?.meta.term ?? 0;
    return this.log[index - this.offset - 1]?.term ?? 0;
  }

  /** A copy of what is on disk: the loaded state never aliases the disk. */
  read(): PersistedState {
    return {
      hardState: { ...this.hardStateValue },
      snapshot: this.snapshotValue === null ? null : copySnapshot(this.snapshotValue),
      entries: this.log.map(copyEntry),
    };
  }

  /**
   * Checks and applies one update, in order: snapshot (the log restarts empty after it), entries
   * (replacing the stored suffix from the first), hard state. Throws InvalidPersistUpdateError and
   * changes nothing if the update is bad.
   */
  write(update: PersistUpdate): void {
    const violation = findPersistUpdateViolation(this, update);
    if (violation !== null) throw new InvalidPersistUpdateError(violation);
    if (update.snapshot !== null) {
      this.snapshotValue = copySnapshot(update.snapshot);
      this.offset = update.snapshot.meta.index;
      this.offsetTerm = update.snapshot.meta.term;
      this.log = [];
    }
    const first = update.entries[0];
    if (first !== undefined) {
      assert(first.index > this.snapshotIndex, 'entries never replace what the snapshot covers');
      this.log.length = first.index - this.offset - 1; // Replace the suffix from the first new index.
      for (const entry of update.entries) this.log.push(copyEntry(entry));
    }
    if (update.hardState !== null) this.hardStateValue = { ...update.hardState };
    this.checkInvariants();
  }

  /**
   * Stores `snapshot` if it is newer than the stored one (an older or equal one is ignored) and
   * drops the entries at or below `compactThrough`; entries after it stay, also those the
   * snapshot covers (a tail kept for slow followers). Throws InvalidCompactionError and changes
   * nothing if `compactThrough` is past the snapshot or the snapshot contradicts the log.
   */
  compact(snapshot: Snapshot, compactThrough: number): void {
    const violation = findCompactionViolation(this, snapshot, compactThrough);
    if (violation !== null) throw new InvalidCompactionError(violation);
    if (snapshot.meta.index > this.snapshotIndex) this.snapshotValue = copySnapshot(snapshot);
    if (compactThrough > this.offset) {
      assert(compactThrough <= this.lastIndex, 'compaction stays within the stored log');
      const term = this.termAt(compactThrough);
      this.log = this.log.slice(compactThrough - this.offset);
      this.offset = compactThrough;
      this.offsetTerm = term;
    }
    this.checkInvariants();
  }

  private checkInvariants(): void {
    assert(this.offset <= this.snapshotIndex, 'the compaction point is at or below the snapshot');
    assert(this.lastIndex >= this.snapshotIndex, 'the log reaches the snapshot index');
    assert(
      this.snapshotValue === null ||
        this.termAt(this.snapshotIndex) === this.snapshotValue.meta.term,
      'the log agrees with the snapshot on its term',
    );
  }
}

/**
 * A Storage over a MemoryDisk. Every persist and compact is durable once its promise resolves;
 * `reopen()` gives a fresh storage over the same disk, as a restarted tab would get.
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

  async compact(snapshot: Snapshot, compactThrough: number): Promise<void> {
    if (this.closed) throw new StorageClosedError();
    this.disk.compact(snapshot, compactThrough);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  info(): StorageInfo {
    return { kind: 'memory', persistence: 'unsupported', failure: null };
  }

  /** A new storage over the same disk (the old one should be closed first). */
  reopen(): MemoryStorage {
    return new MemoryStorage(this.disk);
  }
}
