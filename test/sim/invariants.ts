/**
 * Raft's safety properties (paper, figure 3), checked while the simulation runs — after every
 * event, not only at the end (TESTING.md 3): election safety, log matching, leader completeness,
 * a committed prefix that never changes, state machine safety (per applied index, and per
 * snapshot index: every snapshot taken or restored at one index holds the same state), applied ≤
 * committed, quorum overlap of membership changes, and the durability rules of TESTING.md 15
 * (nothing is acknowledged, voted or committed before it is durable on the members that promised
 * it). Work per check is bounded by what changed since the previous one: logs are compared through
 * chained prefix hashes, so one number stands for a whole prefix.
 *
 * Compacted logs: a member's log starts at `firstIndex`; everything below is covered by its
 * snapshot, hence committed. Its prefix hashes are anchored at `firstIndex - 1` on the hash of the
 * committed log there, and logs are compared only where they overlap.
 */
import { decodeConfig } from '../../src/core/membership.js';
import type { Message } from '../../src/core/messages.js';
import { majority } from '../../src/core/quorum.js';
import type { RaftInspection } from '../../src/core/raft.js';
import type { ClusterConfig, Entry, HardState, MemberId } from '../../src/core/types.js';
import type { ApplyContext } from '../../src/state/state-machine.js';
import type { MemoryDisk } from '../../src/storage/memory.js';
import type { PersistUpdate } from '../../src/storage/storage.js';
import type { SnapshotKind } from './apply-log.js';

export type ViolationKind =
  | 'electionSafety'
  | 'logMatching'
  | 'leaderCompleteness'
  | 'committedChanged'
  | 'commitRegressed'
  | 'leaderCommitRule'
  | 'termRegressed'
  | 'stateMachineSafety'
  | 'snapshotSafety'
  | 'appliedPastCommit'
  | 'configOverlap'
  | 'nonVoterCampaign'
  | 'durability'
  | 'doubleVote'
  | 'storageRefused'
  | 'memberFailed'
  | 'exception'
  | 'clientResult'
  | 'liveness'
  | 'convergence'
  | 'throughput'
  | 'autopilot'
  | 'linearizability'
  | 'checkerUnknown'
  | 'budget';

/** One broken property: what, and when (virtual ms). */
export interface Violation {
  readonly timeMs: number;
  readonly kind: ViolationKind;
  readonly message: string;
}

/** Most violations kept per seed (the first ones matter; the count is kept regardless). */
const VIOLATIONS_KEPT_MAX = 20;
/** Most snapshot indexes whose state digest (or size) is remembered (a limit on everything). */
const SNAPSHOT_DIGESTS_MAX = 100_000;

/** What the checker may look at besides the member being checked. */
export interface InvariantContext {
  readonly now: () => number;
  /** The disk of a member, or undefined for an id that was never created. */
  readonly disk: (member: MemberId) => MemoryDisk | undefined;
}

interface CommittedEntry {
  readonly term: number;
  readonly prefix: number;
  /** The term of the member that first reported it committed: the term it was committed in. */
  readonly commitTerm: number;
}

interface TrackedMember {
  /** refs[i] is the member's entry at index base + 1 + i (base = firstIndex - 1). */
  base: number;
  /** False when the prefix hash at `base` is unknown: log comparisons are then skipped. */
  anchored: boolean;
  basePrefix: number;
  refs: Entry[];
  prefix: number[];
  /** Highest index whose prefix hash was compared with the other members' (a durable entry). */
  registered: number;
  checkedCommit: number;
  term: number;
  /** The term this member was last seen leading, and its commit index as last seen then. */
  leaderTerm: number;
  leaderCommit: number;
  /** The term in which this incarnation's leader completeness was checked. */
  completenessTerm: number;
}

/** Counters for reports. */
export interface InvariantStats {
  /** Configuration entries committed, the bootstrap entry (index 1) excepted. */
  configChangesCommitted: number;
  /** Committed indexes whose durability was checked against the committing leader's config. */
  commitsChecked: number;
  /** Snapshot digests compared (a second snapshot at an index already seen). */
  snapshotDigestsCompared: number;
}

