/**
 * The fault schedule of the safety phase: partitions that come and go, clogged links, slow
 * followers cut off until they need a snapshot (TESTING.md 10), crashes (some aimed right before
 * or right after a write, or a snapshot write, TESTING.md 11) with restarts, pauses (frozen tabs)
 * and throttled timers (hidden tabs). Each fault class is a Poisson process whose rate the seed
 * drew (swarm testing); `heal` ends them all for the liveness phase. Faults strike every member
 * that exists and is not retired, members added by the churn included — an edge member only
 * rarely: a crash or pause drawn for it strikes with the seed's `edge.faultShare`, and it is never
 * throttled (it is no hidden tab).
 */
import type { Random } from '../../src/core/random.js';
import type { MemberId } from '../../src/core/types.js';
import type { SimCluster } from './cluster.js';
import type { SimNetwork } from './network.js';
import type { SimOptions } from './options.js';
import { drawPartition, linkKey } from './partitions.js';
import type { Partition } from './partitions.js';
import type { Trace } from './trace.js';
import type { VirtualTime } from './virtual-time.js';

/** Counters for reports. */
export interface FaultStats {
  partitions: number;
  clogs: number;
  crashes: number;
  boundaryCrashes: number;
  fullRestarts: number;
  pauses: number;
  throttles: number;
  transfers: number;
  slowFollowers: number;
  /** Crashes and pauses drawn for an edge member and skipped (it is rarely struck). */
  edgeFaultsSkipped: number;
}

/** Injects the seed's faults during the safety phase; `heal` stops them all. */
export class FaultInjector {
  private active = false;
  private partitionEpoch = 0;
  readonly stats: FaultStats = {
    partitions: 0,
    clogs: 0,
    crashes: 0,
    boundaryCrashes: 0,
    fullRestarts: 0,
    pauses: 0,
    throttles: 0,
    transfers: 0,
    slowFollowers: 0,
    edgeFaultsSkipped: 0,
  };
  private readonly edgeIds: ReadonlySet<MemberId>;

  constructor(
    private readonly time: VirtualTime,
    private readonly random: Random,
    private readonly options: SimOptions,
    private readonly cluster: SimCluster,
    private readonly network: SimNetwork,
    private readonly trace: Trace,
  ) {
    this.edgeIds = new Set(options.edge.ids);
  }

  /** Starts every fault process the seed enabled. */
  start(): void {
    this.active = true;
    const { network, process } = this.options;
    if (network.partitionModes.length > 0)
      this.after(this.exponential(network.healedDurationMeanMs), () => this.partition());
    this.poisson(network.clogRatePerSecond, () => this.clog());
    this.poisson(process.crashRatePerSecond, () => this.crash());
    this.poisson(process.fullRestartRatePerSecond, () => this.crashAll());
    this.poisson(process.pauseRatePerSecond, () => this.pause());
    this.poisson(process.throttleRatePerSecond, () => this.throttle());
    this.poisson(process.transferRatePerSecond, () => this.transfer());
    this.poisson(network.slowFollowerRatePerSecond, () => this.slowFollower());
  }

  /** Whether the safety phase's faults are still running. */
  get isActive(): boolean {
    return this.active;
  }

  /**
   * Ends all faults: heals the network, wakes and restarts every member that is not retired
   * (retired members were removed by a committed change, so every member of the final
   * configuration is among those restarted).
   */
  heal(): void {
    this.active = false;
    this.network.setCalm(true);
    for (const id of this.cluster.ids) {
      this.cluster.disk(id).disarm();
      this.time.resume(id);
      this.time.unthrottle(id);
      if (!this.cluster.isUp(id)) this.cluster.start(id);
    }
    this.trace.log(() => 'heal: network calm, all members resumed and up');
  }

  private partition(): void {
    const { partitionModes, partitionDurationMeanMs, healedDurationMeanMs } = this.options.network;
    const mode = partitionModes[this.random.int(partitionModes.length)]!;
    const duration = this.exponential(partitionDurationMeanMs);
    const ids = this.cluster.ids;
    if (ids.length >= 2) this.applyPartition(drawPartition(this.random, ids, mode), duration);
    this.after(duration + this.exponential(healedDurationMeanMs), () => this.partition());
  }

