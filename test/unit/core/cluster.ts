/**
 * A whole cluster of cores in memory, stepped by hand (etcd's newNetwork): every Ready is
 * "persisted" at once, its messages queued, and `stabilize()` delivers until nothing moves.
 * Links can be cut and members isolated, so scenario tests read like stories.
 */
import { RaftNode } from '../../../src/core/raft.js';
import type { RaftOptions } from '../../../src/core/config.js';
import type { Message } from '../../../src/core/messages.js';
import { createSeededRandom } from '../../../src/core/random.js';
import type { Entry, HardState, MemberId, ReadState, Snapshot } from '../../../src/core/types.js';
import { EMPTY_HARD_STATE } from '../../../src/core/types.js';

/** A member: its core, what its "disk" holds, and what it applied. */
export interface TestMember {
  node: RaftNode;
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Durable entries, consecutive, from the compaction point on. */
  entries: Entry[];
  /** Entries applied one by one (not those covered by an installed snapshot). */
  applied: Entry[];
  /** The state machine: the text of every applied normal entry, in order. */
  state: string[];
  readStates: ReadState[];
  droppedReads: string[];
  snapshotsInstalled: number;
}

type Overrides = Partial<Omit<RaftOptions, 'id' | 'random'>>;

const encodeState = (state: readonly string[]): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(state));
const decodeState = (data: Uint8Array): string[] =>
  JSON.parse(new TextDecoder().decode(data)) as string[];

export class TestCluster {
  readonly members = new Map<MemberId, TestMember>();
  private queue: Message[] = [];
  private readonly cut = new Set<string>();
  readonly delivered: Message[] = [];

  constructor(
    readonly ids: readonly MemberId[],
    private readonly overrides: Overrides = {},
    seed = 1,
  ) {
    ids.forEach((id, i) => {
      const member = this.fresh(id, seed * 100 + i, EMPTY_HARD_STATE, null, []);
      member.node.bootstrap({ voters: ids, learners: [] });
      this.members.set(id, member);
    });
  }

  /** Voters a, b, c with a leading, and d added as a learner and caught up. */
  static withLearner(overrides: Overrides = {}): TestCluster {
    const cluster = new TestCluster(['a', 'b', 'c'], overrides);
    cluster.addEmptyMember('d');
    cluster.elect('a');
    cluster.node('a').proposeConfChange({ type: 'addLearner', member: 'd' });
    cluster.stabilize();
    return cluster;
  }

  /** Adds a member with an empty log (not bootstrapped): it waits for a leader to add it. */
  addEmptyMember(id: MemberId, seed = 77): TestMember {
    const member = this.fresh(id, seed, EMPTY_HARD_STATE, null, []);
    this.members.set(id, member);
    (this.ids as MemberId[]).push(id);
    return member;
  }

  private fresh(
    id: MemberId,
    seed: number,
    hardState: HardState,
    snapshot: Snapshot | null,
    entries: Entry[],
    votesWithheld = false,
  ): TestMember {
    const node = new RaftNode(
      // Learners replicated as entries come (no pacing: stabilize() gives no ticks), unless a
      // test is about pacing; the simulator runs with the defaults.
      { paceLearners: false, ...this.overrides, id, random: createSeededRandom(seed) },
      { hardState, snapshot, entries, votesWithheld },
    );
    return {
      node,
      hardState,
      snapshot,
      entries: [...entries],
      applied: [],
      state: snapshot === null ? [] : decodeState(snapshot.data),
      readStates: [],
      droppedReads: [],
      snapshotsInstalled: 0,
    };
  }

