/**
 * A whole cluster in one process over the memory twins (MemoryStorage, MemoryNetwork) with real
 * timers: what `npm start` runs until the browser demo exists, and a quick way to measure the
 * driver and core without any network or disk in the way.
 */
import { createSeededRandom } from '../core/random.js';
import type { MemberId } from '../core/types.js';
import { KvStateMachine } from '../state/kv.js';
import type { KvQuery, KvQueryResult, KvResult } from '../state/kv-types.js';
import { MemoryDisk, MemoryStorage } from '../storage/memory.js';
import type { Storage } from '../storage/storage.js';
import { MemoryNetwork } from '../transport/memory.js';
import type { Transport } from '../transport/transport.js';
import { Member } from './member.js';
import type { MemberOptions, ReadConsistency } from './member.js';
import { realScheduler, wallClock } from './scheduler.js';
import type { Scheduler } from './scheduler.js';
import type { TimelineEvent, TimelineOptions } from './timeline/events.js';
import { toShiViz } from './timeline/shiviz.js';

export type KvMember = Member<KvResult, KvQuery, KvQueryResult>;

export interface LocalClusterOptions {
  readonly size?: number;
  readonly tickMs?: number;
  readonly seed?: number;
  readonly scheduler?: Scheduler;
  /** A scheduler of its own for some members (a clock that jumps: a frozen tab), by id. */
  readonly schedulerOf?: (id: MemberId) => Scheduler | undefined;
  /** Core options for every member (e.g. small compaction thresholds in tests). */
  readonly raft?: MemberOptions<KvResult, KvQuery, KvQueryResult>['raft'];
  /** Another transport for some members (real frames over a mesh, say); default `network`. */
  readonly transportOf?: (id: MemberId) => Transport | undefined;
  /** Wraps some members' storage (a test that holds a member's writes back, say), by id. */
  readonly storageOf?: (id: MemberId, storage: Storage) => Storage;
  /** Records every member's message timeline from its start. Default: not recording. */
  readonly timeline?: TimelineOptions;
}

/** Every member's timeline at once (README "Message timeline"). */
export interface LocalClusterTimeline {
  /** Starts recording on every running member, and on members started from now on. */
  start(options?: TimelineOptions): void;
  stop(): void;
  /** Every member's events (a crashed one's too, until it restarts), each member's oldest first. */
  events(): TimelineEvent[];
  /** The merged events as one ShiViz log. */
  exportShiViz(): string;
}

export class LocalCluster {
  /** Every member ever started here: the bootstrapped ones first, then those that joined. */
  readonly ids: MemberId[];
  private readonly bootstrapIds: readonly MemberId[];
  readonly network = new MemoryNetwork();
  private readonly disks = new Map<MemberId, MemoryDisk>();
  private readonly members = new Map<MemberId, KvMember>();
  private readonly machines = new Map<MemberId, KvStateMachine>();
  /** How many times each member was started, restarts included. */
  private readonly starts = new Map<MemberId, number>();
  private readonly scheduler: Scheduler;
  /** The options members started from now on record with, or null when not recording. */
  private timelineOptions: TimelineOptions | null;
  readonly timeline: LocalClusterTimeline = {
    start: (options = {}) => {
      this.timelineOptions = options;
      for (const member of this.running()) member.timeline.start(options);
    },
    stop: () => {
      this.timelineOptions = null;
      for (const member of this.running()) member.timeline.stop();
    },
    events: () => [...this.members.values()].flatMap((member) => member.timeline.events()),
    exportShiViz: () => toShiViz(this.timeline.events()),
  };

  private constructor(private readonly options: LocalClusterOptions) {
    const size = options.size ?? 3;
    this.ids = Array.from({ length: size }, (_, i) => `m${i + 1}`);
    this.bootstrapIds = [...this.ids];
    this.scheduler = options.scheduler ?? realScheduler;
    this.timelineOptions = options.timeline ?? null;
  }