  /** Cuts one follower off for long enough that the leader compacts past it (TESTING.md 10). */
  private slowFollower(): void {
    const followers = this.cluster.ids.filter(
      (id) => this.cluster.isUp(id) && this.cluster.member(id)?.status().role !== 'leader',
    );
    if (followers.length === 0) return;
    const id = followers[this.random.int(followers.length)]!;
    const { slowFollowerDurationMinMs: min, slowFollowerDurationMaxMs: max } = this.options.network;
    const duration = min + this.random.float() * (max - min);
    this.network.isolate(id, this.time.now + duration);
    this.stats.slowFollowers++;
    this.trace.log(() => `slow follower ${id}: cut off for ${duration.toFixed(0)} ms`);
  }

  /**
   * Called when `leader` is first seen leading `term`: with the seed's probability, cut it off
   * from everyone at once or up to 3 ticks later, for a while.
   */
  onNewLeader(leader: MemberId, term: number): void {
    const { isolateNewLeaderProbability, partitionDurationMeanMs } = this.options.network;
    if (!this.active || this.random.float() >= isolateNewLeaderProbability) return;
    // Half the time before its first appends leave (its no-op stays its own), else a little later.
    const delay =
      this.random.int(2) === 0 ? 0 : this.random.float() * 3 * this.options.timing.tickMs;
    this.after(delay, () => {
      const partition: Partition = {
        mode: 'isolateSingle',
        blocked: isolateBlocked(leader, this.cluster.ids),
        description: `new leader ${leader} (term ${term}) isolated`,
      };
      this.applyPartition(partition, this.exponential(partitionDurationMeanMs));
    });
  }

  /** Cuts the network as `partition` says for `durationMs` (unless another partition replaces it). */
  private applyPartition(partition: Partition, durationMs: number): void {
    const epoch = ++this.partitionEpoch;
    this.network.setPartition(partition);
    this.stats.partitions++;
    this.trace.log(
      () => `partition ${partition.mode}: ${partition.description} for ${durationMs.toFixed(0)} ms`,
    );
    this.after(durationMs, () => {
      if (epoch !== this.partitionEpoch) return;
      this.network.setPartition(null);
      this.trace.log(() => 'partition healed');
    });
  }

  private clog(): void {
    const pair = this.twoMembers();
    if (pair === null) return;
    const [from, to] = pair;
    const until = this.time.now + this.random.float() * this.options.network.clogDurationMaxMs;
    this.network.clog(from, to, until);
    this.stats.clogs++;
    this.trace.log(() => `clog ${from}->${to} until ${until.toFixed(1)}`);
  }

  private crash(): void {
    const id = this.pickUp();
    if (id === null || this.spared(id)) return;
    const kill = (): void => this.crashAndRestart(id);
    if (this.random.float() < this.options.process.boundaryCrashFraction) {
      const point = this.random.int(2) === 0 ? 'beforeWrite' : 'afterWrite';
      // Some crashes wait for a snapshot write: an install from the leader, or a compaction.
      const target = this.random.float() < 0.3 ? 'snapshot' : 'any';
      this.stats.boundaryCrashes++;
      this.trace.log(() => `arm crash of ${id} ${point} (${target} write)`);
      this.cluster.disk(id).armCrash(point, kill, target);
    } else {
      kill();
    }
  }

  /** Every member dies at once (a power cut, a browser closed with all its tabs). */
  private crashAll(): void {
    this.stats.fullRestarts++;
    this.trace.log(() => 'crash every member');
    for (const id of this.cluster.ids) if (!this.spared(id)) this.crashAndRestart(id);
  }

  /**
   * Whether a fault drawn for `id` passes it by: an edge member is struck only with the seed's
   * `edge.faultShare` (a tab always, with no draw, so runs without edge members are unchanged).
   */
  private spared(id: MemberId): boolean {
    if (!this.edgeIds.has(id) || this.random.float() < this.options.edge.faultShare) return false;
    this.stats.edgeFaultsSkipped++;
    return true;
  }