  member(id: MemberId): TestMember {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`no member ${id}`);
    return member;
  }

  node(id: MemberId): RaftNode {
    return this.member(id).node;
  }

  /** Drains every member's Ready, persisting instantly and queueing messages. */
  flush(): void {
    let again = true;
    while (again) {
      again = false;
      for (const member of this.members.values()) {
        while (member.node.hasReady()) {
          again = true;
          const ready = member.node.ready();
          if (ready.hardState !== null) member.hardState = ready.hardState;
          if (ready.snapshot !== null) {
            member.snapshot = ready.snapshot;
            member.entries = [];
            member.state = decodeState(ready.snapshot.data);
            member.snapshotsInstalled++;
          }
          if (ready.entries.length > 0) {
            const first = ready.entries[0]!.index;
            const offset = (member.entries[0]?.index ?? first) - 1;
            member.entries.length = Math.max(0, first - 1 - offset);
            member.entries.push(...ready.entries);
          }
          this.queue.push(...ready.messages);
          member.applied.push(...ready.committedEntries);
          for (const entry of ready.committedEntries) {
            if (entry.kind === 'normal') member.state.push(text(entry));
          }
          if (ready.snapshotWanted) this.snapshot(member);
          member.readStates.push(...ready.readStates);
          member.droppedReads.push(...ready.droppedReads);
          member.node.advance(ready);
        }
      }
    }
  }

  /** Compaction as a driver does it: snapshot the state, store it, then tell the core. */
  private snapshot(member: TestMember): void {
    const applied = member.node.inspect().applying;
    const plan = member.node.planSnapshot(applied);
    if (plan === null) return;
    const { meta, compactThrough } = plan;
    const snapshot = { meta, data: encodeState(member.state) };
    member.snapshot = snapshot;
    member.entries = member.entries.filter((entry) => entry.index > compactThrough);
    member.node.compact(snapshot, compactThrough);
  }

  /** Delivers messages (and the messages they cause) until the cluster is quiet. */
  stabilize(limit = 10_000): void {
    for (let rounds = 0; rounds < limit; rounds++) {
      this.flush();
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const message of batch) this.deliver(message);
    }
    throw new Error('cluster did not stabilize');
  }

  deliver(message: Message): void {
    if (this.cut.has(`${message.from}>${message.to}`)) return;
    const target = this.members.get(message.to);
    if (target === undefined) return;
    this.delivered.push(message);
    target.node.step(message);
  }

  /** Removes queued messages matching `predicate` and returns them (to drop or replay later). */
  take(predicate: (message: Message) => boolean): Message[] {
    const taken = this.queue.filter(predicate);
    this.queue = this.queue.filter((message) => !predicate(message));
    return taken;
  }

  tick(id: MemberId, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.ids) this.node(id).tick();
      this.stabilize();
    }
  }

  /**
   * Makes `id` campaign now and delivers until quiet. Members refuse votes for one election
   * timeout after boot (see RaftNode.leaderContactElapsed), so a fresh cluster first lets that
   * much time pass in silence.
   */
  elect(id: MemberId): void {
    if (this.ids.some((member) => this.node(member).status().term <= 1)) {
      this.silence(this.overrides.electionTimeoutTicksMin ?? 10);
    }
    this.node(id).campaign();
    this.stabilize();
  }

  /** Ticks every member `ticks` times while every message is lost. */
  silence(ticks: number): void {
    for (let i = 0; i < ticks; i++) {
      for (const member of this.ids) this.node(member).tick();
      this.flush();
      this.queue = [];
    }
  }

  cutLink(from: MemberId, to: MemberId): void {
    this.cut.add(`${from}>${to}`);
  }

  isolate(id: MemberId): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cutLink(id, other);
      this.cutLink(other, id);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /**
   * Simulates a crash and restart: only what was persisted survives. With `cutAfter`, recovery
   * found a torn tail: entries after that index are gone and the member starts with its votes
   * withheld.
   */
  restart(id: MemberId, seed = 999, cutAfter?: number): void {
    const old = this.member(id);
    this.queue = this.queue.filter((message) => message.from !== id && message.to !== id);
    const entries =
      cutAfter === undefined ? old.entries : old.entries.filter((e) => e.index <= cutAfter);
    this.members.set(
      id,
      this.fresh(id, seed, old.hardState, old.snapshot, entries, cutAfter !== undefined),
    );
  }

  propose(id: MemberId, text: string): void {
    this.node(id).propose(new TextEncoder().encode(text));
  }

  leaders(): MemberId[] {
    return this.ids.filter((id) => this.node(id).status().role === 'leader');
  }
}

export const text = (entry: Entry): string => new TextDecoder().decode(entry.data);