/** Collects violations; see the module comment for what is checked. */
export class InvariantChecker {
  readonly violations: Violation[] = [];
  violationCount = 0;
  readonly stats: InvariantStats = {
    configChangesCommitted: 0,
    commitsChecked: 0,
    snapshotDigestsCompared: 0,
  };
  private readonly leaders = new Map<number, MemberId>();
  private readonly committed: CommittedEntry[] = [];
  /** Every committed configuration entry, in index order. */
  private readonly committedConfigs: { index: number; config: ClusterConfig }[] = [];
  private readonly prefixAt = new Map<string, number>();
  private readonly applied: number[] = [];
  private readonly snapshotDigests = new Map<number, { member: MemberId; digest: string }>();
  /** Sizes of the snapshots leaders sent, by index (to know when a follower claims it whole). */
  private readonly snapshotSizes = new Map<number, number>();
  private readonly tracked = new Map<MemberId, TrackedMember>();

  constructor(private readonly context: InvariantContext) {}

  /** Records a violation. */
  report(kind: ViolationKind, message: string): void {
    this.violationCount++;
    if (this.violations.length < VIOLATIONS_KEPT_MAX) {
      this.violations.push({ timeMs: this.context.now(), kind, message });
    }
  }

  /** Highest index known committed anywhere. */
  get committedIndex(): number {
    return this.committed.length;
  }

  /** A member starts a new incarnation: its in-memory state starts over from its disk. */
  restarted(member: MemberId): void {
    this.tracked.delete(member);
  }

  /** Checks one member's core state after an event that may have changed it. */
  checkMember(inspection: RaftInspection, appliedIndex: number): void {
    const tracked = this.trackedOf(inspection.id);
    if (inspection.term < tracked.term) {
      this.report(
        'termRegressed',
        `${inspection.id} went from term ${tracked.term} back to ${inspection.term}`,
      );
    }
    tracked.term = inspection.term;
    const newConfigs = this.checkLog(inspection, tracked);
    this.checkCommit(inspection, tracked);
    this.checkLeaderCommit(inspection, tracked);
    if (inspection.role === 'leader') this.checkLeader(inspection, tracked, newConfigs);
    if (inspection.role === 'candidate' || inspection.role === 'preCandidate')
      this.checkCampaign(inspection);
    if (appliedIndex > inspection.commit) {
      this.report(
        'appliedPastCommit',
        `${inspection.id} applied ${appliedIndex} past its commit ${inspection.commit}`,
      );
    }
  }

  /**
   * TESTING.md 22: a member whose removal (or demotion) is committed never campaigns. One whose
   * removal is not committed yet may (Raft thesis §4.2.2: it may still be needed to commit it).
   */
  private checkCampaign(inspection: RaftInspection): void {
    if (inspection.config.voters.includes(inspection.id)) return;
    let configIndex = inspection.firstIndex - 1; // No config entry held: it came with the snapshot.
    for (let i = inspection.entries.length - 1; i >= 0; i--) {
      if (inspection.entries[i]!.kind === 'config') {
        configIndex = inspection.entries[i]!.index;
        break;
      }
    }
    if (configIndex > inspection.commit) return;
    this.report(
      'nonVoterCampaign',
      `${inspection.id} campaigns in term ${inspection.term} but its committed configuration ${describeConfig(inspection.config)} (index ${configIndex}) does not make it a voter`,
    );
  }

