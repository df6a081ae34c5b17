/**
 * The members of one simulated cluster and their lifecycle: create (a fresh id with a fresh disk,
 * bootstrapped or not), start, crash (at any moment, including with a write in flight), restart
 * over the same disk with a fresh state machine, and retire (stopped for good after its removal
 * committed). Each member runs the real driver (`Member`) over a SimStorage, a SimTransport and a
 * skewed virtual clock; everything it does goes through the shared event queue.
 */
import { createSeededRandom } from '../../src/core/random.js';
import type { CoreBug } from '../../src/core/config.js';
import type { ClusterConfig, Entry, MemberId } from '../../src/core/types.js';
import { Member } from '../../src/runtime/member.js';
import type { KvQuery, KvQueryResult, KvResult } from '../../src/state/kv-types.js';
import { KvStateMachine } from '../../src/state/kv.js';
import type { ApplyLog, ObservedStateMachine } from './apply-log.js';
import type { SimNetwork, SimTransport } from './network.js';
import type { CompactionOptions, TimingOptions } from './options.js';
import type { SimDisk, SimStorage } from './storage.js';
import type { MemberScheduler, VirtualTime } from './virtual-time.js';

/** The Member type the simulator runs. */
export type SimMember = Member<KvResult, KvQuery, KvQueryResult>;

/** One running incarnation of a member. */
export interface Incarnation {
  readonly number: number;
  readonly storage: SimStorage;
  readonly transport: SimTransport;
  readonly machine: ObservedStateMachine;
  /** Null until `Member.start` resolved (it awaits storage.load). */
  member: SimMember | null;
}

/** What a member needs that outlives its incarnations: its disk and its clock. */
export interface MemberParts {
  readonly disk: SimDisk;
  readonly scheduler: MemberScheduler;
}

/** What the cluster needs from the rest of the simulation. */
export interface ClusterParts {
  readonly seed: number;
  readonly time: VirtualTime;
  readonly network: SimNetwork;
  readonly applyLog: ApplyLog;
  readonly timing: TimingOptions;
  readonly compaction: CompactionOptions;
  readonly bugs: readonly CoreBug[];
  /** Makes the disk and clock of the `ordinal`-th member ever created (0 for the first). */
  readonly provision: (id: MemberId, ordinal: number) => MemberParts;
  /** Told when a member could not start or stopped on its own (a fatal error in the driver). */
  readonly onFailure: (member: MemberId, message: string) => void;
  /** Told when an incarnation starts (so per-incarnation tracking can reset). */
  readonly onStart: (member: MemberId) => void;
}

/** Most restarts per member per seed (a limit on everything). */
const INCARNATIONS_MAX = 1000;
/** Most members created per seed, initial ones included. */
export const MEMBERS_CREATED_MAX = 24;

/** The members of one run, by id; at most one running incarnation each. */
export class SimCluster {
  private readonly created: MemberId[] = [];
  private readonly parts = new Map<MemberId, MemberParts>();
  private readonly bootstrapConfigs = new Map<MemberId, ClusterConfig>();
  private readonly retiredIds = new Set<MemberId>();
  private readonly wipedIds = new Set<MemberId>();
  private readonly running = new Map<MemberId, Incarnation>();
  private readonly incarnations = new Map<MemberId, number>();
  private idsCache: readonly MemberId[] | null = null;
  private directoryValue: readonly MemberId[] = [];
  private routableCache: readonly MemberId[] | null = null;
  crashes = 0;

  constructor(private readonly clusterParts: ClusterParts) {}

  /** Every member that was created and is not retired (rebuilt only when that changes). */
  get ids(): readonly MemberId[] {
    this.idsCache ??= this.created.filter((id) => !this.retiredIds.has(id));
    return this.idsCache;
  }

  /** Every member ever created, retired ones included, in creation order. */
  get everyId(): readonly MemberId[] {
    return this.created;
  }

  get retiredCount(): number {
    return this.retiredIds.size;
  }

  /** Whether another member may be created (a limit on everything). */
  get canCreate(): boolean {
    return this.created.length < MEMBERS_CREATED_MAX;
  }

