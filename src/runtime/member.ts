/**
 * The driver: runs one Raft member over real effects. It is the only place that awaits. It turns
 * the core's Ready batches into I/O in the one safe order (persist, then send, then apply), owns
 * the tick timer, and turns applied entries and read states into settled client promises.
 */
import { NotLeaderError, OverloadedError, assert, describeError } from '../core/errors.js';
import { decodeConfig } from '../core/membership.js';
import { RaftNode } from '../core/raft.js';
import type { RaftInspection } from '../core/raft.js';
import type { RaftOptions } from '../core/config.js';
import type { Message } from '../core/messages.js';
import type { Random } from '../core/random.js';
import type {
  ClusterConfig,
  ConfigChange,
  Entry,
  HardState,
  MemberId,
  ProposalTicket,
  ReadMode,
  ReadState,
  Ready,
  Role,
} from '../core/types.js';
import type { StateMachine } from '../state/state-machine.js';
import type { Storage, StorageInfo } from '../storage/storage.js';
import type { Transport } from '../transport/transport.js';
import { decodeEnvelope, decodeForwarded, encodeEnvelope, encodeForwarded } from './envelope.js';
import {
  LeaderChangedError,
  MemberStoppedError,
  ProposalDroppedError,
  TimeoutError,
} from './errors.js';
import type { Scheduler, TimerHandle } from './scheduler.js';
import { TimelineControl } from './timeline/control.js';
import type { MemberTimeline, TimelineOptions } from './timeline/events.js';

/** How a read is served. `local` reads this member's applied state and may be stale. */
export type ReadConsistency = ReadMode | 'local';

export interface MemberOptions<Result, Query, QueryResult> {
  readonly id: MemberId;
  /**
   * Starts a new cluster with this configuration when storage is empty (see RaftNode.bootstrap).
   * Members started without it join when a leader adds them.
   */
  readonly bootstrap?: ClusterConfig;
  readonly storage: Storage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine<Result, Query, QueryResult>;
  readonly scheduler: Scheduler;
  /** Stamps log time into proposals (see ApplyContext.time). */
  readonly wallClock: () => number;
  readonly random: Random;
  /** Length of one core tick. Default 50 ms. */
  readonly tickMs?: number;
  /** Per-operation deadlines. Defaults 5000 ms. */
  readonly proposeTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  /** Core options other than identity and randomness. */
  readonly raft?: Omit<RaftOptions, 'id' | 'random'>;
  /**
   * Called once when the member stops by itself: a write it could not make durable (storage
   * full, database closed) or a broken invariant. The error's `cause` says which.
   */
  readonly onFailure?: (error: MemberStoppedError) => void;
  /** Records a message timeline from the start (see `Member.timeline`). Default: not recording. */
  readonly timeline?: TimelineOptions;
}

export interface MemberStatus {
  readonly id: MemberId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: MemberId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly voters: readonly MemberId[];
  readonly learners: readonly MemberId[];
  readonly snapshotIndex: number;
  readonly stopped: boolean;
  /** Why the member stopped by itself (the cause's code and message), or null. */
  readonly failure: { readonly code: string; readonly message: string } | null;
  /** What the storage reports (kind, persistence permission, its own failure), if anything. */
  readonly storage: StorageInfo | null;
  /** Times this member did not run for far longer than a tick (a frozen, throttled tab). */
  readonly pauses: PauseRecord;
}

/** The pauses a member noticed: gaps between ticks far beyond their schedule. */
export interface PauseRecord {
  readonly count: number;
  /** The latest pause: how long, and when it ended (wall clock, ms), or null if none yet. */
  readonly last: { readonly durationMs: number; readonly endedAtMs: number } | null;
  readonly longestMs: number;
}

/** What every waiting operation has: when it times out (scheduler time, ms) and how it fails. */
interface Deadline {
  readonly deadlineMs: number;
  readonly reject: (error: Error) => void;
}

interface PendingProposal<Result> extends Deadline {
  readonly term: number;
  readonly resolve: (result: Result | null) => void;
}