  /**
   * Follows the member's log from where it last changed and computes every entry's prefix hash.
   * Returns the configuration entries it saw for the first time.
   */
  private checkLog(inspection: RaftInspection, tracked: TrackedMember): readonly Entry[] {
    this.rebase(inspection, tracked);
    const { base, refs } = tracked;
    const entries = inspection.entries;
    let same = Math.min(entries.length, refs.length);
    // Logs change only at the tail (truncate, then append), so walk back over the changed part.
    while (same > 0 && entries[same - 1] !== refs[same - 1]) same--;
    if (same < refs.length && base + same < tracked.checkedCommit) {
      this.report(
        'committedChanged',
        `${inspection.id} replaced its entry ${base + same + 1} at or below its commit ${tracked.checkedCommit}`,
      );
    }
    if (same < refs.length) {
      refs.length = same;
      tracked.prefix.length = same;
      tracked.registered = Math.min(tracked.registered, base + same);
    }
    let newConfigs: readonly Entry[] = NO_ENTRIES;
    for (let i = same; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.index !== base + i + 1) {
        this.report(
          'logMatching',
          `${inspection.id} holds entry index ${entry.index} at position ${base + i + 1}`,
        );
      }
      if (entry.kind === 'config') newConfigs = [...newConfigs, entry];
      refs.push(entry);
      tracked.prefix.push(chainHash(tracked.prefix[i - 1] ?? tracked.basePrefix, entry));
    }
    if (tracked.registered < inspection.stable) this.registerDurable(inspection, tracked);
    return newConfigs;
  }

  /**
   * Log matching: one (index, term) stands for one log prefix everywhere. Only entries the member
   * holds durably are compared: until then they exist in its memory alone (nothing is sent before
   * it is durable), and a crash may take them away. A one-voter leader, for one, elects itself and
   * appends before its term is durable; if it crashes, it may lead that term again with other
   * entries, and nobody ever saw the first ones.
   */
  private registerDurable(inspection: RaftInspection, tracked: TrackedMember): void {
    if (!tracked.anchored) return;
    const { base } = tracked;
    const last = Math.min(inspection.stable, base + tracked.refs.length);
    for (let index = Math.max(tracked.registered, base) + 1; index <= last; index++) {
      const entry = tracked.refs[index - base - 1]!;
      const prefix = tracked.prefix[index - base - 1]!;
      const key = `${entry.index}:${entry.term}`;
      const known = this.prefixAt.get(key);
      if (known === undefined) this.prefixAt.set(key, prefix);
      else if (known !== prefix) {
        this.report(
          'logMatching',
          `${inspection.id} holds entry ${entry.index} of term ${entry.term}, but its log up to it differs from another member's`,
        );
      }
    }
    tracked.registered = Math.max(tracked.registered, last);
  }

  /**
   * The member's log now starts at `firstIndex` (compaction, or a snapshot installed): drop what
   * is below, and anchor the prefix hashes on the committed log at `firstIndex - 1`.
   */
  private rebase(inspection: RaftInspection, tracked: TrackedMember): void {
    const base = inspection.firstIndex - 1;
    if (base === tracked.base) return;
    const anchor = this.committedPrefix(base);
    if (anchor === undefined) {
      this.report(
        'snapshotSafety',
        `${inspection.id} holds a snapshot or compaction through ${base}, past anything committed (${this.committed.length})`,
      );
    }
    const drop = base - tracked.base;
    // Entries above the new base stay valid only if they chained from the committed log there.
    if (drop > 0 && drop <= tracked.refs.length && tracked.prefix[drop - 1] === anchor) {
      tracked.refs.splice(0, drop);
      tracked.prefix.splice(0, drop);
    } else {
      tracked.refs.length = 0;
      tracked.prefix.length = 0;
    }
    tracked.base = base;
    tracked.basePrefix = anchor ?? 0;
    tracked.anchored = anchor !== undefined;
  }

  /** The prefix hash of the committed log at `index` (0 at index 0), if known. */
  private committedPrefix(index: number): number | undefined {
    return index === 0 ? 0 : this.committed[index - 1]?.prefix;
  }

  private checkCommit(inspection: RaftInspection, tracked: TrackedMember): void {
    const commit = inspection.commit;
    const { base } = tracked;
    if (commit < tracked.checkedCommit) {
      this.report(
        'commitRegressed',
        `${inspection.id} commit went back from ${tracked.checkedCommit} to ${commit}`,
      );
    }
    if (commit > base + inspection.entries.length) {
      this.report(
        'committedChanged',
        `${inspection.id} commit ${commit} is past its last index ${base + inspection.entries.length}`,
      );
      return;
    }
    if (!tracked.anchored) return;
    // Indexes at or below the base are in the snapshot, anchored on the committed log.
    for (let index = Math.max(tracked.checkedCommit, base) + 1; index <= commit; index++) {
      const entry = inspection.entries[index - base - 1]!;
      const prefix = tracked.prefix[index - base - 1]!;
      const known = this.committed[index - 1];
      if (known === undefined) {
        this.committed.push({ term: entry.term, prefix, commitTerm: inspection.term });
        this.recordCommittedConfig(entry);
      } else if (known.prefix !== prefix) {
        this.report(
          'committedChanged',
          `${inspection.id} committed entry ${index} (term ${entry.term}) but the committed log up to ${index} was different (term ${known.term} there)`,
        );
      }
    }
    tracked.checkedCommit = Math.max(tracked.checkedCommit, commit);
  }

  private recordCommittedConfig(entry: Entry): void {
    if (entry.kind !== 'config') return;
    const config = decodeConfig(entry.data);
    if (config === null) {
      this.report('committedChanged', `committed config entry ${entry.index} does not decode`);
      return;
    }
    this.committedConfigs.push({ index: entry.index, config });
    if (entry.index > 1) this.stats.configChangesCommitted++;
  }

  /** The newest committed configuration at or below `index`, if any. */
  private committedConfigAt(index: number): ClusterConfig | undefined {
    for (let i = this.committedConfigs.length - 1; i >= 0; i--) {
      const at = this.committedConfigs[i]!;
      if (at.index <= index) return at.config;
    }
    return undefined;
  }

  private checkLeader(
    inspection: RaftInspection,
    tracked: TrackedMember,
    newConfigs: readonly Entry[],
  ): void {
    const term = inspection.term;
    for (const entry of newConfigs) {
      if (entry.term === term) this.checkConfigOverlap(inspection, entry);
    }
    const known = this.leaders.get(term);
    if (known !== undefined && known !== inspection.id) {
      this.report('electionSafety', `two leaders in term ${term}: ${known} and ${inspection.id}`);
      return;
    }
    this.leaders.set(term, inspection.id);
    // Once per incarnation: a one-voter leader that crashed before its term was durable may win
    // the same term again (nobody heard of its first reign), with a different log.
    if (tracked.completenessTerm === term) return;
    tracked.completenessTerm = term;
    this.checkCompleteness(inspection, tracked);
  }

  /** Leader completeness: every entry committed in an earlier term is in the new leader's log. */
  private checkCompleteness(inspection: RaftInspection, tracked: TrackedMember): void {
    let last = 0;
    for (let index = this.committed.length; index >= 1; index--) {
      if (this.committed[index - 1]!.commitTerm < inspection.term) {
        last = index;
        break;
      }
    }
    if (last === 0) return;
    const committed = this.committed[last - 1]!;
    const lastIndex = tracked.base + inspection.entries.length;
    let holds: boolean;
    if (last <= tracked.base) holds = inspection.snapshotIndex >= last;
    else if (last > lastIndex) holds = false;
    else holds = !tracked.anchored || tracked.prefix[last - tracked.base - 1] === committed.prefix;
    if (!holds) {
      this.report(
        'leaderCompleteness',
        `${inspection.id} became leader of term ${inspection.term} without committed entry ${last} (term ${committed.term}); its log holds ${tracked.base + 1}..${lastIndex}, snapshot ${inspection.snapshotIndex}`,
      );
    }
  }

  /**
   * A leader puts a new configuration in force only if every majority of it intersects every
   * majority of the configuration committed before it (Raft thesis §4.1: what single-server
   * changes guarantee, one uncommitted change at a time). The committed configuration is the one
   * at the leader's own commit index, where the correct core has its previous configuration.
   */
  private checkConfigOverlap(inspection: RaftInspection, entry: Entry): void {
    const next = decodeConfig(entry.data);
    const committed = this.committedConfigAt(inspection.commit);
    if (next === null || committed === undefined) return;
    if (quorumsIntersect(committed.voters, next.voters)) return;
    this.report(
      'configOverlap',
      `${inspection.id}, leader of term ${inspection.term}, put ${describeConfig(next)} in force at index ${entry.index} while ${describeConfig(committed)} was the committed configuration (commit ${inspection.commit}): their majorities need not intersect`,
    );
  }

  /**
   * Figure 2: a leader moves its commit index only to an entry of its own term (older entries
   * commit with it, never by counting their replicas: the figure-8 bug); and each index it commits
   * is then durable on a majority of the voters it counted (TESTING.md 15).
   *
   * A member that led in its current term and stepped down in the same event (after committing
   * its own removal) is still checked: no other leader exists in its term, so any commit move in
   * that term is its own.
   */
  private checkLeaderCommit(inspection: RaftInspection, tracked: TrackedMember): void {
    const commit = inspection.commit;
    if (inspection.role === 'leader' && tracked.leaderTerm !== inspection.term) {
      tracked.leaderTerm = inspection.term;
      tracked.leaderCommit = commit;
      return;
    }
    if (tracked.leaderTerm !== inspection.term || commit === tracked.leaderCommit) return;
    const from = tracked.leaderCommit;
    tracked.leaderCommit = commit;
    if (commit < from) return; // Reported as commitRegressed.
    const term = termOf(inspection, commit);
    if (term !== inspection.term) {
      this.report(
        'leaderCommitRule',
        `${inspection.id}, leader of term ${inspection.term}, moved its commit to ${commit}, an entry of term ${term}`,
      );
    }
    for (let index = Math.max(from, inspection.firstIndex - 1) + 1; index <= commit; index++)
      this.checkCommittedDurable(inspection, index);
  }

  /**
   * The entry at `index` was just committed by the leader `inspection` counting the voters of the
   * configuration in force at it, which is `inspection.config` (the leader's configuration
   * changes only when it appends, never within the event that moved its commit). Each of those
   * votes came from an acknowledgement sent after the entry was durable, and an acknowledged
   * committed entry is never lost or overwritten; compaction keeps it in the snapshot.
   */
  private checkCommittedDurable(inspection: RaftInspection, index: number): void {
    const term = termOf(inspection, index);
    const voters = inspection.config.voters;
    let durable = 0;
    for (const id of voters) {
      const disk = this.context.disk(id);
      if (disk === undefined) continue;
      if (disk.snapshotIndex >= index || (term !== undefined && disk.termAt(index) === term))
        durable++;
    }
    this.stats.commitsChecked++;
    if (durable < majority(voters.length)) {
      this.report(
        'durability',
        `${inspection.id}, leader of term ${inspection.term}, committed entry ${index} (term ${term}) while durable on only ${durable} of its voters ${describeConfig(inspection.config)}`,
      );
    }
  }

  /** State machine safety at apply time: every member applies the same entry at each index. */
  onApply(member: MemberId, context: ApplyContext, command: Uint8Array | null): void {
    const digest = commandHash(context, command);
    const index = context.index;
    const known = this.applied[index - 1];
    if (known !== undefined) {
      if (known !== digest) {
        this.report(
          'stateMachineSafety',
          `${member} applied a different entry at index ${index} (term ${context.term}) than another member`,
        );
      }
      return;
    }
    if (index !== this.applied.length + 1) {
      this.report(
        'stateMachineSafety',
        `${member} applied index ${index} before anyone applied ${this.applied.length + 1}`,
      );
      return;
    }
    this.applied.push(digest);
  }

  /**
   * State machine safety across snapshots: every snapshot taken or restored at one index holds
   * the same state (the digest of the KV's canonical snapshot encoding, which covers keys,
   * sessions, log time and the applied index).
   */
  onSnapshot(member: MemberId, kind: SnapshotKind, index: number, digest: string): void {
    const known = this.snapshotDigests.get(index);
    if (known === undefined) {
      if (this.snapshotDigests.size < SNAPSHOT_DIGESTS_MAX)
        this.snapshotDigests.set(index, { member, digest });
      if (index > this.applied.length) {
        this.report(
          'snapshotSafety',
          `${member} ${kind === 'take' ? 'took' : 'restored'} a snapshot at ${index}, but nothing was applied past ${this.applied.length}`,
        );
      }
      return;
    }
    this.stats.snapshotDigestsCompared++;
    if (known.digest !== digest) {
      this.report(
        'stateMachineSafety',
        `${member} ${kind === 'take' ? 'took' : 'restored'} a snapshot at ${index} whose state differs from ${known.member}'s snapshot there`,
      );
    }
  }

  /** Nothing may be acknowledged or voted before it is durable (TESTING.md 15). */
  onSend(message: Message): void {
    const disk = this.context.disk(message.from);
    if (disk === undefined) {
      this.report('exception', `a message from ${message.from}, a member never created`);
      return;
    }
    if (message.type === 'appendResponse' && !message.reject) {
      this.checkAckDurable(disk, message.from, message.to, message.term, message.index);
    } else if (message.type === 'snapshot') {
      if (this.snapshotSizes.size < SNAPSHOT_DIGESTS_MAX)
        this.snapshotSizes.set(message.meta.index, message.size);
    } else if (message.type === 'snapshotResponse') {
      // Offset = size: "I hold everything up to this snapshot's index", durably.
      const size = this.snapshotSizes.get(message.index);
      if (size !== undefined && message.offset >= size)
        this.checkAckDurable(disk, message.from, message.to, message.term, message.index);
    } else if (message.type === 'voteResponse' && !message.reject) {
      const hard = disk.hardState;
      if (!(hard.term > message.term || (hard.term === message.term && hard.vote === message.to))) {
        this.report(
          'durability',
          `${message.from} granted its term-${message.term} vote to ${message.to} but its disk holds term ${hard.term}, vote ${hard.vote}`,
        );
      }
    }
  }

  private checkAckDurable(
    disk: MemoryDisk,
    from: MemberId,
    to: MemberId,
    term: number,
    index: number,
  ): void {
    // The driver awaits each write before it takes the next Ready, so what this message
    // acknowledges must be on disk — unless the member has since (durably) moved to a later term
    // whose leader replaced that suffix. The ack is then stale but harmless, as in etcd: it only
    // speaks for the old term, and the new leader was elected without this member's vote.
    if (disk.lastIndex >= index || disk.hardState.term > term) return;
    this.report(
      'durability',
      `${from} acknowledged index ${index} in term ${term} to ${to} but its disk holds only ${disk.lastIndex} (term ${disk.hardState.term})`,
    );
  }

  /** A member votes at most once per term, across restarts. */
  onDurable(member: MemberId, before: HardState, update: PersistUpdate): void {
    const after = update.hardState;
    if (after === null || after.term !== before.term || before.vote === null) return;
    if (after.vote !== before.vote) {
      this.report(
        'doubleVote',
        `${member} changed its vote in term ${after.term} from ${before.vote} to ${after.vote}`,
      );
    }
  }

  private trackedOf(member: MemberId): TrackedMember {
    let tracked = this.tracked.get(member);
    if (tracked === undefined) {
      tracked = {
        base: 0,
        anchored: true,
        basePrefix: 0,
        refs: [],
        prefix: [],
        registered: 0,
        checkedCommit: 0,
        term: 0,
        leaderTerm: -1,
        leaderCommit: 0,
        completenessTerm: -1,
      };
      this.tracked.set(member, tracked);
    }
    return tracked;
  }
}

