/**
 * The durable state of one member: hard state, newest snapshot and log. Small on purpose
 * (hashicorp/raft's LogStore + StableStore + SnapshotStore): every implementation — memory,
 * IndexedDB, file — passes one conformance suite.
 */
import type { Entry, HardState, Snapshot } from '../core/types.js';
import type { RepairRecord } from './records.js';

/** What a member finds when it starts: everything that was durably persisted before. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /**
   * Consecutive entries after the compaction point: they start at index 1 without a snapshot,
   * and at or below `snapshot.meta.index + 1` with one.
   */
  readonly entries: readonly Entry[];
  /**
   * True when recovery cut the log short (a torn or corrupt tail), now or on an earlier start
   * not yet followed by `releaseVotes`: the member may have acknowledged entries it no longer
   * holds, so it must not vote until it has caught up with a leader (TESTING.md 18).
   */
  readonly votesWithheld?: boolean;
}

/** One durable write, applied atomically in this order: snapshot, entries, hard state. */
export interface PersistUpdate {
  readonly hardState: HardState | null;
  /** A snapshot from the leader: the stored log is dropped and restarts empty after it. */
  readonly snapshot: Snapshot | null;
  /**
   * Consecutive entries. `entries[0].index` must be at most lastIndex + 1 and above the stored
   * snapshot's index; any stored entries at or after it are replaced (a follower's conflicting
   * suffix).
   */
  readonly entries: readonly Entry[];
}

/** What a member's status shows about its storage. */
export interface StorageInfo {
  /** 'memory', 'indexeddb', ... */
  readonly kind: string;
  /**
   * Whether the browser promised not to evict this storage (`navigator.storage.persist()`);
   * 'unsupported' outside a browser or for storage that is not the browser's.
   */
  readonly persistence: 'granted' | 'denied' | 'unsupported';
  /** Why the storage takes no more writes (a typed error's code and message), or null. */
  readonly failure: { readonly code: string; readonly message: string } | null;
}

export interface Storage {
  /** Reads back what was durably persisted. Called once, before any `persist`. */
  load(): Promise<PersistedState>;
  /** Resolves only once the update is durable: a member acts on it (votes, acks) right after. */
  persist(update: PersistUpdate): Promise<void>;
  /**
   * Stores a snapshot this member took of its own state machine and deletes the entries at or
   * below `compactThrough` (at most the snapshot's index). A snapshot no newer than the stored one
   * is ignored. Durable when it resolves.
   */
  compact(snapshot: Snapshot, compactThrough: number): Promise<void>;
  /** Releases resources. Pending writes either complete or are lost as in a crash. */
  close(): Promise<void>;
  /** What status shows; optional for storages with nothing to say. */
  info?(): StorageInfo;
  /**
   * The error every write now fails with, when the storage learnt of it without a write (the
   * browser closed its database: site data cleared, storage evicted), else null. The member
   * checks it as it ticks and stops at once, rather than at a write that may be long in coming.
   */
  failed?(): Error | null;
  /**
   * Forgets that recovery cut the log short: the member caught up with a leader and votes again.
   * Only storages that can report `votesWithheld` need it.
   */
  releaseVotes?(): Promise<void>;
}

/** What status shows of the log of a segmented storage (IndexedDB, file, Durable Object). */
export interface SegmentedLogInfo {
  readonly segments: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** What recovery cut from the log (on this start or an earlier one), or null. */
  readonly repair: RepairRecord | null;
  /** Whether the member must not vote yet because of that cut (see PersistedState). */
  readonly votesWithheld: boolean;
}
