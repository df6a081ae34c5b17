/**
 * Options of one Raft member, with the limits that bound every queue and batch. All durations are
 * in ticks; the driver decides how long a tick is.
 */
import { assert } from './errors.js';
import type { Random } from './random.js';
import type { MemberId } from './types.js';

/**
 * Deliberate bugs the simulator uses to prove that its checkers can fail. Never set outside tests.
 * - `stale-read`: linearizable reads are served locally, without ReadIndex.
 * - `commit-old-term`: the leader commits by counting replicas of older-term entries (figure 8).
 * - `double-vote`: a member votes again in a term in which it already voted.
 * - `concurrent-config`: a leader accepts a configuration change while another is uncommitted.
 */
export type CoreBug = 'stale-read' | 'commit-old-term' | 'double-vote' | 'concurrent-config';
export const CORE_BUGS: readonly CoreBug[] = [
  'stale-read',
  'commit-old-term',
  'double-vote',
  'concurrent-config',
];

export interface RaftOptions {
  readonly id: MemberId;
  readonly random: Random;
  /** Election timeout is drawn from [min, max) ticks at every reset. Default 10..20. */
  readonly electionTimeoutTicksMin?: number;
  readonly electionTimeoutTicksMax?: number;
  /** Default 1 tick. Must be well below the election timeout. */
  readonly heartbeatIntervalTicks?: number;
  /** Pre-vote (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** A leader that has not heard from a quorum within an election timeout steps down. Default true. */
  readonly checkQuorum?: boolean;
  /**
   * Fraction by which members' clocks may run at different rates, e.g. 0.1 = 10 %. Lease reads
   * shorten the lease by this much. Default 0.1.
   */
  readonly clockDriftMax?: number;
  /** Limits (TigerBeetle: put a limit on everything). */
  readonly appendEntriesMax?: number;
  /**
   * Entry bytes per append (the first entry always goes). Default 128 KiB: with the largest
   * command (192 KiB) a frame still fits one WebRTC data-channel message (256 KiB).
   */
  readonly appendBytesMax?: number;
  readonly inflightAppendsMax?: number;
  /**
   * Appends in flight to a learner. Default 1: a learner is on no commit path, so under load it
   * gets one batch per round trip instead of a stream of small appends, and its writes take less
   * of a disk and a CPU its voters share (25 tabs on one machine write to one IndexedDB backend).
   */
  readonly learnerInflightAppendsMax?: number;
  /**
   * A learner that is nearly caught up gets new entries with the heartbeats, at most once a
   * heartbeat interval, rather than as they come: its writes then take little of the disk and
   * CPU its voters share (tabs on one machine write to one IndexedDB backend), at the cost of a
   * heartbeat interval of lag. One far behind (more than one append's worth) is streamed to.
   * Default true.
   */
  readonly paceLearners?: boolean;
  /**
   * A learner that holds every entry and knows the commit gets a heartbeat only every this many
   * ticks, not every heartbeat interval: it never votes, so nothing waits for its answer, and in
   * a room of 5 voters and 20 learners the learners' heartbeats and answers were most of an idle
   * cluster's traffic. It still hears its leader well within an election timeout (the value is
   * capped at half the shortest one), and a new entry is sent at the next interval as before.
   * Default 5 (250 ms at the demo's 50 ms tick).
   */
  readonly learnerIdleHeartbeatTicks?: number;
  /**
   * Paced learners served at one heartbeat, at most: with more learners than this, they take
   * turns, each served every ceil(learners / this) heartbeats (at most every half the shortest
   * election timeout, so it still hears its leader in time). A paced learner's turn brings what
   * it lacks as an append at once, not as a heartbeat whose answer then asks for the append.
   * Every learner's batch at every heartbeat made bursts that the voters' writes queued behind:
   * on 2 cores, 20 learners at once tripled a 25-tab room's commit p50 (10–14 → 22–45 ms), while
   * 8 cost a 13-tab room little and taking turns would have doubled their lag. Default 10.
   */
  readonly learnerBatchesPerHeartbeat?: number;
  readonly uncommittedEntriesMax?: number;
  readonly pendingReadsMax?: number;
  /**
   * Compaction: ask the driver for a snapshot once this many entries (or bytes of entry data)
   * were applied since the last one. Defaults 10,000 entries, 8 MiB.
   */
  readonly snapshotEntriesThreshold?: number;
  readonly snapshotBytesThreshold?: number;
  /** Entries kept below a snapshot so slow followers can catch up without one. Default 1,000. */
  readonly compactionTailEntries?: number;
  /** Bytes per InstallSnapshot chunk. Default 128 KiB (a chunk's frame fits one data-channel message). */
  readonly snapshotChunkBytes?: number;
  /** Largest snapshot a follower accepts. Default 256 MiB. */
  readonly snapshotBytesMax?: number;
  /** Test-only deliberate bugs; see CoreBug. */
  readonly bugs?: readonly CoreBug[];
}