interface PendingForward<Result> extends Deadline {
  /** What was sent: an entry with this origin but other bytes is not this proposal. */
  readonly command: Uint8Array;
  /** The leader it was sent to. */
  readonly leaderId: MemberId | null;
  readonly resolve: (result: Result) => void;
}

interface PendingRead<QueryResult> extends Deadline {
  index: number | null;
  readonly run: () => QueryResult;
  readonly resolve: (result: QueryResult) => void;
}

const TICKS_CATCH_UP_MAX = 1000;

/**
 * A leader's replication and hand-off (TimeoutNow), and a follower's forwarded proposal: they
 * vouch for no disk.
 */
function isReplication(message: Message): boolean {
  const { type } = message;
  return (
    type === 'append' ||
    type === 'heartbeat' ||
    type === 'snapshot' ||
    type === 'forward' ||
    type === 'timeoutNow'
  );
}
/**
 * A gap between ticks this many ticks long is a pause (a frozen or throttled tab, a long GC),
 * not timer jitter: far beyond schedule, yet shorter than the shortest election timeout.
 */
const PAUSE_TICKS = 6;
/** A voter heard from within this many ticks can take leadership over at once. */
const RECENTLY_HEARD_TICKS = 4;
/** Proposals this member may have forwarded and not yet seen applied. */
const FORWARDED_PENDING_MAX = 4096;
/** Longest the driver works through Ready batches before yielding to the event loop. */
const PROCESS_SLICE_MS = 10;

export class Member<Result, Query, QueryResult> {
  private readonly core: RaftNode;
  private readonly tickMs: number;
  private readonly proposeTimeoutMs: number;
  private readonly readTimeoutMs: number;
  private readonly proposals = new Map<number, PendingProposal<Result>>();
  private readonly reads = new Map<string, PendingRead<QueryResult>>();
  /** This member's proposals forwarded to the leader, by origin (`<id>#<sequence>`). */
  private readonly forwardedProposals = new Map<string, PendingForward<Result>>();
  private forwardSequence = 0;
  /** Callers of `leaderKnown` waiting for a leader. */
  private readonly leaderWaiters = new Set<() => void>();
  /** Random per start, so origins of this incarnation never match an earlier one's. */
  private readonly incarnationTag: string;
  private readonly tracing: TimelineControl;
  private readContextNext = 0;
  private tickTimer: TimerHandle | null = null;
  private lastTickAtMs: number;
  private processScheduled = false;
  private processing = false;
  private stoppedReason: string | null = null;
  private failure: Error | null = null;
  /** The storage still marks this member's log as cut short (see PersistedState.votesWithheld). */
  private votesWithheldStored: boolean;
  private pauses: PauseRecord = { count: 0, last: null, longestMs: 0 };
  /** A Ready's write is under way: committed entries are applied as they come (receive). */
  private writing = false;
  /** ... and under a durable term and vote, so new replication may leave meanwhile too. */
  private replicateDuringWrite = false;
  private replicationFlushScheduled = false;
  /** The term and vote on disk: replication may leave before a write only under them. */
  private durableVote: { term: number; vote: MemberId | null };

  private constructor(
    private readonly options: MemberOptions<Result, Query, QueryResult>,
    core: RaftNode,
    durable: HardState,
  ) {
    this.core = core;
    this.tickMs = options.tickMs ?? 50;
    this.proposeTimeoutMs = options.proposeTimeoutMs ?? 5000;
    this.readTimeoutMs = options.readTimeoutMs ?? 5000;
    this.lastTickAtMs = options.scheduler.now();
    this.votesWithheldStored = core.status().votesWithheld;
    this.durableVote = { term: durable.term, vote: durable.vote };
    this.incarnationTag = [0, 1, 2].map(() => options.random.int(2 ** 30).toString(36)).join('');
    this.tracing = new TimelineControl(options.id, options.wallClock, () => this.core.status());
  }

