/**
 * The values the Raft core reads and writes: log entries, hard state, roles and the Ready batch
 * that hands all I/O to the driver. Everything here is plain data, so it can be persisted,
 * sent, compared and printed without help.
 */
import type { Message } from './messages.js';

/** A member's stable id. It outlives tabs and restarts; a member whose storage is wiped gets a new one. */
export type MemberId = string;

/**
 * `normal` carries application data; `noop` is the empty entry each new leader appends so that it
 * can commit an entry of its own term (Raft §5.4.2, §8); `config` carries a whole new cluster
 * configuration, in force from the moment it is appended (Raft thesis §4.1).
 */
export type EntryKind = 'normal' | 'noop' | 'config';

/**
 * Who is in the cluster. Voters elect and commit; learners receive the log but count for
 * nothing. An empty configuration means "not bootstrapped yet": such a member never campaigns.
 */
export interface ClusterConfig {
  readonly voters: readonly MemberId[];
  readonly learners: readonly MemberId[];
}

export const EMPTY_CONFIG: ClusterConfig = Object.freeze({ voters: [], learners: [] });

/** A single-server membership change (Raft thesis §4.2). */
export type ConfigChange =
  | { readonly type: 'addLearner'; readonly member: MemberId }
  | { readonly type: 'promote'; readonly member: MemberId }
  | { readonly type: 'demote'; readonly member: MemberId }
  | { readonly type: 'remove'; readonly member: MemberId };

/** Where a snapshot sits in the log, and the configuration in force there. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly config: ClusterConfig;
}

/** The state machine's state at `meta.index`, as opaque bytes. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** One log entry. Entries are immutable once created: never mutate `data`. */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/** What must be durable before a member sends a message that depends on it (Raft figure 2). */
export interface HardState {
  readonly term: number;
  readonly vote: MemberId | null;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state worth showing: it changes often and is never persisted. */
export interface SoftState {
  readonly role: Role;
  readonly leaderId: MemberId | null;
}

/**
 * A read that may be served once the member's applied index reaches `index`. Produced by
 * `readIndex(context)`; the `context` is the caller's id for the read.
 */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/**
 * One batch of work for the driver. The driver must, in this order:
 * 1. persist `hardState` (when present), `snapshot` (when present: the log then restarts empty
 *    after it) and `entries` durably, as one atomic write — `entries[0].index` may be at or below
 *    the last stored index, in which case the stored suffix from there is replaced;
 * 2. only then send `messages` (a vote or an append acknowledgement promises durability);
 * 3. restore the state machine from `snapshot` (when present), apply `committedEntries` in order
 *    and serve `readStates` once applied reaches their index;
 * 4. when `snapshotWanted`, take a snapshot of the state machine and hand it to `compact` (after
 *    storage has it);
 * 5. call `advance(ready)`.
 * `droppedReads` are contexts of reads that will never complete (leadership was lost); fail them.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  /** A snapshot received from the leader, to install. */
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  readonly droppedReads: readonly string[];
  /**
   * Leader only: commands followers forwarded (`forward`). The driver proposes each as its own
   * (stamped as the leader's); one it cannot take is dropped, and the follower retries.
   */
  readonly forwarded: readonly Uint8Array[];
  /** The log has grown past the compaction threshold: snapshot the state machine once applied. */
  readonly snapshotWanted: boolean;
}

/** A proposal's place in the log: it is committed iff the entry at `index` has `term`. */
export interface ProposalTicket {
  readonly index: number;
  readonly term: number;
}

/** How a read is confirmed. See README "Reads". */
export type ReadMode = 'linearizable' | 'lease';
