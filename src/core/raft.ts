/**
 * The Raft algorithm as a value you step (the etcd-io/raft shape). Inputs: `step(message)`,
 * `tick()`, `propose(data)`, `readIndex(context)`, `transferLeader(id)`,
 * `proposeConfChange(change)`, `bootstrap(config)`, `campaign()`.
 * Output: a `Ready` batch of hard state and entries to persist, messages to send, entries to apply
 * and reads to serve, acknowledged with `advance()`. No clocks, no randomness but the injected
 * one, no awaits, no I/O: the simulator replays it exactly from a seed.
 */
import { resolveRaftOptions } from './config.js';
import type { CoreBug, RaftOptions, ResolvedRaftOptions } from './config.js';
import {
  NotLeaderError,
  LeadershipTransferError,
  OverloadedError,
  UnknownMemberError,
  assert,
} from './errors.js';
import { RaftLog } from './log.js';
import {
  ConfigChangeInProgressError,
  InvalidConfigChangeError,
  applyConfigChange,
  encodeConfig,
  isValidConfig,
  membersOf,
  normalize,
} from './membership.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import type {
  AppendRequest,
  ForwardedProposal,
  AppendResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  Message,
  PreVoteRequest,
  ReadIndexRequest,
  ReadIndexResponse,
  SnapshotChunk,
  SnapshotResponse,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from './messages.js';
import { validateMessage } from './validate.js';
import { Progress } from './progress.js';
import { majority, quorumValue, tallyVotes } from './quorum.js';
import { ReadQueue } from './reads.js';
import type { QueuedRead } from './reads.js';
import { EMPTY_HARD_STATE } from './types.js';
import type {
  ClusterConfig,
  ConfigChange,
  Entry,
  HardState,
  Snapshot,
  SnapshotMeta,
  MemberId,
  ProposalTicket,
  ReadMode,
  ReadState,
  Ready,
  Role,
  SoftState,
} from './types.js';

/** What a member restarts from: whatever storage held durably. */
export interface RaftStartState {
  readonly hardState: HardState;
  /** The newest snapshot, if any; `entries` then continue from at or below its index. */
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  /**
   * Storage cut this member's log short on recovery (a torn or corrupt tail): it may have
   * acknowledged entries it no longer holds, which a leader counted towards commit. Until it
   * caught up with a leader it neither votes nor campaigns (TESTING.md 18).
   */
  readonly votesWithheld?: boolean;
}

export interface RaftStatus {
  readonly id: MemberId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: MemberId | null;
  readonly commit: number;
  readonly lastIndex: number;
  /** The configuration in force (the newest in the log, committed or not). */
  readonly config: ClusterConfig;
  /** Index of the newest snapshot (0 if none). */
  readonly snapshotIndex: number;
  /** True while a member whose log was cut short on recovery may not vote (see RaftStartState). */
  readonly votesWithheld: boolean;
  /** On a leader handing over: the member it hands leadership to; else null. */
  readonly transferee: MemberId | null;
}

/** The core's state laid bare for invariant checks; the log view must not be held across steps. */
export interface RaftInspection extends RaftStatus {
  readonly vote: MemberId | null;
  readonly stable: number;
  readonly applying: number;
  /** Index of the first entry in `entries`. */
  readonly firstIndex: number;
  readonly entries: readonly Entry[];
}

type CampaignKind = 'preElection' | 'election' | 'transfer';

/** Committed entries handed out per Ready (a limit, so one Ready never grows without bound). */
const APPLY_BATCH_MAX = 1024;

export class RaftNode {
  private readonly options: ResolvedRaftOptions;
  private readonly id: MemberId;
  private readonly log: RaftLog;
  private readonly bugs: ReadonlySet<CoreBug>;

  private role: Role = 'follower';
  private term: number;
  private vote: MemberId | null;
  /** See RaftStartState.votesWithheld. */
  private votesWithheld: boolean;
  private leaderId: MemberId | null = null;

  /** Ticks since the election timer was reset; compared to `electionTimeout` (randomized). */
  private electionElapsed = 0;
  private electionTimeout = 0;
  private heartbeatElapsed = 0;
  /** Heartbeats this leader sent, for the learners' turns (learnerBatchesPerHeartbeat). */
  private heartbeatRound = 0;
  /**
   * Ticks since a leader last proved itself alive to us (or since boot). While below the minimum
   * election timeout we refuse to vote (check-quorum), which keeps leader leases sound even for
   * a member that just restarted and forgot which leader it heard.
   */
  private leaderContactElapsed = 0;
  /** Ticks the leader has been alive, for lease bookkeeping. */
  private tickCount = 0;

  private votes = new Map<MemberId, boolean>();
  private progress = new Map<MemberId, Progress>();
  private transferee: MemberId | null = null;
  /** Set once this leader sent TimeoutNow: another member may now win without waiting out a lease. */
  private leaseRevoked = false;
  private reads: ReadQueue;
  private readonly forwardedReads = new Set<string>();
  /** The newest snapshot, kept to send to followers that need compacted entries. */
  private snapshot: Snapshot | null;
  private readonly receiver: SnapshotReceiver;
  /** A snapshot received from the leader, waiting to go out in the next Ready. */
  private snapshotToInstall: Snapshot | null = null;

  private pendingAppendBroadcast = false;
  private pendingHeartbeatBroadcast = false;
  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private droppedReads: string[] = [];
  /** Commands followers forwarded, for the driver to propose (leader only). */
  private forwarded: Uint8Array[] = [];
  private lastHardState: HardState;
  private lastSoftState: SoftState;
  private outstanding: Ready | null = null;
  private readonly drops = new Map<string, number>();

  constructor(options: RaftOptions, start: RaftStartState) {
    this.options = resolveRaftOptions(options);
    this.id = options.id;
    this.bugs = new Set(this.options.bugs);
    this.log = new RaftLog(start.snapshot?.meta ?? null, start.entries, start.hardState.commit);
    this.snapshot = start.snapshot;
    this.receiver = new SnapshotReceiver(this.options.snapshotBytesMax);
    this.term = start.hardState.term;
    this.vote = start.hardState.vote;
    // A lone voter has nobody to elect without it: withholding would only stop it for good.
    const voters = this.log.config().voters;
    const alone = voters.length === 1 && voters[0] === this.id;
    this.votesWithheld = (start.votesWithheld ?? false) && !alone;
    this.reads = new ReadQueue(this.options.pendingReadsMax);
    this.lastHardState = {
      ...EMPTY_HARD_STATE,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
    };
    this.lastSoftState = { role: this.role, leaderId: this.leaderId };
    this.resetElectionTimer();
  }

