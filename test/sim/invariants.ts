/**
 * Raft's safety properties (paper, figure 3), checked while the simulation runs — after every
 * event, not only at the end (TESTING.md 3): election safety, log matching, leader completeness,
 * a committed prefix that never changes, state machine safety, applied ≤ committed, and the
 * durability rules of TESTING.md 15 (nothing is acknowledged, voted or applied before it is
 * durable on the members that promised it). Work per check is bounded by what changed since the
 * previous one: logs are compared through chained prefix hashes, so one number stands for a
 * whole prefix.
 */
import type { Message } from '../../src/core/messages.js';
import type { RaftInspection } from '../../src/core/raft.js';
import type { Entry, HardState, MemberId } from '../../src/core/types.js';
import type { ApplyContext } from '../../src/state/state-machine.js';
import type { MemoryDisk } from '../../src/storage/memory.js';
import type { PersistUpdate } from '../../src/storage/storage.js';

export type ViolationKind =
  | 'electionSafety'
  | 'logMatching'
  | 'leaderCompleteness'
  | 'committedChanged'
  | 'commitRegressed'
  | 'leaderCommitRule'
  | 'termRegressed'
  | 'stateMachineSafety'
  | 'appliedPastCommit'
  | 'durability'
  | 'doubleVote'
  | 'storageRefused'
  | 'memberFailed'
  | 'exception'
  | 'clientResult'
  | 'liveness'
  | 'convergence'
  | 'throughput'
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

/** What the checker may look at besides the member being checked. */
export interface InvariantContext {
  readonly now: () => number;
  readonly members: readonly MemberId[];
  readonly disk: (member: MemberId) => MemoryDisk;
}

interface CommittedEntry {
  readonly term: number;
  readonly prefix: number;
  /** The term of the member that first reported it committed: the term it was committed in. */
  readonly commitTerm: number;
}

interface TrackedMember {
  refs: Entry[];
  prefix: number[];
  checkedCommit: number;
  term: number;
  /** The term this member was last seen leading, and its commit index as last seen then. */
  leaderTerm: number;
  leaderCommit: number;
}

/** Collects violations; see the module comment for what is checked. */
export class InvariantChecker {
  readonly violations: Violation[] = [];
  violationCount = 0;
  private readonly leaders = new Map<number, MemberId>();
  private readonly committed: CommittedEntry[] = [];
  private readonly prefixAt = new Map<string, number>();
  private readonly applied: number[] = [];
  private readonly tracked = new Map<MemberId, TrackedMember>();
  private readonly quorum: number;