/** The term of the entry at `index` in the inspected log, if it holds that entry. */
function termOf(inspection: RaftInspection, index: number): number | undefined {
  return inspection.entries[index - inspection.firstIndex]?.term;
}

/**
 * Whether every majority of voter set `a` intersects every majority of `b`. Two disjoint
 * majorities exist iff each can be filled from its own members plus a disjoint share of the
 * common ones.
 */
export function quorumsIntersect(a: readonly MemberId[], b: readonly MemberId[]): boolean {
  const inB = new Set(b);
  const shared = a.filter((id) => inB.has(id)).length;
  const needA = Math.max(0, majority(a.length) - (a.length - shared));
  const needB = Math.max(0, majority(b.length) - (b.length - shared));
  return needA + needB > shared;
}

function describeConfig(config: ClusterConfig): string {
  const learners = config.learners.length > 0 ? ` learners ${config.learners.join(',')}` : '';
  return `{voters ${config.voters.join(',')}${learners}}`;
}

const NO_ENTRIES: readonly Entry[] = [];
const entryHashes = new WeakMap<Entry, number>();

/** A 53-bit hash of an entry (term, kind, data), cached per entry object (entries are immutable). */
export function entryHash(entry: Entry): number {
  let hash = entryHashes.get(entry);
  if (hash === undefined) {
    const kind = entry.kind === 'normal' ? 0 : entry.kind === 'noop' ? 1 : 2;
    hash = hashBytes(entry.data, entry.term * 4 + kind);
    entryHashes.set(entry, hash);
  }
  return hash;
}