  /**
   * Creates member `id` with a fresh, empty disk. With `bootstrap`, every start over an empty
   * disk bootstraps that configuration; without, the member waits until a leader adds it.
   */
  create(id: MemberId, bootstrap: ClusterConfig | null): void {
    if (this.parts.has(id)) throw new Error(`${id} already exists`);
    if (!this.canCreate) throw new Error(`more than ${MEMBERS_CREATED_MAX} members`);
    this.parts.set(id, this.clusterParts.provision(id, this.created.length));
    this.created.push(id);
    this.idsCache = null;
    this.routableCache = null;
    if (bootstrap !== null) this.bootstrapConfigs.set(id, bootstrap);
  }

  /** The disk of member `id` (which must exist). */
  disk(id: MemberId): SimDisk {
    const parts = this.parts.get(id);
    if (parts === undefined) throw new Error(`no member ${id}`);
    return parts.disk;
  }

  /** The disk of member `id`, or undefined for an id never created. */
  diskOrNull(id: MemberId): SimDisk | undefined {
    return this.parts.get(id)?.disk;
  }

  /** The clock and timers of member `id` (which must exist): its tab's `Date.now` and `setTimeout`. */
  clock(id: MemberId): MemberScheduler {
    const parts = this.parts.get(id);
    if (parts === undefined) throw new Error(`no member ${id}`);
    return parts.scheduler;
  }

  /**
   * Whether any member's log, in memory or on disk, holds a configuration entry past `index`: a
   * configuration that may still come into force (an uncommitted one, or a stale one from an
   * older term that still commits if its holder is elected).
   */
  anyConfigEntryAfter(index: number): boolean {
    const pending = (entries: readonly Entry[]): boolean =>
      entries.some((e) => e.kind === 'config' && e.index > index);
    return this.ids.some((id) => {
      const live = this.member(id)?.inspect().entries ?? [];
      const stored = this.diskOrNull(id)?.durable.read().entries ?? [];
      return pending(live) || pending(stored);
    });
  }

  /** The live member that leads in the highest term, or null. */
  believedLeader(): MemberId | null {
    let best: { id: MemberId; term: number } | null = null;
    for (const id of this.ids) {
      const status = this.member(id)?.status();
      if (status === undefined || status.role !== 'leader') continue;
      if (best === null || status.term > best.term) best = { id, term: status.term };
    }
    return best?.id ?? null;
  }

  /** The live member `id`, or null while it is down or still starting. */
  member(id: MemberId): SimMember | null {
    return this.running.get(id)?.member ?? null;
  }

  incarnation(id: MemberId): Incarnation | null {
    return this.running.get(id) ?? null;
  }

  isUp(id: MemberId): boolean {
    return this.running.has(id);
  }

  isRetired(id: MemberId): boolean {
    return this.retiredIds.has(id);
  }

  /** Whether `id` lost its storage (it is retired, and may still be named in a configuration). */
  isWiped(id: MemberId): boolean {
    return this.wipedIds.has(id);
  }

  /** Members of the configuration last seen at a leader: where clients send requests. */
  get directory(): readonly MemberId[] {
    return this.directoryValue;
  }

  set directory(ids: readonly MemberId[]) {
    this.directoryValue = ids;
    this.routableCache = null;
  }

  /** Where a client should send a request: the latest configuration seen, else every member. */
  routable(): readonly MemberId[] {
    if (this.routableCache === null) {
      const listed = this.directoryValue.filter(
        (id) => this.parts.has(id) && !this.retiredIds.has(id),
      );
      this.routableCache = listed.length > 0 ? listed : this.ids;
    }
    return this.routableCache;
  }

  /** Starts a new incarnation of `id` over its disk. */
  start(id: MemberId): void {
    if (this.running.has(id)) throw new Error(`${id} is already running`);
    if (this.retiredIds.has(id)) throw new Error(`${id} is retired`);
    const number = (this.incarnations.get(id) ?? 0) + 1;
    if (number > INCARNATIONS_MAX)
      throw new Error(`${id} restarted more than ${INCARNATIONS_MAX} times`);
    this.incarnations.set(id, number);
    const parts = this.clusterParts;
    const incarnation: Incarnation = {
      number,
      storage: this.disk(id).open(),
      transport: parts.network.connect(id),
      machine: parts.applyLog.observe(id, new KvStateMachine()),
      member: null,
    };
    this.running.set(id, incarnation);
    parts.onStart(id);
    void this.boot(id, incarnation);
  }