  /** Starts every member; resolves once all are running (not yet once a leader exists). */
  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const cluster = new LocalCluster(options);
    for (const id of cluster.ids) await cluster.startMember(id);
    return cluster;
  }

  /** Starts (or restarts, from what its disk holds) member `id`. */
  async startMember(id: MemberId): Promise<KvMember> {
    this.starts.set(id, this.startsOf(id) + 1);
    const disk = this.disks.get(id) ?? new MemoryDisk();
    this.disks.set(id, disk);
    const stateMachine = new KvStateMachine();
    this.machines.set(id, stateMachine);
    const storage = new MemoryStorage(disk);
    const options: MemberOptions<KvResult, KvQuery, KvQueryResult> = {
      id,
      ...(this.bootstrapIds.includes(id)
        ? { bootstrap: { voters: this.bootstrapIds, learners: [] } }
        : {}),
      ...(this.options.raft === undefined ? {} : { raft: this.options.raft }),
      storage: this.options.storageOf?.(id, storage) ?? storage,
      transport: this.options.transportOf?.(id) ?? this.network.connect(id),
      stateMachine,
      scheduler: this.options.schedulerOf?.(id) ?? this.scheduler,
      wallClock,
      // A restart draws other numbers: the member's incarnation tag (forwarded proposals and
      // reads carry it) must differ from its earlier lives'.
      random: createSeededRandom(
        (this.options.seed ?? 1) * 7919 + this.ids.indexOf(id) + 104_729 * this.startsOf(id),
      ),
      tickMs: this.options.tickMs ?? 10,
      ...(this.timelineOptions === null ? {} : { timeline: this.timelineOptions }),
    };
    const member = await Member.start(options);
    this.members.set(id, member);
    return member;
  }

  /**
   * Starts a new member with an empty log. It has no configuration and waits until the leader
   * adds it (`changeMembership({ type: 'addLearner', member: id })`).
   */
  async join(id: MemberId): Promise<KvMember> {
    if (this.ids.includes(id)) throw new RangeError(`member ${id} already exists`);
    this.ids.push(id);
    return this.startMember(id);
  }

  member(id: MemberId): KvMember {
    const member = this.members.get(id);
    if (member === undefined) throw new RangeError(`no member ${id}`);
    return member;
  }

  /** The state machine member `id` applies to (to compare digests, or subscribe to changes). */
  stateMachine(id: MemberId): KvStateMachine {
    const machine = this.machines.get(id);
    if (machine === undefined) throw new RangeError(`no member ${id}`);
    return machine;
  }

  private startsOf(id: MemberId): number {
    return this.starts.get(id) ?? 0;
  }

  /** Crashes member `id` (as if its tab died); its disk keeps what was durable. */
  async crash(id: MemberId): Promise<void> {
    await this.member(id).stop('crashed');
  }

  leader(): KvMember | null {
    for (const member of this.members.values()) {
      const status = member.status();
      if (!status.stopped && status.role === 'leader') return member;
    }
    return null;
  }

  /**
   * Sends `command` to the current leader (in one process, the members can simply be asked who
   * leads); a follower answers NotLeaderError, which a KvSession retries.
   */
  submit(command: Uint8Array): Promise<KvResult> {
    return this.target().propose(command);
  }

  read(query: KvQuery, consistency: ReadConsistency = 'linearizable'): Promise<KvQueryResult> {
    return this.target().read(query, consistency);
  }

  async stop(): Promise<void> {
    for (const member of this.members.values()) await member.stop('cluster stopped');
  }

  private running(): KvMember[] {
    return [...this.members.values()].filter((member) => !member.status().stopped);
  }

  private target(): KvMember {
    const leader = this.leader();
    if (leader !== null) return leader;
    const any = this.running()[0];
    if (any === undefined) throw new RangeError('no member is running');
    return any;
  }
}