/** The hash of a log prefix ending in `entry`, given the hash of the prefix before it. */
export function chainHash(previous: number, entry: Entry): number {
  return mix53(previous, entryHash(entry) + entry.index);
}

function commandHash(context: ApplyContext, command: Uint8Array | null): number {
  const seed = context.term * 4 + (command === null ? 1 : 2);
  return mix53(hashBytes(command ?? new Uint8Array(0), seed), context.time);
}

function hashBytes(bytes: Uint8Array, seed: number): number {
  let a = 0x811c9dc5 ^ (seed >>> 0);
  let b = 0x01000193 ^ Math.floor(seed / 4294967296);
  for (let i = 0; i < bytes.length; i++) {
    a = Math.imul(a ^ bytes[i]!, 0x01000193);
    b = Math.imul(b ^ bytes[i]!, 0x5bd1e995);
  }
  return combine(a, b ^ bytes.length);
}

function mix53(x: number, y: number): number {
  const a = Math.imul((x >>> 0) ^ Math.imul(y >>> 0, 0x9e3779b1), 0x85ebca6b);
  const b = Math.imul(
    (Math.floor(x / 4294967296) >>> 0) ^ Math.floor(y / 4294967296) ^ (y >>> 0),
    0xc2b2ae35,
  );
  return combine(a ^ (b >>> 15), b ^ (a >>> 13));
}

function combine(a: number, b: number): number {
  return (a >>> 0) * 2097152 + ((b >>> 0) & 0x1fffff);
}