  private async boot(id: MemberId, incarnation: Incarnation): Promise<void> {
    const { timing, compaction, bugs, seed } = this.clusterParts;
    const scheduler = this.parts.get(id)!.scheduler;
    const bootstrap = this.bootstrapConfigs.get(id);
    try {
      const member = await Member.start<KvResult, KvQuery, KvQueryResult>({
        id,
        ...(bootstrap === undefined ? {} : { bootstrap }),
        storage: incarnation.storage,
        transport: incarnation.transport,
        stateMachine: incarnation.machine,
        scheduler,
        wallClock: () => scheduler.now(),
        random: createSeededRandom(memberSeed(seed, id, incarnation.number)),
        tickMs: timing.tickMs,
        proposeTimeoutMs: timing.proposeTimeoutMs,
        readTimeoutMs: timing.readTimeoutMs,
        raft: {
          electionTimeoutTicksMin: timing.electionTimeoutTicksMin,
          electionTimeoutTicksMax: timing.electionTimeoutTicksMax,
          heartbeatIntervalTicks: timing.heartbeatIntervalTicks,
          appendEntriesMax: timing.appendEntriesMax,
          inflightAppendsMax: timing.inflightAppendsMax,
          learnerBatchesPerHeartbeat: timing.learnerBatchesPerHeartbeat,
          ...compaction,
          bugs,
        },
      });
      if (this.running.get(id) === incarnation) incarnation.member = member;
      else await member.stop('crashed while starting');
    } catch (error) {
      this.clusterParts.onFailure(id, `could not start: ${(error as Error).message}`);
    }
  }

  /**
   * Kills `id` at once, as a closed tab or a crashed process: in-flight writes are lost or torn,
   * held events are dropped, pending client operations fail with MemberStoppedError.
   */
  crash(id: MemberId): void {
    const incarnation = this.running.get(id);
    if (incarnation === undefined) return;
    this.crashes++;
    this.running.delete(id);
    this.disk(id).crash();
    incarnation.storage.kill();
    this.clusterParts.time.dropHeld(id);
    this.clusterParts.time.unthrottle(id);
    incarnation.transport.close();
    if (incarnation.member !== null) void incarnation.member.stop('crashed');
  }

  /** Stops `id` for good (its removal committed): it is never restarted. */
  retire(id: MemberId): void {
    if (this.retiredIds.has(id) || !this.parts.has(id)) return;
    if (this.running.has(id)) {
      this.crash(id);
      this.crashes--;
    }
    this.retiredIds.add(id);
    this.idsCache = null;
    this.routableCache = null;
  }

  /**
   * `id` loses its storage for good (site data cleared): it is stopped and never comes back under
   * this id (a member whose storage is wiped returns with a new id, never reusing its old votes).
   */
  wipe(id: MemberId): void {
    this.retire(id);
    this.wipedIds.add(id);
  }

  /**
   * Reports `id` if it stopped on its own (the driver halts on a fatal error: a write the disk
   * refused, a broken assertion). The member is then treated as crashed.
   */
  checkFailure(id: MemberId): void {
    const member = this.running.get(id)?.member;
    if (member === null || member === undefined || !member.status().stopped) return;
    this.crash(id);
    this.crashes--;
    // A stopped member refuses every call with MemberStoppedError, whose message names the reason.
    member.read({ type: 'get', key: '' }, 'local').then(
      () => this.clusterParts.onFailure(id, 'stopped on its own'),
      (error: Error) => this.clusterParts.onFailure(id, error.message),
    );
  }
}

/** A distinct seed per member incarnation, derived from the run's seed. */
function memberSeed(seed: number, id: MemberId, incarnation: number): number {
  let hash = (seed ^ 0x9e3779b9) >>> 0;
  for (const char of `${id}#${incarnation}`)
    hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}