  // ---------------------------------------------------------------- public inputs

  /** One unit of logical time. The driver calls it on a timer (and catches up after a freeze). */
  tick(): void {
    this.tickCount += 1;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /**
   * Feeds one message from the network. Never throws for anything a peer can send: malformed,
   * misaddressed or stale messages are dropped and counted (see `dropCounts`).
   */
  step(message: Message): void {
    const problem = validateMessage(message, this.id);
    if (problem !== null) return this.drop(problem);
    // A leader sends TimeoutNow only to a member it has caught up, so in its own term: one from
    // a term ahead is forged (a room member making others campaign), and moves no term.
    if (message.type === 'timeoutNow' && message.term > this.term) {
      return this.drop('timeoutNowAheadOfTerm');
    }
    if (message.term > this.term) {
      if (!this.acceptHigherTerm(message)) return;
    } else if (message.term < this.term) {
      return this.stepStaleTerm(message);
    }
    switch (message.type) {
      case 'preVote':
      case 'vote':
        return this.handleVoteRequest(message);
      default:
        if (this.role === 'leader') this.stepLeader(message);
        else if (this.role === 'follower') this.stepFollower(message);
        else this.stepCandidate(message);
        return this.stepDownIfRemoved();
    }
  }

  /**
   * Starts a new cluster with `config` as the first entry of the log. Decided once: only a member
   * with an empty log can bootstrap, and members bootstrapped with the same configuration write
   * the very same entry, so they form one cluster, never two. Members that were not bootstrapped
   * have no configuration, never campaign, and join when a leader reaches them.
   */
  bootstrap(config: ClusterConfig): void {
    if (this.log.lastIndex() !== 0 || this.term !== 0 || this.log.snapshot.index !== 0) {
      throw new InvalidConfigChangeError('only a member with an empty log can bootstrap');
    }
    if (!isValidConfig(config) || !config.voters.includes(this.id)) {
      throw new InvalidConfigChangeError(
        'the bootstrap configuration must be valid and name this member a voter',
      );
    }
    this.reset(1);
    this.log.appendAsLeader({
      index: 1,
      term: 1,
      kind: 'config',
      data: encodeConfig(normalize(config)),
    });
  }

  /**
   * Proposes one single-server change (Raft thesis §4.2); it is in force as soon as it is in the
   * log. Refused while an earlier change is uncommitted, and until this leader has committed an
   * entry of its own term (Ongaro's 2015 fix, TESTING.md 21).
   */
  proposeConfChange(change: ConfigChange): ProposalTicket {
    if (this.role !== 'leader') throw new NotLeaderError(this.leaderId);
    if (this.transferee !== null) throw new LeadershipTransferError(this.transferee);
    if (!this.bugs.has('concurrent-config')) {
      if (this.log.configIndex() > this.log.committed) {
        throw new ConfigChangeInProgressError(
          `the change at index ${this.log.configIndex()} is not committed yet`,
        );
      }
      if (!this.committedInTerm()) {
        throw new ConfigChangeInProgressError(
          'the leader has not committed an entry of its term yet',
        );
      }
    }
    const next = applyConfigChange(this.log.config(), change);
    const entry: Entry = {
      index: this.log.lastIndex() + 1,
      term: this.term,
      kind: 'config',
      data: encodeConfig(next),
    };
    this.log.appendAsLeader(entry);
    this.syncProgress();
    this.pendingAppendBroadcast = true;
    return { index: entry.index, term: entry.term };
  }

  /**
   * Where a snapshot of the state machine at `appliedIndex` sits, and how far storage may compact
   * below it (keeping `compactionTailEntries` for slow followers). Null when the log already has
   * a snapshot at or past that index: there is nothing to compact.
   */
  planSnapshot(appliedIndex: number): { meta: SnapshotMeta; compactThrough: number } | null {
    // A snapshot from the leader may have been installed since the driver was asked for one.
    if (appliedIndex <= this.log.snapshot.index) return null;
    assert(appliedIndex <= this.log.applying, 'snapshot of entries not yet handed out to apply');
    const term = this.log.term(appliedIndex);
    assert(term !== undefined, () => `no term known at ${appliedIndex}`);
    const meta: SnapshotMeta = {
      index: appliedIndex,
      term,
      config: this.log.configAt(appliedIndex),
    };
    const compactThrough = Math.max(
      this.log.firstIndex() - 1,
      appliedIndex - this.options.compactionTailEntries,
    );
    return { meta, compactThrough };
  }

  /** Storage holds `snapshot` durably: drop the log below `compactThrough` and keep the snapshot to send. */
  compact(snapshot: Snapshot, compactThrough: number): void {
    if (snapshot.meta.index <= this.log.snapshot.index) return;
    this.log.compact(snapshot.meta, compactThrough);
    this.snapshot = snapshot;
  }

  /** Appends `data` to the log as leader. Throws NotLeaderError (with the leader hint) elsewhere. */
  propose(data: Uint8Array): ProposalTicket {
    if (this.role !== 'leader') throw new NotLeaderError(this.leaderId);
    if (this.transferee !== null) throw new LeadershipTransferError(this.transferee);
    if (this.log.lastIndex() - this.log.committed >= this.options.uncommittedEntriesMax) {
      throw new OverloadedError('uncommitted entries', this.options.uncommittedEntriesMax);
    }
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, kind: 'normal', data };
    this.log.appendAsLeader(entry);
    this.pendingAppendBroadcast = true;
    return { index: entry.index, term: entry.term };
  }

  /**
   * A follower's proposal: sends `data` to the leader, which proposes it as its own; the outcome
   * shows when the entry is applied here (or never: the caller times out and retries, which
   * client sessions make safe). On the leader, use `propose`. Throws NotLeaderError when no
   * leader is known, OverloadedError when the command is larger than one append may carry.
   */
  forward(data: Uint8Array): void {
    if (this.role === 'leader' || this.leaderId === null) throw new NotLeaderError(this.leaderId);
    this.send<ForwardedProposal>({ type: 'forward', to: this.leaderId, term: this.term, data });
  }