  /** Crashes `id` now (during the safety phase) and restarts it after a random delay. */
  crashAndRestart(id: MemberId): void {
    if (!this.active || !this.cluster.isUp(id)) return;
    this.trace.log(() => `crash ${id} (${this.cluster.disk(id).inflightCount} writes in flight)`);
    this.cluster.crash(id);
    this.stats.crashes++;
    this.after(this.random.float() * this.options.process.restartDelayMaxMs, () => {
      if (this.cluster.isUp(id) || this.cluster.isRetired(id)) return;
      this.trace.log(() => `restart ${id}`);
      this.cluster.start(id);
    });
  }

  private pause(): void {
    const id = this.pickUp();
    if (id === null || this.time.isPaused(id) || this.spared(id)) return;
    const duration = this.random.float() * this.options.process.pauseDurationMaxMs;
    this.time.pause(id);
    this.stats.pauses++;
    this.trace.log(() => `pause ${id} for ${duration.toFixed(1)} ms`);
    this.time.schedule(duration, null, 'control', () => {
      this.trace.log(() => `resume ${id}`);
      this.time.resume(id);
    });
  }

  private throttle(): void {
    const id = this.pickUp();
    if (id === null || this.time.isThrottled(id) || this.edgeIds.has(id)) return;
    const { tickMs } = this.options.timing;
    const { throttlePeriodMaxMs, throttleDurationMaxMs } = this.options.process;
    const period = tickMs + this.random.float() * (throttlePeriodMaxMs - tickMs);
    const duration = this.random.float() * throttleDurationMaxMs;
    this.time.throttle(id, period);
    this.stats.throttles++;
    this.trace.log(
      () => `throttle ${id} timers to every ${period.toFixed(0)} ms for ${duration.toFixed(0)} ms`,
    );
    this.time.schedule(duration, null, 'control', () => this.time.unthrottle(id));
  }

  /** Asks a member that believes it leads to hand leadership to another member. */
  private transfer(): void {
    const leaders = this.cluster.ids.filter(
      (id) => this.cluster.member(id)?.status().role === 'leader',
    );
    if (leaders.length === 0) return;
    const leader = leaders[this.random.int(leaders.length)]!;
    this.stats.transfers++;
    // Runs inside the leader, like an API call to its tab (held while it is paused).
    this.time.schedule(0, leader, 'client', () => {
      const member = this.cluster.member(leader);
      if (member === null || member.status().role !== 'leader') return;
      const others = member.status().voters.filter((id) => id !== leader);
      if (others.length === 0) return;
      const target = others[this.random.int(others.length)]!;
      // Half as a closing tab's hand-off: TimeoutNow right behind the catch-up append.
      const leaving = this.random.int(2) === 0;
      this.trace.log(
        () => `transfer leadership ${leader} -> ${target}${leaving ? ' leaving' : ''}`,
      );
      member.transferLeadership(target, { leaving });
    });
  }

  /** Runs `action` at the times of a Poisson process of `ratePerSecond`, while active. */
  private poisson(ratePerSecond: number, action: () => void): void {
    if (ratePerSecond <= 0) return;
    const next = (): void => {
      this.after(this.exponential(1000 / ratePerSecond), () => {
        action();
        next();
      });
    };
    next();
  }

  /** Schedules `action` after `delayMs` if faults are still active then. */
  private after(delayMs: number, action: () => void): void {
    this.time.schedule(delayMs, null, 'control', () => {
      if (this.active) action();
    });
  }

  private exponential(meanMs: number): number {
    return -Math.log(1 - this.random.float()) * meanMs;
  }

  private pickUp(): MemberId | null {
    const up = this.cluster.ids.filter((id) => this.cluster.isUp(id));
    return up.length === 0 ? null : up[this.random.int(up.length)]!;
  }

  private twoMembers(): [MemberId, MemberId] | null {
    const ids = this.cluster.ids;
    if (ids.length < 2) return null;
    const from = this.random.int(ids.length);
    const to = (from + 1 + this.random.int(ids.length - 1)) % ids.length;
    return [ids[from]!, ids[to]!];
  }
}

/** Every link into and out of `member`. */
function isolateBlocked(member: MemberId, ids: readonly MemberId[]): Set<string> {
  const blocked = new Set<string>();
  for (const other of ids) {
    if (other === member) continue;
    blocked.add(linkKey(member, other));
    blocked.add(linkKey(other, member));
  }
  return blocked;
}