  constructor(private readonly context: InvariantContext) {
    this.quorum = Math.floor(context.members.length / 2) + 1;
  }

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
    this.checkLog(inspection, tracked);
    this.checkCommit(inspection, tracked);
    if (inspection.role === 'leader') this.checkLeader(inspection, tracked);
    if (appliedIndex > inspection.commit) {
      this.report(
        'appliedPastCommit',
        `${inspection.id} applied ${appliedIndex} past its commit ${inspection.commit}`,
      );
    }
  }

  /** Follows the member's log from where it last changed; records every (index, term)'s prefix. */
  private checkLog(inspection: RaftInspection, tracked: TrackedMember): void {
    const entries = inspection.entries;
    const refs = tracked.refs;
    let same = Math.min(entries.length, refs.length);
    // Logs change only at the tail (truncate, then append), so walk back over the changed part.
    while (same > 0 && entries[same - 1] !== refs[same - 1]) same--;
    if (same < refs.length && same < tracked.checkedCommit) {
      this.report(
        'committedChanged',
        `${inspection.id} replaced its entry ${same + 1} at or below its commit ${tracked.checkedCommit}`,
      );
    }
    refs.length = same;
    tracked.prefix.length = same;
    for (let i = same; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.index !== i + 1) {
        this.report(
          'logMatching',
          `${inspection.id} holds entry index ${entry.index} at position ${i + 1}`,
        );
      }
      const prefix = chainHash(tracked.prefix[i - 1] ?? 0, entry);
      refs.push(entry);
      tracked.prefix.push(prefix);
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
  }

  private checkCommit(inspection: RaftInspection, tracked: TrackedMember): void {
    const commit = inspection.commit;
    if (commit < tracked.checkedCommit) {
      this.report(
        'commitRegressed',
        `${inspection.id} commit went back from ${tracked.checkedCommit} to ${commit}`,
      );
    }
    if (commit > inspection.entries.length) {
      this.report(
        'committedChanged',
        `${inspection.id} commit ${commit} is past its last index ${inspection.entries.length}`,
      );
      return;
    }
    for (let index = tracked.checkedCommit + 1; index <= commit; index++) {
      const entry = inspection.entries[index - 1]!;
      const prefix = tracked.prefix[index - 1]!;
      const known = this.committed[index - 1];
      if (known === undefined) {
        this.committed.push({ term: entry.term, prefix, commitTerm: inspection.term });
      } else if (known.prefix !== prefix) {
        this.report(
          'committedChanged',
          `${inspection.id} committed entry ${index} (term ${entry.term}) but the committed log up to ${index} was different (term ${known.term} there)`,
        );
      }
    }
    tracked.checkedCommit = Math.max(tracked.checkedCommit, commit);
  }

  private checkLeader(inspection: RaftInspection, tracked: TrackedMember): void {
    const term = inspection.term;
    this.checkLeaderCommit(inspection, tracked);
    const known = this.leaders.get(term);
    if (known === inspection.id) return;
    if (known !== undefined) {
      this.report('electionSafety', `two leaders in term ${term}: ${known} and ${inspection.id}`);
      return;
    }
    this.leaders.set(term, inspection.id);
    // Leader completeness: every entry committed in an earlier term is in the new leader's log.
    let last = 0;
    for (let index = this.committed.length; index >= 1; index--) {
      if (this.committed[index - 1]!.commitTerm < term) {
        last = index;
        break;
      }
    }
    if (last === 0) return;
    const committed = this.committed[last - 1]!;
    if (tracked.prefix[last - 1] !== committed.prefix) {
      this.report(
        'leaderCompleteness',
        `${inspection.id} became leader of term ${term} without committed entry ${last} (term ${committed.term}); its last index is ${inspection.entries.length}`,
      );
    }
  }

  /**
   * Figure 2: a leader moves its commit index only to an entry of its own term (older entries
   * commit with it, never by counting their replicas: the figure-8 bug).
   */
  private checkLeaderCommit(inspection: RaftInspection, tracked: TrackedMember): void {
    const commit = inspection.commit;
    if (tracked.leaderTerm !== inspection.term) {
      tracked.leaderTerm = inspection.term;
      tracked.leaderCommit = commit;
      return;
    }
    if (commit === tracked.leaderCommit) return;
    tracked.leaderCommit = commit;
    const term = inspection.entries[commit - 1]?.term;
    if (term !== inspection.term) {
      this.report(
        'leaderCommitRule',
        `${inspection.id}, leader of term ${inspection.term}, moved its commit to ${commit}, an entry of term ${term}`,
      );
    }
  }

  /** State machine safety and durability at apply time. */
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
    let durable = 0;
    for (const id of this.context.members) {
      if (this.context.disk(id).termAt(index) === context.term) durable++;
    }
    if (durable < this.quorum) {
      this.report(
        'durability',
        `entry ${index} (term ${context.term}) was applied while durable on only ${durable} members`,
      );
    }
  }

  /** Nothing may be acknowledged or voted before it is durable (TESTING.md 15). */
  onSend(message: Message): void {
    const disk = this.context.disk(message.from);
    const ack = message.type === 'appendResponse' && !message.reject;
    if (ack && disk.lastIndex < message.index && disk.hardState.term <= message.term) {
      // The driver awaits each write before it takes the next Ready, so what this message
      // acknowledges must be on disk — unless the member has since (durably) moved to a later
      // term whose leader replaced that suffix. The ack is then stale but harmless, as in etcd: it
      // only speaks for the old term, and the new leader was elected without this member's vote.
      this.report(
        'durability',
        `${message.from} acknowledged index ${message.index} in term ${message.term} to ${message.to} but its disk holds only ${disk.lastIndex} (term ${disk.hardState.term})`,
      );
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
      tracked = { refs: [], prefix: [], checkedCommit: 0, term: 0, leaderTerm: 0, leaderCommit: 0 };
      this.tracked.set(member, tracked);
    }
    return tracked;
  }
}

const entryHashes = new WeakMap<Entry, number>();

/** A 53-bit hash of an entry (term, kind, data), cached per entry object (entries are immutable). */
export function entryHash(entry: Entry): number {
  let hash = entryHashes.get(entry);
  if (hash === undefined) {
    hash = hashBytes(entry.data, entry.term * 2 + (entry.kind === 'noop' ? 1 : 0));
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
