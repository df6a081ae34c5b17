/**
 * The Raft messages members exchange. Every message names its sender, recipient and the sender's
 * term; the core checks the term of every message before looking at anything else.
 */
import type { Entry, MemberId, SnapshotMeta } from './types.js';

interface Envelope {
  readonly from: MemberId;
  readonly to: MemberId;
  /** The sender's current term; for (pre)votes, the term being campaigned for. */
  readonly term: number;
}

/** A pre-candidate asks whether it could win, without disturbing anyone's term (thesis §9.6). */
export interface PreVoteRequest extends Envelope {
  readonly type: 'preVote';
  readonly lastIndex: number;
  readonly lastTerm: number;
}

export interface VoteRequest extends Envelope {
  readonly type: 'vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** True when sent because of TimeoutNow: voters then ignore the leader lease (thesis §3.10). */
  readonly transfer: boolean;
}

/** Reply to `preVote` or `vote`; `term` echoes the request's term when granted. */
export interface VoteResponse extends Envelope {
  readonly type: 'preVoteResponse' | 'voteResponse';
  readonly reject: boolean;
}

export interface AppendRequest extends Envelope {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends Envelope {
  readonly type: 'appendResponse';
  readonly reject: boolean;
  /**
   * Accepted: the last index the request carried (prevIndex + entries.length), which is what the
   * follower now provably matches. Rejected: the request's prevIndex.
   */
  readonly index: number;
  /** On reject, the follower's hint for fast backtracking: probe at or below (hintIndex, hintTerm). */
  readonly hintIndex: number;
  readonly hintTerm: number;
}

export interface HeartbeatRequest extends Envelope {
  readonly type: 'heartbeat';
  /** min(leader commit, follower match): a follower never learns a commit beyond what it holds. */
  readonly commit: number;
  /** The leader's newest pending read sequence number; acks confirm every read up to it. */
  readonly readSeq: number;
  /** The leader's tick count when it sent this; echoed back to extend the lease. */
  readonly sentTick: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeatResponse';
  readonly readSeq: number;
  readonly sentTick: number;
}

/** The leader tells a caught-up member to campaign now (leadership transfer, thesis §3.10). */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeoutNow';
}

/** A follower forwards a read to its leader. */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'readIndex';
  readonly context: string;
}

export interface ReadIndexResponse extends Envelope {
  readonly type: 'readIndexResponse';
  readonly context: string;
  readonly reject: boolean;
  readonly index: number;
}

/**
 * One chunk of a snapshot for a follower too far behind (InstallSnapshot, Raft figure 13). Chunks
 * go one at a time; a follower that lost its place answers with the offset it expects.
 */
export interface SnapshotChunk extends Envelope {
  readonly type: 'snapshot';
  readonly meta: SnapshotMeta;
  /** Total snapshot size in bytes. */
  readonly size: number;
  readonly offset: number;
  readonly data: Uint8Array;
}

export interface SnapshotResponse extends Envelope {
  readonly type: 'snapshotResponse';
  /** The snapshot (by index) this answers for. */
  readonly index: number;
  /** Bytes received so far; equal to the size once the snapshot is installed. */
  readonly offset: number;
}

/**
 * A command a follower forwards to its leader (etcd's MsgProp forwarding): the leader proposes it
 * as its own. There is no answer: the follower learns the outcome when it applies the entry.
 */
export interface ForwardedProposal extends Envelope {
  readonly type: 'forward';
  readonly data: Uint8Array;
}

export type Message =
  | ForwardedProposal
  | PreVoteRequest
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse
  | SnapshotChunk
  | SnapshotResponse;

export type MessageType = Message['type'];