  /**
   * Asks for a read point. A ReadState with `context` follows once reading the state machine at
   * that index is linearizable (or, for `lease`, valid under the leader lease). A follower forwards
   * the request to its leader. Throws NotLeaderError when no leader is known.
   */
  readIndex(context: string, mode: ReadMode = 'linearizable'): void {
    if (this.bugs.has('stale-read')) {
      this.readStates.push({ index: this.log.committed, context });
      return;
    }
    if (this.role === 'leader') return this.leaderRead({ context, from: this.id }, mode);
    if (this.leaderId === null) throw new NotLeaderError(null);
    if (this.forwardedReads.size >= this.options.pendingReadsMax) {
      throw new OverloadedError('pending reads', this.options.pendingReadsMax);
    }
    this.forwardedReads.add(context);
    this.send<ReadIndexRequest>({ type: 'readIndex', to: this.leaderId, term: this.term, context });
  }

  /**
   * Hands leadership to `to`: catch it up, then send it TimeoutNow (thesis §3.10).
   *
   * `leaving`: this leader is about to go (its tab is closing) and will not be there for the
   * answer to a catch-up append. When one append carries everything `to` lacks, TimeoutNow
   * follows it at once, behind it on the same link. Should it arrive first, or the append be
   * lost, `to` campaigns with a shorter log, the voters refuse it, and an election timeout
   * decides, as it would with no transfer at all: only the hand-off is lost, never safety.
   *
   * One transfer at a time: a call while one is under way keeps it, as a second target told to
   * campaign beside the first would split the vote. It ends when the target wins, or is aborted
   * after an election timeout.
   */
  transferLeader(to: MemberId, options: { readonly leaving?: boolean } = {}): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.leaderId);
    if (!this.voters().includes(to)) throw new UnknownMemberError(to);
    if (to === this.id || this.transferee !== null) return;
    this.transferee = to;
    const progress = this.progressOf(to);
    if (progress.match === this.log.lastIndex()) return this.sendTimeoutNow(to);
    this.sendAppend(to, true);
    const everythingSent = progress.state === 'replicate' && progress.next > this.log.lastIndex();
    if (options.leaving === true && everythingSent) this.sendTimeoutNow(to);
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign(): void {
    if (this.role === 'leader' || !this.mayCampaign()) return;
    this.startCampaign(this.options.preVote ? 'preElection' : 'election');
  }

  // ---------------------------------------------------------------- Ready / advance

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    return (
      this.pendingAppendBroadcast ||
      this.pendingHeartbeatBroadcast ||
      this.snapshotToInstall !== null ||
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.droppedReads.length > 0 ||
      this.forwarded.length > 0 ||
      this.log.hasUnpersisted() ||
      this.log.hasUnapplied() ||
      !sameHardState(this.hardState(), this.lastHardState) ||
      this.role !== this.lastSoftState.role ||
      this.leaderId !== this.lastSoftState.leaderId
    );
  }

  /** Takes the next batch of work. The driver must `advance` it before taking another. */
  ready(): Ready {
    assert(this.outstanding === null, 'ready() called again before advance()');
    this.flushBroadcasts();
    const hardState = this.hardState();
    const softState: SoftState = { role: this.role, leaderId: this.leaderId };
    const softChanged =
      softState.role !== this.lastSoftState.role ||
      softState.leaderId !== this.lastSoftState.leaderId;
    const ready: Ready = {
      softState: softChanged ? softState : null,
      hardState: sameHardState(hardState, this.lastHardState) ? null : hardState,
      snapshot: this.snapshotToInstall,
      entries: this.log.takeUnpersisted(),
      messages: this.messages,
      committedEntries: this.log.takeUnapplied(APPLY_BATCH_MAX),
      readStates: this.readStates,
      droppedReads: this.droppedReads,
      forwarded: this.forwarded,
      snapshotWanted: this.snapshotDue(),
    };
    if (this.snapshotToInstall !== null) this.snapshot = this.snapshotToInstall;
    this.snapshotToInstall = null;
    this.lastHardState = hardState;
    this.lastSoftState = softState;
    this.messages = [];
    this.readStates = [];
    this.droppedReads = [];
    this.forwarded = [];
    this.outstanding = ready;
    return ready;
  }

  /**
   * While the driver persists a Ready: committed entries it has already been handed to persist,
   * to apply now rather than after the write. A committed entry is durable on a quorum whatever
   * this member's disk is doing, so a leader whose own write is slower than its followers'
   * applies (and answers its client) as soon as they have the entry. Entries not yet handed out
   * wait, so a snapshot taken after the write never covers an entry the disk has not seen.
   */
  takeCommittedDuringWrite(): Entry[] {
    // A snapshot to install comes first: the state machine must restore it before any entry.
    if (this.outstanding === null || this.snapshotToInstall !== null) return [];
    return this.log.takeUnapplied(APPLY_BATCH_MAX, this.log.persisting);
  }

  /**
   * While the driver persists a Ready: the leader's appends and heartbeats for what arrived since
   * (new proposals, commit news), to send now. The leader counts its own copy only once durable,
   * so its followers may well store entries before it does; keeping them waiting for its write
   * would gate every batch on two writes in a row. TimeoutNow goes too, behind the append that
   * caught its target up: it vouches for no disk of this leader, and a leader whose tab is
   * closing may not live to the end of its write. Other messages wait for the next Ready.
   */
  takeReplicationDuringWrite(): Message[] {
    if (this.outstanding === null || this.role !== 'leader') return [];
    this.flushBroadcasts();
    const now: Message[] = [];
    const later: Message[] = [];
    for (const message of this.messages) {
      const early =
        message.type === 'append' || message.type === 'heartbeat' || message.type === 'timeoutNow';
      (early ? now : later).push(message);
    }
    this.messages = later;
    return now;
  }

  /** The driver persisted, sent and applied `ready`. */
  advance(ready: Ready): void {
    assert(this.outstanding === ready, 'advance() of a Ready that is not outstanding');
    this.outstanding = null;
    if (ready.snapshot !== null) this.log.markSnapshotStable(ready.snapshot.meta);
    if (ready.entries.length === 0) return;
    this.log.markStable(ready.entries);
    // The leader counts its own copy only once it is durable (TESTING.md 15).
    if (this.role === 'leader' && this.maybeCommit()) this.pendingAppendBroadcast = true;
    this.stepDownIfRemoved();
  }

  private snapshotDue(): boolean {
    const since = this.log.sinceSnapshot();
    if (since.entries <= 0) return false;
    return (
      since.entries >= this.options.snapshotEntriesThreshold ||
      since.bytes >= this.options.snapshotBytesThreshold
    );
  }

  /**
   * A leader that is no longer a voter leaves once the change that removed (or demoted) it is
   * committed (Raft thesis §4.2.2); until then it keeps replicating without counting itself.
   */
  private stepDownIfRemoved(): void {
    if (this.role !== 'leader' || this.isVoter()) return;
    if (this.log.committed >= this.log.configIndex()) this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------- queries

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      leaderId: this.leaderId,
      commit: this.log.committed,
      lastIndex: this.log.lastIndex(),
      config: this.log.config(),
      snapshotIndex: this.log.snapshot.index,
      votesWithheld: this.votesWithheld,
      transferee: this.transferee,
    };
  }

  /**
   * On the leader: the highest index each member of the configuration is known to hold (the
   * leader's own last index for itself). Empty on other members. For deciding when a learner has
   * caught up enough to be promoted.
   */
  matchIndexes(): ReadonlyMap<MemberId, number> {
    if (this.role !== 'leader') return new Map();
    const matches = new Map<MemberId, number>();
    for (const [id, progress] of this.progress) matches.set(id, progress.match);
    matches.set(this.id, this.log.lastIndex());
    return matches;
  }

  /**
   * On the leader: ticks since each other member of the configuration was last heard from (since
   * this leader's term began, for one never heard). Empty on other members. For telling a voter
   * that stopped answering (frozen, cut off) from a healthy one.
   */
  ticksSinceHeard(): ReadonlyMap<MemberId, number> {
    if (this.role !== 'leader') return new Map();
    const silence = new Map<MemberId, number>();
    for (const [id, progress] of this.progress) {
      if (id !== this.id) silence.set(id, this.tickCount - progress.lastHeardTick);
    }
    return silence;
  }

  inspect(): RaftInspection {
    return {
      ...this.status(),
      vote: this.vote,
      stable: this.log.stable,
      applying: this.log.applying,
      firstIndex: this.log.firstIndex(),
      entries: this.log.view(),
    };
  }

  /** Messages dropped, by reason (malformed, wrong recipient, stale term, ...). */
  dropCounts(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.drops);
  }

  // ---------------------------------------------------------------- role changes

  private becomeFollower(term: number, leaderId: MemberId | null): void {
    this.reset(term);
    this.role = 'follower';
    this.leaderId = leaderId;
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // Pre-vote changes neither term nor vote: a member that cannot win disturbs no one.
    this.dropForwardedReads();
    this.resetElectionTimer();
    this.votes = new Map();
    this.role = 'preCandidate';
    this.leaderId = null;
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader');
    this.reset(this.term);
    this.role = 'leader';
    this.leaderId = this.id;
    this.syncProgress();
    // Raft §8: a leader commits an entry of its own term before it serves reads or commits others.
    this.log.appendAsLeader({
      index: this.log.lastIndex() + 1,
      term: this.term,
      kind: 'noop',
      data: new Uint8Array(0),
    });
    this.pendingAppendBroadcast = true;
  }

  /** Resets what a term owns. Never lowers the term (assertion). */
  private reset(term: number): void {
    assert(term >= this.term, () => `term would go back from ${this.term} to ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    if (this.role === 'leader') {
      for (const read of this.reads.drain()) this.failRead(read);
    }
    this.dropForwardedReads();
    this.leaderId = null;
    this.resetElectionTimer();
    this.heartbeatElapsed = 0;
    this.votes = new Map();
    this.progress = new Map();
    this.transferee = null;
    this.leaseRevoked = false;
    this.pendingAppendBroadcast = false;
    this.pendingHeartbeatBroadcast = false;
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    const { electionTimeoutTicksMin: min, electionTimeoutTicksMax: max } = this.options;
    this.electionTimeout = min + this.options.random.int(max - min);
  }

  // ---------------------------------------------------------------- ticks

  private tickElection(): void {
    this.electionElapsed += 1;
    this.leaderContactElapsed += 1;
    if (this.electionElapsed >= this.electionTimeout && this.mayCampaign()) {
      this.startCampaign(this.options.preVote ? 'preElection' : 'election');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed += 1;
    this.electionElapsed += 1;
    if (this.electionElapsed >= this.options.electionTimeoutTicksMin) {
      this.electionElapsed = 0;
      if (this.options.checkQuorum && !this.quorumRecentlyActive()) {
        return this.becomeFollower(this.term, null);
      }
      if (this.transferee !== null) this.abortTransfer();
    }
    if (this.heartbeatElapsed >= this.options.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      this.pendingHeartbeatBroadcast = true;
    }
    // A chunk unanswered for a few heartbeats is lost: send it again from the confirmed offset.
    const chunkTimeoutTicks = this.options.heartbeatIntervalTicks * 3;
    for (const [id, progress] of this.progress) {
      if (progress.chunkTimedOut(chunkTimeoutTicks)) this.sendAppend(id, true);
    }
  }

  private quorumRecentlyActive(): boolean {
    const voters = this.voters();
    let active = voters.includes(this.id) ? 1 : 0;
    for (const peer of this.peers()) {
      const progress = this.progressOf(peer);
      if (progress.recentActive && voters.includes(peer)) active += 1;
      progress.recentActive = false;
    }
    return active >= majority(voters.length);
  }

  private abortTransfer(): void {
    this.transferee = null;
  }

  // ---------------------------------------------------------------- elections

  private startCampaign(kind: CampaignKind): void {
    if (kind === 'preElection') this.becomePreCandidate();
    else this.becomeCandidate();
    const term = kind === 'preElection' ? this.term + 1 : this.term;
    // Our own vote counts at once: every message in this Ready leaves only after the hard state
    // recording it is durable, so no answer can arrive before our vote is on disk.
    this.votes.set(this.id, true);
    if (this.resolveElection(kind)) return;
    for (const peer of this.voters()) {
      if (peer === this.id) continue;
      const common = {
        to: peer,
        term,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
      };
      if (kind === 'preElection') this.send<PreVoteRequest>({ ...common, type: 'preVote' });
      else this.send<VoteRequest>({ ...common, type: 'vote', transfer: kind === 'transfer' });
    }
  }

  /** Acts on the tally; returns true when the election is decided. */
  private resolveElection(kind: CampaignKind): boolean {
    const outcome = tallyVotes(this.voters(), this.votes);
    if (outcome === 'pending') return false;
    if (outcome === 'lost') {
      this.becomeFollower(this.term, null);
      return true;
    }
    if (kind === 'preElection') this.startCampaign('election');
    else this.becomeLeader();
    return true;
  }

  private handleVoteRequest(request: PreVoteRequest | VoteRequest): void {
    const isPreVote = request.type === 'preVote';
    const alreadyVotedFor = this.vote === request.from;
    const free = this.vote === null && this.leaderId === null;
    let canVote = alreadyVotedFor || free || (isPreVote && request.term > this.term);
    if (!isPreVote && this.bugs.has('double-vote') && this.role !== 'leader') canVote = true;
    if (this.votesWithheld) canVote = false;
    const grant = canVote && this.log.isUpToDate(request.lastIndex, request.lastTerm);
    const type = isPreVote ? 'preVoteResponse' : 'voteResponse';
    this.send<VoteResponse>({
      type,
      to: request.from,
      term: grant ? request.term : this.term,
      reject: !grant,
    });
    if (grant && !isPreVote) {
      assert(
        this.vote === null || this.vote === request.from || this.bugs.has('double-vote'),
        'second vote in a term',
      );
      this.vote = request.from;
      this.resetElectionTimer();
    }
  }

  /**
   * A message from a higher term. Returns false if it is to be ignored: a (pre)vote request while
   * we still hear a live leader (check-quorum), unless it comes from a leadership transfer.
   */
  private acceptHigherTerm(message: Message): boolean {
    if (message.type === 'preVote' || message.type === 'vote') {
      const transfer = message.type === 'vote' && message.transfer;
      if (!transfer && this.inLease()) {
        this.drop('voteWhileLeaderAlive');
        return false;
      }
      if (message.type === 'preVote') return true;
    }
    // A granted pre-vote echoes the term we would campaign for; it does not move us to it.
    if (message.type === 'preVoteResponse' && !message.reject) return true;
    const fromLeader = message.type === 'append' || message.type === 'heartbeat';
    this.becomeFollower(message.term, fromLeader ? message.from : null);
    return true;
  }

  private inLease(): boolean {
    if (!this.options.checkQuorum) return false;
    if (this.role === 'leader') return true;
    return this.leaderContactElapsed < this.options.electionTimeoutTicksMin;
  }

  private stepStaleTerm(message: Message): void {
    // A stale leader (or one cut off by a partition) learns our term from the answer and steps
    // down; a stale pre-candidate learns it is behind (etcd bugs 8334, 8498, 9586).
    if (message.type === 'append' || message.type === 'heartbeat') {
      this.send<AppendResponse>({
        type: 'appendResponse',
        to: message.from,
        term: this.term,
        reject: true,
        index: 0,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (message.type === 'preVote') {
      this.send<VoteResponse>({
        type: 'preVoteResponse',
        to: message.from,
        term: this.term,
        reject: true,
      });
    } else {
      this.drop('staleTerm');
    }
  }

  private stepCandidate(message: Message): void {
    switch (message.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.becomeFollower(this.term, message.from);
        return this.stepFollower(message);
      case 'preVoteResponse':
      case 'voteResponse': {
        const expected = this.role === 'preCandidate' ? 'preVoteResponse' : 'voteResponse';
        if (message.type !== expected) return this.drop('unexpectedVoteResponse');
        const campaignTerm = this.role === 'preCandidate' ? this.term + 1 : this.term;
        if (!message.reject && message.term !== campaignTerm) return this.drop('staleVoteResponse');
        this.votes.set(message.from, !message.reject);
        this.resolveElection(this.role === 'preCandidate' ? 'preElection' : 'election');
        return;
      }
      case 'readIndex':
        return this.rejectForwardedRead(message);
      default:
        return this.drop(`${message.type}AsCandidate`);
    }
  }

  // ---------------------------------------------------------------- follower

  private stepFollower(message: Message): void {
    switch (message.type) {
      case 'append':
        this.heardFromLeader(message.from);
        return this.handleAppend(message);
      case 'heartbeat':
        this.heardFromLeader(message.from);
        return this.handleHeartbeat(message);
      case 'timeoutNow':
        if (message.from !== this.leaderId) return this.drop('timeoutNowNotFromLeader');
        if (!this.mayCampaign()) return this.drop('timeoutNowNotVoter');
        return this.startCampaign('transfer');
      case 'readIndex':
        return this.rejectForwardedRead(message);
      case 'readIndexResponse':
        return this.handleReadIndexResponse(message);
      case 'snapshot':
        this.heardFromLeader(message.from);
        return this.handleSnapshotChunk(message);
      default:
        return this.drop(`${message.type}AsFollower`);
    }
  }

  private heardFromLeader(leaderId: MemberId): void {
    this.electionElapsed = 0;
    this.leaderContactElapsed = 0;
    this.leaderId = leaderId;
  }

  private handleAppend(request: AppendRequest): void {
    const reply = { type: 'appendResponse', to: request.from, term: this.term } as const;
    if (request.prevIndex < this.log.committed) {
      // Everything up to our commit index already matches the leader's log.
      this.send<AppendResponse>({
        ...reply,
        reject: false,
        index: this.log.committed,
        hintIndex: 0,
        hintTerm: 0,
      });
      return;
    }
    const lastNew = this.log.appendFromLeader(request.prevIndex, request.prevTerm, request.entries);
    if (lastNew === null) {
      const hintIndex = this.log.lastIndexWithTermAtMost(request.prevIndex, request.prevTerm);
      const hintTerm = this.log.term(hintIndex) ?? 0;
      this.send<AppendResponse>({
        ...reply,
        reject: true,
        index: request.prevIndex,
        hintIndex,
        hintTerm,
      });
      return;
    }
    // Only what this request proved to match may be committed, never a stale tail beyond it.
    this.log.commitTo(Math.min(request.commit, lastNew));
    // Everything committed before this leader's term precedes an entry of its term, so once we
    // hold the leader's commit and it covers such an entry we hold every entry we once
    // acknowledged and lost; until then a leader lacking them must not get our vote.
    if (
      this.votesWithheld &&
      this.log.committed >= request.commit &&
      this.log.term(this.log.committed) === this.term
    ) {
      this.votesWithheld = false;
    }
    this.send<AppendResponse>({
      ...reply,
      reject: false,
      index: lastNew,
      hintIndex: 0,
      hintTerm: 0,
    });
  }

  /**
   * One chunk of the leader's snapshot. Once whole, it replaces our log up to its index (keeping
   * a matching suffix) and goes to the driver to install; the answer leaves after it is durable.
   */
  private handleSnapshotChunk(chunk: SnapshotChunk): void {
    const reply = {
      type: 'snapshotResponse',
      to: chunk.from,
      term: this.term,
      index: chunk.meta.index,
    } as const;
    if (chunk.meta.index <= this.log.committed) {
      // We hold everything it covers already: tell the leader we are past it.
      this.receiver.reset();
      return this.send<SnapshotResponse>({ ...reply, offset: chunk.size });
    }
    const outcome = this.receiver.accept(chunk);
    if (outcome.kind === 'refused') return this.drop(outcome.reason);
    if (outcome.kind === 'progress')
      return this.send<SnapshotResponse>({ ...reply, offset: outcome.offset });
    this.log.restore(outcome.snapshot.meta);
    this.snapshotToInstall = outcome.snapshot;
    this.send<SnapshotResponse>({ ...reply, offset: chunk.size });
  }

  private handleHeartbeat(request: HeartbeatRequest): void {
    if (request.commit > this.log.lastIndex()) this.drop('heartbeatCommitPastLog');
    else this.log.commitTo(request.commit);
    this.send<HeartbeatResponse>({
      type: 'heartbeatResponse',
      to: request.from,
      term: this.term,
      readSeq: request.readSeq,
      sentTick: request.sentTick,
    });
  }

  private handleReadIndexResponse(response: ReadIndexResponse): void {
    if (!this.forwardedReads.delete(response.context)) return this.drop('unknownReadResponse');
    if (response.reject) {
      this.droppedReads.push(response.context);
      return;
    }
    this.readStates.push({ index: response.index, context: response.context });
  }

  private rejectForwardedRead(request: ReadIndexRequest): void {
    this.send<ReadIndexResponse>({
      type: 'readIndexResponse',
      to: request.from,
      term: this.term,
      context: request.context,
      reject: true,
      index: 0,
    });
  }

  private dropForwardedReads(): void {
    for (const context of this.forwardedReads) this.droppedReads.push(context);
    this.forwardedReads.clear();
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(message: Message): void {
    const progress = this.progress.get(message.from);
    if (progress === undefined) return this.drop('notAPeer');
    progress.recentActive = true;
    progress.lastHeardTick = this.tickCount;
    switch (message.type) {
      case 'appendResponse':
        return this.handleAppendResponse(message, progress);
      case 'heartbeatResponse':
        return this.handleHeartbeatResponse(message, progress);
      case 'readIndex':
        return this.leaderRead({ context: message.context, from: message.from }, 'linearizable');
      case 'forward':
        if (this.forwarded.length >= this.options.pendingReadsMax)
          return this.drop('forwardOverload');
        this.forwarded.push(message.data);
        return;
      case 'snapshotResponse':
        return this.handleSnapshotResponse(message, progress);
      case 'append':
      case 'heartbeat':
      case 'timeoutNow':
        // Another leader in our term would break election safety: never follow it.
        return this.drop('secondLeaderInTerm');
      default:
        return this.drop(`${message.type}AsLeader`);
    }
  }

  private handleAppendResponse(response: AppendResponse, progress: Progress): void {
    if (response.reject) {
      const hint =
        response.hintTerm > 0
          ? this.log.lastIndexWithTermAtMost(response.hintIndex, response.hintTerm)
          : response.hintIndex;
      if (progress.rejected(response.index, hint)) this.sendAppend(response.from, true);
      return;
    }
    if (response.index > this.log.lastIndex()) return this.drop('ackPastLog');
    const wasProbe = progress.state === 'probe';
    if (progress.state === 'snapshot' && response.index >= progress.snapshotIndex) {
      progress.snapshotInstalled(response.index);
    }
    if (progress.acknowledge(response.index)) {
      if (wasProbe) progress.becomeReplicate();
      if (this.maybeCommit()) this.pendingAppendBroadcast = true;
    } else if (wasProbe && progress.match + 1 >= progress.next) {
      progress.becomeReplicate();
    }
    if (this.paced(response.from)) {
      // Its next batch goes at its next turn (see paceLearners, learnerBatchesPerHeartbeat).
    } else if (progress.match < this.log.lastIndex()) {
      this.sendAppend(response.from, false);
    } else if (progress.commitSent < this.log.committed) {
      // Its window was full when the commit moved (a learner's is one append): tell it now, not
      // a heartbeat later.
      this.sendAppend(response.from, true);
    }
    if (response.from === this.transferee && progress.match === this.log.lastIndex())
      this.sendTimeoutNow(response.from);
  }

  private handleHeartbeatResponse(response: HeartbeatResponse, progress: Progress): void {
    progress.heartbeatAnswered();
    if (response.sentTick <= this.tickCount)
      progress.leaseAckTick = Math.max(progress.leaseAckTick, response.sentTick);
    if (response.readSeq <= this.reads.lastSeq)
      progress.readSeqAcked = Math.max(progress.readSeqAcked, response.readSeq);
    this.releaseConfirmedReads();
    if (progress.match >= this.log.lastIndex()) return;
    if (progress.state === 'replicate' && !progress.inflightLooksLost()) {
      this.sendAppend(response.from, false);
      return;
    }
    this.sendAppend(response.from, true);
  }

  /** Figure 2 / §5.4.2: commit the highest index a quorum holds, if it is of the current term. */
  private maybeCommit(): boolean {
    const index = quorumValue(this.voters(), (id) =>
      id === this.id ? this.log.stable : this.progressOf(id).match,
    );
    if (index <= this.log.committed) return false;
    if (this.log.term(index) !== this.term && !this.bugs.has('commit-old-term')) return false;
    this.log.commitTo(index);
    if (this.committedInTerm()) this.startWaitingReads();
    return true;
  }

  private committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private sendAppend(to: MemberId, sendIfEmpty: boolean): void {
    const progress = this.progressOf(to);
    if (progress.isPaused()) return;
    const prevIndex = progress.next - 1;
    assert(
      prevIndex <= this.log.lastIndex(),
      () => `next ${progress.next} for ${to} is past the log`,
    );
    const prevTerm = this.log.term(prevIndex);
    if (
      progress.state === 'snapshot' ||
      prevTerm === undefined ||
      progress.next < this.log.firstIndex()
    ) {
      return this.sendSnapshotChunk(to, progress);
    }
    const last = this.log.lastIndex();
    const entries =
      progress.next <= last
        ? this.log.slice(
            progress.next,
            last,
            this.options.appendEntriesMax,
            this.options.appendBytesMax,
          )
        : [];
    if (entries.length === 0 && !sendIfEmpty) return;
    this.send<AppendRequest>({
      type: 'append',
      to,
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit: this.log.committed,
    });
    progress.sent(prevIndex + entries.length, entries.length);
    progress.commitSent = Math.max(progress.commitSent, this.log.committed);
  }

  /**
   * The follower needs entries we compacted: send our snapshot, one bounded chunk at a time. A
   * newer snapshot replaces an unfinished transfer from its first byte.
   */
  private sendSnapshotChunk(to: MemberId, progress: Progress): void {
    const snapshot = this.snapshot;
    assert(snapshot !== null, 'entries were compacted without a snapshot');
    if (progress.state !== 'snapshot' || progress.snapshotIndex !== snapshot.meta.index) {
      progress.becomeSnapshot(snapshot.meta.index);
    }
    const offset = progress.snapshotOffset;
    const data = snapshot.data.subarray(offset, offset + this.options.snapshotChunkBytes);
    this.send<SnapshotChunk>({
      type: 'snapshot',
      to,
      term: this.term,
      meta: snapshot.meta,
      size: snapshot.data.length,
      offset,
      data,
    });
    progress.chunkInFlight = true;
    progress.chunkElapsed = 0;
  }

  private handleSnapshotResponse(response: SnapshotResponse, progress: Progress): void {
    if (progress.state !== 'snapshot' || response.index !== progress.snapshotIndex) {
      return this.drop('staleSnapshotResponse');
    }
    // Asking for exactly the chunk already in flight: a duplicate of the answer that made us send
    // it. Acting on it would start a second stream of chunks (sim seed 807).
    if (progress.chunkInFlight && response.offset === progress.snapshotOffset) {
      return this.drop('duplicateSnapshotResponse');
    }
    progress.chunkInFlight = false;
    if (this.snapshot === null || this.snapshot.meta.index !== response.index) {
      // We moved on to a newer snapshot; the next send starts it over.
      return this.sendAppend(response.from, true);
    }
    const size = this.snapshot.data.length;
    if (response.offset >= size) {
      progress.snapshotInstalled(response.index);
      if (this.maybeCommit()) this.pendingAppendBroadcast = true;
    } else {
      progress.snapshotOffset = Math.min(response.offset, size);
    }
    this.sendAppend(response.from, true);
  }

  /**
   * Whether `peer` is a learner nearly caught up, which gets entries only with the heartbeats
   * (paceLearners): one far behind is streamed to, so a new tab catches up at full speed.
   */
  private paced(peer: MemberId): boolean {
    if (!this.options.paceLearners || this.voters().includes(peer)) return false;
    const progress = this.progressOf(peer);
    return (
      progress.state === 'replicate' &&
      this.log.lastIndex() - progress.match <= this.options.appendEntriesMax
    );
  }

  /**
   * Whether this heartbeat is the turn of paced learner `peer`: learners beyond
   * learnerBatchesPerHeartbeat take turns, an equal share at each heartbeat, each within half the
   * shortest election timeout.
   */
  private learnersTurn(peer: MemberId): boolean {
    const learners = this.log.config().learners;
    const { learnerBatchesPerHeartbeat, electionTimeoutTicksMin, heartbeatIntervalTicks } =
      this.options;
    const turns = Math.min(
      Math.ceil(learners.length / learnerBatchesPerHeartbeat),
      Math.floor(electionTimeoutTicksMin / 2 / heartbeatIntervalTicks),
    );
    if (turns <= 1) return true;
    return (this.heartbeatRound + Math.max(learners.indexOf(peer), 0)) % turns === 0;
  }

  /**
   * A paced learner's turn: entries not yet sent to it go as an append, which carries the commit
   * too, with no heartbeat before it to ask. A learner with nothing left to send (its entries are
   * all out, unanswered, or it lacks only the commit) or no room in its window gets a heartbeat,
   * whose answers tell when an append was lost (Progress.inflightLooksLost).
   */
  private sendLearnerBatch(peer: MemberId): void {
    const progress = this.progressOf(peer);
    if (progress.next <= this.log.lastIndex() && !progress.isPaused()) this.sendAppend(peer, false);
    else this.sendHeartbeat(peer);
  }

  /**
   * Whether `peer` is a learner that holds every entry and knows the commit, and heard from us
   * lately (learnerIdleHeartbeatTicks): nothing waits for its answer, so it skips a heartbeat.
   */
  private quietLearner(peer: MemberId): boolean {
    if (this.voters().includes(peer)) return false;
    const progress = this.progressOf(peer);
    return (
      progress.state === 'replicate' &&
      progress.match >= this.log.lastIndex() &&
      Math.max(progress.commitSent, progress.heartbeatCommit) >= this.log.committed &&
      this.tickCount - progress.heartbeatSentTick < this.options.learnerIdleHeartbeatTicks
    );
  }

  private sendHeartbeat(to: MemberId): void {
    const progress = this.progressOf(to);
    const commit = Math.min(progress.match, this.log.committed);
    progress.heartbeatSentTick = this.tickCount;
    progress.heartbeatCommit = commit;
    this.send<HeartbeatRequest>({
      type: 'heartbeat',
      to,
      term: this.term,
      commit,
      readSeq: this.reads.lastSeq,
      sentTick: this.tickCount,
    });
  }

  private sendTimeoutNow(to: MemberId): void {
    this.leaseRevoked = true;
    this.send<TimeoutNow>({ type: 'timeoutNow', to, term: this.term });
  }

  private flushBroadcasts(): void {
    if (this.role !== 'leader') return;
    if (this.pendingAppendBroadcast) {
      // Replicate state: stream what is new. Probe: one request at a time. Commit news travels too.
      for (const peer of this.peers()) if (!this.paced(peer)) this.sendAppend(peer, true);
    }
    if (this.pendingHeartbeatBroadcast) {
      this.heartbeatRound += 1;
      for (const peer of this.peers()) {
        if (this.quietLearner(peer)) continue;
        if (!this.paced(peer)) this.sendHeartbeat(peer);
        else if (this.learnersTurn(peer)) this.sendLearnerBatch(peer);
      }
    }
    this.pendingAppendBroadcast = false;
    this.pendingHeartbeatBroadcast = false;
  }

  // ---------------------------------------------------------------- reads on the leader

  private leaderRead(read: QueuedRead, mode: ReadMode): void {
    if (this.reads.isFull()) {
      if (read.from === this.id)
        throw new OverloadedError('pending reads', this.options.pendingReadsMax);
      return this.answerRead(read, null);
    }
    if (!this.committedInTerm()) return this.reads.wait(read);
    const alone = this.voters().every((id) => id === this.id);
    if (alone || (mode === 'lease' && this.leaseValid())) {
      return this.answerRead(read, this.log.committed);
    }
    this.reads.confirm(read, this.log.committed);
    this.pendingHeartbeatBroadcast = true;
  }

  private startWaitingReads(): void {
    const waiting = this.reads.takeWaiting();
    for (const read of waiting) this.leaderRead(read, 'linearizable');
  }

  private releaseConfirmedReads(): void {
    const quorumSeq = quorumValue(this.voters(), (id) =>
      id === this.id ? this.reads.lastSeq : this.progressOf(id).readSeqAcked,
    );
    for (const read of this.reads.release(quorumSeq)) this.answerRead(read, read.index);
  }

  /** The lease holds while a quorum answered a heartbeat sent less than `leaseTicks` ago. */
  private leaseValid(): boolean {
    if (!this.options.checkQuorum || this.leaseRevoked || this.transferee !== null) return false;
    // A follower that heard a heartbeat refuses votes for `min` of its ticks, which is at least
    // min - 1 tick periods of its clock. Ticks may lag real time by one period on either side
    // and clocks may drift by clockDriftMax, so the lease is shorter by those margins.
    const { electionTimeoutTicksMin: min, clockDriftMax } = this.options;
    const leaseTicks = Math.floor((min - 2) * (1 - clockDriftMax)) - 2;
    const oldestInQuorum = quorumValue(this.voters(), (id) =>
      id === this.id ? this.tickCount : this.progressOf(id).leaseAckTick,
    );
    return this.tickCount - oldestInQuorum < leaseTicks;
  }

  private answerRead(read: QueuedRead, index: number | null): void {
    if (read.from === this.id) {
      if (index === null) this.droppedReads.push(read.context);
      else this.readStates.push({ index, context: read.context });
      return;
    }
    this.send<ReadIndexResponse>({
      type: 'readIndexResponse',
      to: read.from,
      term: this.term,
      context: read.context,
      reject: index === null,
      index: index ?? 0,
    });
  }

  private failRead(read: QueuedRead): void {
    this.answerRead(read, null);
  }

  // ---------------------------------------------------------------- helpers

  private voters(): readonly MemberId[] {
    return this.log.config().voters;
  }

  /** Every member but this one: the leader replicates to all of them, voters and learners. */
  private peers(): MemberId[] {
    return membersOf(this.log.config()).filter((id) => id !== this.id);
  }

  /** Gives the leader a Progress for every member of the configuration in force, and only them. */
  private syncProgress(): void {
    const peers = this.peers();
    for (const id of [...this.progress.keys()]) if (!peers.includes(id)) this.progress.delete(id);
    const voters = this.voters();
    for (const id of peers) {
      const window = voters.includes(id)
        ? this.options.inflightAppendsMax
        : this.options.learnerInflightAppendsMax;
      const existing = this.progress.get(id);
      if (existing !== undefined) {
        existing.setInflightMax(window);
        continue;
      }
      const progress = new Progress(this.log.lastIndex() + 1, window);
      progress.lastHeardTick = this.tickCount; // Silence is counted from when we start to ask.
      this.progress.set(id, progress);
    }
    if (this.transferee !== null && !this.voters().includes(this.transferee)) this.abortTransfer();
  }

  /**
   * A voter may campaign; so may a member that an uncommitted change just removed or demoted
   * (Raft thesis §4.2.2): until that change commits it may be the only one holding it, and the
   * others may need it to lead long enough to commit it. It then counts the votes of the new
   * configuration, not its own.
   */
  private mayCampaign(): boolean {
    if (this.votesWithheld) return false; // Our own vote is a vote too.
    if (this.isVoter()) return true;
    const configIndex = this.log.configIndex();
    if (configIndex <= this.log.committed) return false;
    return this.log.configAt(configIndex - 1).voters.includes(this.id);
  }

  private isVoter(): boolean {
    return this.voters().includes(this.id);
  }

  private progressOf(id: MemberId): Progress {
    const progress = this.progress.get(id);
    assert(progress !== undefined, () => `no progress for ${id}`);
    return progress;
  }

  /**
   * The commit index persisted is capped at what was already durable before this write: if the
   * write is torn (a crash mid-way), a commit covering its entries could otherwise survive while a
   * conflicting suffix it replaced comes back from disk, and be applied (sim seed 21469).
   */
  private hardState(): HardState {
    return {
      term: this.term,
      vote: this.vote,
      commit: Math.min(this.log.committed, this.log.stable),
    };
  }

  private send<M extends Message>(message: Omit<M, 'from'>): void {
    this.messages.push({ ...message, from: this.id } as Message);
  }

  private drop(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
