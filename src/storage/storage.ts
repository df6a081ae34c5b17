/**
 * The durable state of one member: hard state and log. Small on purpose (hashicorp/raft's
 * LogStore + StableStore): every implementation — memory, IndexedDB, file — passes one
 * conformance suite.
 */
import type { Entry, HardState } from '../core/types.js';

/** What a member finds when it starts: everything that was durably persisted before. */
export interface PersistedState {
  readonly hardState: HardState;
  /** Consecutive entries, starting at index 1 (snapshots arrive with the compaction issue). */
  readonly entries: readonly Entry[];
}

/** One durable write: hard state and/or entries, applied atomically. */
export interface PersistUpdate {
  readonly hardState: HardState | null;
  /**
   * Consecutive entries. `entries[0].index` must be at most lastIndex + 1; any stored entries at
   * or after it are replaced (a follower's conflicting suffix).
   */
  readonly entries: readonly Entry[];
}

export interface Storage {
  /** Reads back what was durably persisted. Called once, before any `persist`. */
  load(): Promise<PersistedState>;
  /** Resolves only once the update is durable: a member acts on it (votes, acks) right after. */
  persist(update: PersistUpdate): Promise<void>;
  /** Releases resources. Pending writes either complete or are lost as in a crash. */
  close(): Promise<void>;
}