export type ResolvedRaftOptions = Required<RaftOptions>;

export const RAFT_DEFAULTS = {
  electionTimeoutTicksMin: 10,
  electionTimeoutTicksMax: 20,
  heartbeatIntervalTicks: 1,
  preVote: true,
  checkQuorum: true,
  clockDriftMax: 0.1,
  appendEntriesMax: 256,
  appendBytesMax: 128 * 1024,
  inflightAppendsMax: 64,
  learnerInflightAppendsMax: 1,
  paceLearners: true,
  learnerIdleHeartbeatTicks: 5,
  learnerBatchesPerHeartbeat: 10,
  uncommittedEntriesMax: 8192,
  pendingReadsMax: 4096,
  snapshotEntriesThreshold: 10_000,
  snapshotBytesThreshold: 8 * 1024 * 1024,
  compactionTailEntries: 1000,
  snapshotChunkBytes: 128 * 1024,
  snapshotBytesMax: 256 * 1024 * 1024,
  bugs: [] as readonly CoreBug[],
} as const;

export function resolveRaftOptions(options: RaftOptions): ResolvedRaftOptions {
  const resolved: ResolvedRaftOptions = { ...RAFT_DEFAULTS, ...options };
  const min = resolved.electionTimeoutTicksMin;
  assert(
    Number.isInteger(min) && min >= 3,
    `electionTimeoutTicksMin ${min} must be an integer >= 3`,
  );
  assert(
    Number.isInteger(resolved.electionTimeoutTicksMax) && resolved.electionTimeoutTicksMax > min,
    'electionTimeoutTicksMax must be an integer above electionTimeoutTicksMin',
  );
  assert(
    Number.isInteger(resolved.heartbeatIntervalTicks) &&
      resolved.heartbeatIntervalTicks >= 1 &&
      resolved.heartbeatIntervalTicks * 2 < min,
    'heartbeatIntervalTicks must be >= 1 and below half the election timeout',
  );
  assert(
    Number.isInteger(resolved.learnerIdleHeartbeatTicks) && resolved.learnerIdleHeartbeatTicks >= 1,
    'learnerIdleHeartbeatTicks must be an integer >= 1',
  );
  // Between the heartbeat interval and half the shortest election timeout: a demoted member
  // whose demotion is not yet committed may still campaign, so it must keep hearing its leader.
  const learnerIdleHeartbeatTicks = Math.max(
    resolved.heartbeatIntervalTicks,
    Math.min(resolved.learnerIdleHeartbeatTicks, Math.floor(min / 2)),
  );
  assert(
    resolved.clockDriftMax >= 0 && resolved.clockDriftMax < 0.5,
    'clockDriftMax must be in [0, 0.5)',
  );
  assert(
    typeof resolved.id === 'string' && resolved.id.length > 0,
    'id must be a non-empty string',
  );
  for (const limit of [
    'appendEntriesMax',
    'appendBytesMax',
    'inflightAppendsMax',
    'learnerInflightAppendsMax',
    'learnerBatchesPerHeartbeat',
    'uncommittedEntriesMax',
    'pendingReadsMax',
    'snapshotEntriesThreshold',
    'snapshotBytesThreshold',
    'snapshotChunkBytes',
    'snapshotBytesMax',
  ] as const) {
    assert(
      Number.isInteger(resolved[limit]) && resolved[limit] >= 1,
      `${limit} must be a positive integer`,
    );
  }
  assert(
    Number.isInteger(resolved.compactionTailEntries) && resolved.compactionTailEntries >= 0,
    'compactionTailEntries must be a non-negative integer',
  );
  return { ...resolved, learnerIdleHeartbeatTicks };
}