  /**
   * This member's message timeline (README "Message timeline"): off until started, and free
   * while off — messages then carry no clock and nothing is recorded.
   */
  get timeline(): MemberTimeline {
    return this.tracing;
  }

  /** Loads durable state, builds the core and starts ticking and receiving. */
  static async start<R, Q, QR>(options: MemberOptions<R, Q, QR>): Promise<Member<R, Q, QR>> {
    const persisted = await options.storage.load();
    const core = new RaftNode(
      { ...options.raft, id: options.id, random: options.random },
      persisted,
    );
    if (persisted.snapshot !== null) {
      options.stateMachine.restore(persisted.snapshot.data, persisted.snapshot.meta.index);
    }
    const empty =
      persisted.entries.length === 0 &&
      persisted.snapshot === null &&
      persisted.hardState.term === 0;
    if (options.bootstrap !== undefined && empty) core.bootstrap(options.bootstrap);
    const member = new Member(options, core, persisted.hardState);
    if (options.timeline !== undefined) member.tracing.start(options.timeline, 'member started');
    options.transport.onMessage((message) => member.receive(message));
    member.scheduleTick();
    member.scheduleProcess();
    return member;
  }

  /**
   * Proposes a command; resolves with the state machine's result once it is applied here.
   * On a non-leader it rejects at once with NotLeaderError (carrying the leader hint), or with
   * `forward`, sends the command to the leader and resolves when this member applies its entry
   * (TimeoutError if it never does: retry in the same client session, which makes it safe).
   */
  propose(command: Uint8Array, options: { readonly forward?: boolean } = {}): Promise<Result> {
    if (this.stoppedReason !== null) return Promise.reject(this.stoppedError());
    this.catchUpTicks();
    if (options.forward === true && this.core.status().role !== 'leader')
      return this.forwardProposal(command);
    let ticket;
    try {
      ticket = this.core.propose(encodeEnvelope(this.options.wallClock(), command));
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.scheduleWork();
    return this.awaitApplied(ticket).then((result) => {
      assert(result !== null, 'a normal entry applied without a result');
      return result;
    });
  }

  private forwardProposal(command: Uint8Array): Promise<Result> {
    if (this.forwardedProposals.size >= FORWARDED_PENDING_MAX)
      return Promise.reject(new OverloadedError('forwarded proposals', FORWARDED_PENDING_MAX));
    // Unique across incarnations too: an old incarnation's forward may still be applied later.
    const origin = `${this.options.id}#${this.incarnationTag}#${++this.forwardSequence}`;
    try {
      this.core.forward(encodeForwarded(origin, command));
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.scheduleProcess();
    return new Promise<Result>((resolve, reject) => {
      const { leaderId } = this.core.status();
      const deadlineMs = this.deadline(this.proposeTimeoutMs);
      this.forwardedProposals.set(origin, { command, leaderId, resolve, reject, deadlineMs });
    });
  }

  /** The leader proposes what followers forwarded, stamped with its own log time. */
  private proposeForwarded(forwarded: readonly Uint8Array[]): void {
    for (const data of forwarded) {
      const tagged = decodeForwarded(data);
      if (tagged === null || tagged.origin === null) continue; // Malformed: the sender retries.
      try {
        this.core.propose(encodeEnvelope(this.options.wallClock(), tagged.command, data));
      } catch {
        // Overloaded, or handing over leadership: dropped; the follower times out and retries.
      }
    }
  }

  /** Settles once the entry of `ticket` is applied here (null result: not a command). */
  private awaitApplied(ticket: ProposalTicket): Promise<Result | null> {
    const { index, term } = ticket;
    return new Promise<Result | null>((resolve, reject) => {
      // An older proposal at this index lost its entry to another leader's: it can never apply.
      const displaced = this.proposals.get(index);
      if (displaced !== undefined) {
        assert(displaced.term < term, `two pending proposals at index ${index} in term ${term}`);
        this.proposals.delete(index); // So the map stays in deadline order.
        displaced.reject(new ProposalDroppedError(index));
      }
      const deadlineMs = this.deadline(this.proposeTimeoutMs);
      this.proposals.set(index, { term, resolve, reject, deadlineMs });
    });
  }

  /** Runs `query` on the state machine with the promised consistency (see README "Reads"). */
  read(query: Query, consistency: ReadConsistency = 'linearizable'): Promise<QueryResult> {
    if (this.stoppedReason !== null) return Promise.reject(this.stoppedError());
    const run = (): QueryResult => this.options.stateMachine.query(query);
    if (consistency === 'local') return Promise.resolve(run());
    // Unique across this member's lives: a leader may still answer a read of an earlier life
    // (queued while it confirmed leadership), and a context that life used again would take that
    // answer, whose index may be older than this read. The answer goes to the member that asked,
    // so the id need not be in it (a 256-character id would push a context past the wire limit).
    const context = `${this.incarnationTag}:${this.readContextNext++}`;
    this.catchUpTicks();
    try {
      this.core.readIndex(context, consistency);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.scheduleProcess();
    return new Promise<QueryResult>((resolve, reject) => {
      const deadlineMs = this.deadline(this.readTimeoutMs);
      this.reads.set(context, { index: null, run, resolve, reject, deadlineMs });
    });
  }

  /**
   * Hands leadership to `to` (TimeoutNow once it has caught up; with `leaving`, right behind the
   * append that catches it up, as this member will not wait for the answer). Only the leader may.
   */
  transferLeadership(to: MemberId, options: { readonly leaving?: boolean } = {}): void {
    this.core.transferLeader(to, options);
    // Sent at once even while a write is under way: a leaving tab may not outlive that write.
    this.scheduleWork();
  }

  /**
   * Proposes one membership change (add a learner, promote, demote, remove); resolves once it is
   * committed and applied here. One at a time: a second change before the first commits is
   * refused with ConfigChangeInProgressError.
   */
  changeMembership(change: ConfigChange): Promise<void> {
    if (this.stoppedReason !== null) return Promise.reject(this.stoppedError());
    this.catchUpTicks();
    let ticket: ProposalTicket;
    try {
      ticket = this.core.proposeConfChange(change);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.scheduleWork();
    return this.awaitApplied(ticket).then(() => undefined);
  }

  /**
   * Starts a new cluster with `config` if this member has never been part of one: no entry, no
   * snapshot, no term (a member that heard from a leader, even with an empty log, may be joining
   * a cluster and must not start another). Returns whether it did. For arbiters that decide after
   * the member started (a signaling server after its restart, a Web Lock when offline).
   */
  bootstrap(config: ClusterConfig): boolean {
    if (this.stoppedReason !== null) return false;
    const { lastIndex, snapshotIndex, term } = this.core.status();
    if (lastIndex !== 0 || snapshotIndex !== 0 || term !== 0) return false;
    this.core.bootstrap(config);
    this.scheduleProcess();
    return true;
  }

  /**
   * If leading, hands leadership to the voter best placed to take it (heard from lately, the
   * longest log), before this member goes away or is frozen. Returns the successor, or null when
   * not leading or nobody can take over.
   */
  handOffLeadership(): MemberId | null {
    if (this.stoppedReason !== null) return null;
    this.catchUpTicks();
    const status = this.core.status();
    if (status.role !== 'leader') return null;
    // Pagehide, then the page's close: one hand-off, not a second one to a tie.
    if (status.transferee !== null) return status.transferee;
    const matches = this.core.matchIndexes();
    const silence = this.core.ticksSinceHeard();
    const successor = status.config.voters
      .filter(
        (id) => id !== this.options.id && (silence.get(id) ?? Infinity) < RECENTLY_HEARD_TICKS,
      )
      .sort((a, b) => (matches.get(b) ?? 0) - (matches.get(a) ?? 0))[0];
    if (successor === undefined) return null;
    this.transferLeadership(successor, { leaving: true });
    return successor;
  }

  /** Starts an election now instead of waiting for the election timeout. */
  campaign(): void {
    this.core.campaign();
    this.scheduleProcess();
  }

  status(): MemberStatus {
    const core = this.core.status();
    return {
      id: this.options.id,
      role: core.role,
      term: core.term,
      leaderId: core.leaderId,
      commitIndex: core.commit,
      appliedIndex: this.options.stateMachine.appliedIndex,
      lastIndex: core.lastIndex,
      voters: core.config.voters,
      learners: core.config.learners,
      snapshotIndex: core.snapshotIndex,
      stopped: this.stoppedReason !== null,
      failure: this.failure === null ? null : describeError(this.failure),
      storage: this.options.storage.info?.() ?? null,
      pauses: this.pauses,
    };
  }

  /** On the leader, what each member is known to hold (see RaftNode.matchIndexes). */
  matchIndexes(): ReadonlyMap<MemberId, number> {
    return this.core.matchIndexes();
  }

  /** On the leader, milliseconds since each other member was last heard from. */
  silenceMs(): ReadonlyMap<MemberId, number> {
    const silence = new Map<MemberId, number>();
    for (const [id, ticks] of this.core.ticksSinceHeard()) silence.set(id, ticks * this.tickMs);
    return silence;
  }

  /** A read-only view of the core's log and state, for invariant checks in tests. */
  inspect(): RaftInspection {
    return this.core.inspect();
  }

  /** The core's counters of dropped messages, by reason. */
  dropCounts(): Readonly<Record<string, number>> {
    return this.core.dropCounts();
  }

  /**
   * Stops at once, as a crash would: no more ticks, sends or applies; pending operations fail with
   * MemberStoppedError (outcome unknown). Closes transport and storage.
   */
  async stop(reason = 'stopped'): Promise<void> {
    this.halt(reason);
    this.options.transport.close();
    await this.options.storage.close();
  }

  /**
   * Forwarded proposals went to a leader that is one no more: they are retried now (the client
   * session makes that safe), not after their timeout — failover takes an election, not 5 s.
   */
  private leaderChanged(leaderId: MemberId | null): void {
    for (const [origin, pending] of this.forwardedProposals) {
      if (pending.leaderId === leaderId) continue;
      this.forwardedProposals.delete(origin);
      pending.reject(new LeaderChangedError(leaderId));
    }
    if (leaderId === null) return;
    for (const wake of [...this.leaderWaiters]) wake();
  }

  /**
   * Resolves once this member knows a leader (at once if it does), or after `maxMs`, or when it
   * stops: a client retrying after a failover goes as soon as the new leader is known.
   */
  leaderKnown(maxMs: number): Promise<void> {
    if (this.stoppedReason !== null || this.core.status().leaderId !== null)
      return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.leaderWaiters.delete(wake);
        this.options.scheduler.clearTimeout(timer);
        resolve();
      };
      const timer = this.options.scheduler.setTimeout(wake, maxMs);
      this.leaderWaiters.add(wake);
    });
  }

  /** Stops for good on `cause` (a storage failure, a broken invariant); the host restarts it. */
  private failWith(cause: Error): void {
    if (this.stoppedReason !== null) return; // Stopped already: nothing left to fail, or restart.
    this.halt(`failed: ${cause.message}`, cause);
    void this.options.storage.close().catch(() => undefined);
    this.options.transport.close();
    this.options.onFailure?.(this.stoppedError());
  }

  private halt(reason: string, cause?: Error): void {
    if (this.stoppedReason !== null) return;
    this.stoppedReason = reason;
    this.tracing.stop(`member stopped: ${reason}`);
    this.failure = cause ?? null;
    if (this.tickTimer !== null) this.options.scheduler.clearTimeout(this.tickTimer);
    const error = this.stoppedError();
    for (const pending of this.proposals.values()) pending.reject(error);
    for (const pending of this.reads.values()) pending.reject(error);
    for (const pending of this.forwardedProposals.values()) pending.reject(error);
    this.forwardedProposals.clear();
    for (const wake of [...this.leaderWaiters]) wake();
    this.proposals.clear();
    this.reads.clear();
  }

  private stoppedError(): MemberStoppedError {
    return new MemberStoppedError(this.stoppedReason ?? 'stopped', this.failure ?? undefined);
  }

  /**
   * When an operation begun now times out. Deadlines are checked on every tick rather than with
   * a timer each: a timer set and cleared per write was a tenth of a busy leader's time. So an
   * operation fails up to a tick after its timeout.
   */
  private deadline(timeoutMs: number): number {
    return this.options.scheduler.now() + timeoutMs;
  }

  /** Fails operations whose deadline has passed. Each map is in deadline order (one timeout). */
  private expireOverdue(): void {
    const now = this.options.scheduler.now();
    const expire = <K, P extends Deadline>(pending: Map<K, P>, error: (key: K) => Error) => {
      for (const [key, operation] of pending) {
        if (operation.deadlineMs > now) break;
        pending.delete(key);
        operation.reject(error(key));
      }
    };
    expire(
      this.proposals,
      (index) => new TimeoutError(`proposal at index ${index}`, this.proposeTimeoutMs),
    );
    expire(
      this.forwardedProposals,
      () => new TimeoutError('forwarded proposal', this.proposeTimeoutMs),
    );
    expire(this.reads, () => new TimeoutError('read', this.readTimeoutMs));
  }

  private receive(message: Message): void {
    if (this.stoppedReason !== null) return;
    this.catchUpTicks();
    this.tracing.active?.received(message);
    this.core.step(message);
    if (this.writing) this.apply(this.core.takeCommittedDuringWrite());
    this.scheduleWork();
  }

  /**
   * Wakes the driver: after the write under way, or — for a leader's replication — at once,
   * once per turn of the event loop however many proposals arrived in it.
   */
  private scheduleWork(): void {
    this.scheduleProcess();
    if (!this.writing || !this.replicateDuringWrite || this.replicationFlushScheduled) return;
    this.replicationFlushScheduled = true;
    queueMicrotask(() => {
      this.replicationFlushScheduled = false;
      if (!this.writing || !this.replicateDuringWrite || this.stoppedReason !== null) return;
      const messages = this.core.takeReplicationDuringWrite();
      if (messages.length > 0) this.send(messages);
    });
  }

  /**
   * Ticks on a timer, catching up on ticks a frozen or throttled tab missed, so a paused leader
   * sees its lease expire instead of trusting it (TESTING.md 12).
   */
  private scheduleTick(): void {
    this.tickTimer = this.options.scheduler.setTimeout(() => {
      if (this.stoppedReason !== null) return;
      // A storage that lost its medium with no write under way (its database closed by the
      // browser) stops the member now: a voter that cannot write is only counted, never heard.
      const lost = this.processing ? null : (this.options.storage.failed?.() ?? null);
      if (lost !== null) return this.failWith(lost);
      this.catchUpTicks();
      this.expireOverdue();
      this.scheduleTick();
    }, this.tickMs);
  }

  /**
   * Gives the core every tick that is due by the clock. Called by the timer and before every
   * input: after a freeze, a queued read may run before the late timer does, and it must see
   * the lease as expired.
   */
  private catchUpTicks(): void {
    const now = this.options.scheduler.now();
    const due = Math.floor((now - this.lastTickAtMs) / this.tickMs);
    if (due <= 0) return;
    if (due >= PAUSE_TICKS) this.notePause(now - this.lastTickAtMs);
    const ticks = Math.min(due, TICKS_CATCH_UP_MAX);
    this.lastTickAtMs = ticks === due ? this.lastTickAtMs + due * this.tickMs : now;
    for (let i = 0; i < ticks; i++) this.core.tick();
    this.scheduleWork();
  }

  /**
   * Only recorded: safety needs nothing more, as the ticks catchUpTicks gives expire a paused
   * leader's lease, and check-quorum steps it down, before it answers anything.
   */
  private notePause(durationMs: number): void {
    const { count, longestMs } = this.pauses;
    this.pauses = {
      count: count + 1,
      last: { durationMs, endedAtMs: this.options.wallClock() },
      longestMs: Math.max(longestMs, durationMs),
    };
  }

  private scheduleProcess(): void {
    if (this.processScheduled || this.processing || this.stoppedReason !== null) return;
    this.processScheduled = true;
    queueMicrotask(() => {
      this.processScheduled = false;
      void this.process();
    });
  }

  /** Handles Ready batches one at a time until the core has nothing more to say. */
  private async process(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      let sliceStartMs = this.options.scheduler.now();
      while (this.stoppedReason === null && this.core.hasReady()) {
        if (this.options.scheduler.now() - sliceStartMs >= PROCESS_SLICE_MS) {
          // A long backlog (a restarted member applying its log) must not starve this member's
          // own timers and inbox: give the event loop a turn, as TigerBeetle runs at its own pace.
          await new Promise<void>((resolve) => this.options.scheduler.setTimeout(resolve, 0));
          sliceStartMs = this.options.scheduler.now();
          continue;
        }
        const ready = this.core.ready();
        const { hardState, snapshot, entries } = ready;
        if (this.tracing.active !== null) this.traceReady(snapshot);
        if (ready.softState !== null) this.leaderChanged(ready.softState.leaderId);
        // Restoring first validates the snapshot: bytes that do not decode never reach storage.
        if (snapshot !== null)
          this.options.stateMachine.restore(snapshot.data, snapshot.meta.index);
        const sameTerm =
          hardState === null ||
          (hardState.term === this.durableVote.term && hardState.vote === this.durableVote.vote);
        // A new commit index alone is not written: nothing depends on its being durable (it is
        // learnt again from the leader), and a write per commit would stand between every commit
        // and its apply. It reaches the disk with the next entries or the next term or vote.
        const persisting = snapshot !== null || entries.length > 0 || !sameTerm;
        // Replication leaves while the leader's own write is under way (Raft thesis 10.2.1):
        // the core counts the leader's copy toward a commit only once it is durable, so a commit
        // waits for the slower of the two, not for both one after the other. Everything that
        // vouches for this member's disk (votes, acknowledgements) waits for the write, and so
        // does everything while a new term or vote is not yet durable: a leader that crashed
        // before its term reached its disk could win that term again and write other entries.
        const early = !persisting
          ? ready.messages
          : sameTerm
            ? ready.messages.filter(isReplication)
            : [];
        if (early.length > 0) this.send(early);
        // Committed entries are durable on a quorum: they are applied now, and those that become
        // committed while this write is under way are applied as their acknowledgements arrive
        // (see receive), not after the write.
        this.apply(ready.committedEntries);
        if (persisting) {
          this.writing = true;
          this.replicateDuringWrite = sameTerm;
          try {
            await this.options.storage.persist({ hardState, snapshot, entries });
          } finally {
            this.writing = false;
          }
          if (this.stoppedReason !== null) return;
          if (hardState !== null) this.durableVote = { term: hardState.term, vote: hardState.vote };
          const late = sameTerm
            ? ready.messages.filter((message) => !isReplication(message))
            : ready.messages;
          if (late.length > 0) this.send(late);
        }
        this.trackReads(ready.readStates, ready.droppedReads);
        if (ready.snapshotWanted) await this.takeSnapshot();
        if (this.stoppedReason !== null) return;
        this.core.advance(ready);
        if (ready.forwarded.length > 0) this.proposeForwarded(ready.forwarded);
        if (this.votesWithheldStored && !this.core.status().votesWithheld) {
          // Caught up with a leader after a torn tail: the storage may forget the cut.
          this.votesWithheldStored = false;
          await this.options.storage.releaseVotes?.();
        }
      }
    } catch (error) {
      // A write we cannot make durable, or a broken invariant: continuing could lose acknowledged
      // data, so this member stops and the cluster carries on without it. Nothing it wrote and
      // acknowledged is lost: a failed write was never acknowledged.
      this.failWith(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.processing = false;
    }
    if (this.stoppedReason === null && this.core.hasReady()) this.scheduleProcess();
  }

  /**
   * Compaction: snapshot the state machine where it stands, make the snapshot durable, then let
   * the core drop the log below it. The snapshot is taken synchronously, so it is exactly the
   * state at `appliedIndex`.
   */
  private async takeSnapshot(): Promise<void> {
    const machine = this.options.stateMachine;
    const plan = this.core.planSnapshot(machine.appliedIndex);
    if (plan === null) return;
    const { meta, compactThrough } = plan;
    const snapshot = { meta, data: machine.snapshot() };
    await this.options.storage.compact(snapshot, compactThrough);
    if (this.stoppedReason === null) this.core.compact(snapshot, compactThrough);
    this.tracing.active?.record({ kind: 'snapshot', action: 'taken', index: meta.index });
  }

  private apply(entries: readonly Entry[]): void {
    const machine = this.options.stateMachine;
    for (const entry of entries) {
      assert(
        entry.index === machine.appliedIndex + 1,
        () => `apply ${entry.index} after ${machine.appliedIndex}`,
      );
      if (entry.kind === 'config' && this.tracing.active !== null) this.traceMembership(entry);
      const envelope = entry.kind === 'normal' ? decodeEnvelope(entry.data) : null;
      const context = { index: entry.index, term: entry.term, time: envelope?.timeMs ?? 0 };
      let result: Result | null = null;
      if (envelope === null) machine.applyNoop(context);
      else result = machine.apply(envelope.command, context);
      const forwarded =
        envelope?.origin == null ? undefined : this.forwardedProposals.get(envelope.origin);
      if (
        forwarded !== undefined &&
        result !== null &&
        sameBytes(forwarded.command, envelope!.command)
      ) {
        this.forwardedProposals.delete(envelope!.origin!);
        forwarded.resolve(result);
      }
      const pending = this.proposals.get(entry.index);
      if (pending === undefined) continue;
      this.proposals.delete(entry.index);
      if (pending.term === entry.term) {
        pending.resolve(result);
      } else {
        pending.reject(new ProposalDroppedError(entry.index));
      }
    }
    this.serveReads();
  }

  /** Hands the transport a batch, each traced message stamped with its clock when recording. */
  private send(messages: readonly Message[]): void {
    const recorder = this.tracing.active;
    this.options.transport.send(recorder === null ? messages : recorder.stamp(messages));
  }

  /** Before a Ready's messages leave: elections and commits, then an installed snapshot. */
  private traceReady(snapshot: Ready['snapshot']): void {
    const recorder = this.tracing.active!;
    recorder.observe(this.core.status());
    if (snapshot !== null)
      recorder.record({ kind: 'snapshot', action: 'installed', index: snapshot.meta.index });
  }

  private traceMembership(entry: Entry): void {
    const config = decodeConfig(entry.data);
    if (config === null) return;
    const { voters, learners } = config;
    this.tracing.active!.record({ kind: 'membership', index: entry.index, voters, learners });
  }

  private trackReads(readStates: readonly ReadState[], dropped: readonly string[]): void {
    for (const state of readStates) {
      const pending = this.reads.get(state.context);
      if (pending !== undefined) pending.index = state.index;
    }
    for (const context of dropped) {
      const pending = this.reads.get(context);
      if (pending === undefined) continue;
      this.reads.delete(context);
      const leaderId = this.core.status().leaderId;
      pending.reject(new NotLeaderError(leaderId));
    }
    if (readStates.length > 0) this.serveReads();
  }

  private serveReads(): void {
    const applied = this.options.stateMachine.appliedIndex;
    for (const [context, pending] of this.reads) {
      if (pending.index === null || pending.index > applied) continue;
      this.reads.delete(context);
      pending.resolve(pending.run());
    }
  }
}

export type { Ready };

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
