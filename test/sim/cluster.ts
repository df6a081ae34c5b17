/**
 * The members of one simulated cluster and their lifecycle: start, crash (at any moment, including
 * with a write in flight), restart over the same disk with a fresh state machine, pause and
 * throttle. Each member runs the real driver (`Member`) over a SimStorage, a SimTransport and a
 * skewed virtual clock; everything it does goes through the shared event queue.
 */
import { createSeededRandom } from '../../src/core/random.js';
import type { CoreBug } from '../../src/core/config.js';
import type { MemberId } from '../../src/core/types.js';
import { Member } from '../../src/runtime/member.js';
import type { KvQuery, KvQueryResult, KvResult } from '../../src/state/kv-types.js';
import { KvStateMachine } from '../../src/state/kv.js';
import type { ApplyLog, ObservedStateMachine } from './apply-log.js';
import type { SimNetwork, SimTransport } from './network.js';
import type { TimingOptions } from './options.js';
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

/** What the cluster needs from the rest of the simulation. */
export interface ClusterParts {
  readonly seed: number;
  readonly time: VirtualTime;
  readonly network: SimNetwork;
  readonly disks: ReadonlyMap<MemberId, SimDisk>;
  readonly schedulers: ReadonlyMap<MemberId, MemberScheduler>;
  readonly applyLog: ApplyLog;
  readonly timing: TimingOptions;
  readonly bugs: readonly CoreBug[];
  /** Told when a member could not start or stopped on its own (a fatal error in the driver). */
  readonly onFailure: (member: MemberId, message: string) => void;
  /** Told when an incarnation starts (so per-incarnation tracking can reset). */
  readonly onStart: (member: MemberId) => void;
}

/** Most restarts per member per seed (a limit on everything). */
const INCARNATIONS_MAX = 1000;

/** The members of one run, by id; at most one running incarnation each. */
export class SimCluster {
  readonly ids: readonly MemberId[];
  private readonly running = new Map<MemberId, Incarnation>();
  private readonly incarnations = new Map<MemberId, number>();
  crashes = 0;

  constructor(private readonly parts: ClusterParts) {
    this.ids = [...parts.disks.keys()];
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

  /** Starts a new incarnation of `id` over its disk. */
  start(id: MemberId): void {
    if (this.running.has(id)) throw new Error(`${id} is already running`);
    const number = (this.incarnations.get(id) ?? 0) + 1;
    if (number > INCARNATIONS_MAX)
      throw new Error(`${id} restarted more than ${INCARNATIONS_MAX} times`);
    this.incarnations.set(id, number);
    const parts = this.parts;
    const incarnation: Incarnation = {
      number,
      storage: parts.disks.get(id)!.open(),
      transport: parts.network.connect(id),
      machine: parts.applyLog.observe(id, new KvStateMachine()),
      member: null,
    };
    this.running.set(id, incarnation);
    parts.onStart(id);
    void this.boot(id, incarnation);
  }

  private async boot(id: MemberId, incarnation: Incarnation): Promise<void> {
    const { timing, schedulers } = this.parts;
    const scheduler = schedulers.get(id)!;
    try {
      const member = await Member.start({
        id,
        voters: this.ids,
        storage: incarnation.storage,
        transport: incarnation.transport,
        stateMachine: incarnation.machine,
        scheduler,
        wallClock: () => scheduler.now(),
        random: createSeededRandom(memberSeed(this.parts.seed, id, incarnation.number)),
        tickMs: timing.tickMs,
        proposeTimeoutMs: timing.proposeTimeoutMs,
        readTimeoutMs: timing.readTimeoutMs,
        raft: {
          electionTimeoutTicksMin: timing.electionTimeoutTicksMin,
          electionTimeoutTicksMax: timing.electionTimeoutTicksMax,
          heartbeatIntervalTicks: timing.heartbeatIntervalTicks,
          appendEntriesMax: timing.appendEntriesMax,
          inflightAppendsMax: timing.inflightAppendsMax,
          bugs: this.parts.bugs,
        },
      });
      if (this.running.get(id) === incarnation) incarnation.member = member;
      else await member.stop('crashed while starting');
    } catch (error) {
      this.parts.onFailure(id, `could not start: ${(error as Error).message}`);
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
    this.parts.disks.get(id)!.crash();
    incarnation.storage.kill();
    this.parts.time.dropHeld(id);
    this.parts.time.unthrottle(id);
    incarnation.transport.close();
    if (incarnation.member !== null) void incarnation.member.stop('crashed');
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
      () => this.parts.onFailure(id, 'stopped on its own'),
      (error: Error) => this.parts.onFailure(id, error.message),
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
