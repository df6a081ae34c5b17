/**
 * Per-seed simulation options, drawn swarm-style (TigerBeetle's VOPR): each seed draws its own
 * fault rates, so some seeds are calm and some are nasty, and a fault class may be off entirely.
 * Everything here is plain data derived from the seed, printed with a failing seed.
 */
import type { VotersTarget } from '../../src/client/autopilot.js';
import type { CoreBug } from '../../src/core/config.js';
import { createSeededRandom } from '../../src/core/random.js';
import type { Random } from '../../src/core/random.js';
import type { MemberId } from '../../src/core/types.js';
import type { PartitionMode } from './partitions.js';
import { PARTITION_MODES } from './partitions.js';

export interface NetworkOptions {
  readonly delayMinMs: number;
  readonly delayMeanMs: number;
  /** Upper bound of one delivery delay (the tail of the exponential is cut here). */
  readonly delayMaxMs: number;
  readonly lossProbability: number;
  readonly duplicateProbability: number;
  /** Chance, per sent message, that an old message is sent again as well. */
  readonly replayProbability: number;
  /** Clogs per second (whole cluster): a one-way link holds its messages, then releases a burst. */
  readonly clogRatePerSecond: number;
  readonly clogDurationMaxMs: number;
  /** Partition modes this seed uses (empty: no partitions). */
  readonly partitionModes: readonly PartitionMode[];
  readonly partitionDurationMeanMs: number;
  readonly healedDurationMeanMs: number;
  /**
   * Chance that a newly elected leader is cut off from everyone a moment (0–3 ticks) after it
   * wins (Jepsen's "isolate the leader" nemesis): leaves divergent uncommitted tails behind, the
   * raw material of figure-8 histories.
   */
  readonly isolateNewLeaderProbability: number;
  /**
   * Slow followers (TESTING.md 10): one member at a time is cut off from everyone for a long
   * while, so that the log moves past its position and is compacted; it then needs a snapshot.
   */
  readonly slowFollowerRatePerSecond: number;
  readonly slowFollowerDurationMinMs: number;
  readonly slowFollowerDurationMaxMs: number;
}

export interface StorageOptions {
  readonly writeLatencyMinMs: number;
  readonly writeLatencyMeanMs: number;
  /** At a crash, the chance that the oldest lost write is torn (a prefix of it survives). */
  readonly tornProbability: number;
  /** At a crash, the chance that each in-flight write (oldest first) made it to disk anyway. */
  readonly inflightSurvivalProbability: number;
  /**
   * Whether a torn write may keep its hard state while losing some of its entries. Off, a torn
   * write behaves like a write-ahead log (entries first, hard state last): the hard state
   * survives only with all the entries. On, it models a store that does not order the two — the
   * "follower lost its log tail under a persisted commit" case of TESTING.md 17.
   */
  readonly tornHardStateAlone: boolean;
  /** 'indexeddb': every durable write is also made on IndexedDbStorage (see idb-mirror.ts). */
  readonly backend: StorageBackend;
}

export type StorageBackend = 'memory' | 'indexeddb';

export interface ProcessOptions {
  readonly crashRatePerSecond: number;
  /** Fraction of crashes aimed at a persistence boundary (right before or after a write). */
  readonly boundaryCrashFraction: number;
  readonly restartDelayMaxMs: number;
  /** Crashes of every member at once (TESTING.md 23: full restarts), per second. */
  readonly fullRestartRatePerSecond: number;
  readonly pauseRatePerSecond: number;
  readonly pauseDurationMaxMs: number;
  readonly throttleRatePerSecond: number;
  readonly throttlePeriodMaxMs: number;
  readonly throttleDurationMaxMs: number;
  /** Leadership transfers asked of the current leader, per second (TimeoutNow, lease revocation). */
  readonly transferRatePerSecond: number;
}

/** The core's compaction settings, drawn small so that snapshots and multi-chunk transfers are common. */
export interface CompactionOptions {
  readonly snapshotEntriesThreshold: number;
  readonly snapshotBytesThreshold: number;
  readonly compactionTailEntries: number;
  readonly snapshotChunkBytes: number;
}

/** How the cluster starts and how its membership changes during the safety phase. */
export interface MembershipOptions {
  /**
   * `all`: every initial member is bootstrapped with the same configuration. `one`: only the first
   * is (a one-voter cluster); the others start empty and the churn adds and promotes them.
   */
  readonly bootstrap: 'all' | 'one';
  /** Churn events per second (each fires a burst of change attempts at the believed leader). */
  readonly churnRatePerSecond: number;
  /** Most change attempts in one burst: more than one hits ConfigChangeInProgressError. */
  readonly burstMax: number;
  /** Chance that a member whose removal committed is left running (else it is stopped for good). */
  readonly keepRemovedRunningProbability: number;
  /** When the leader is to be removed or demoted, the chance to transfer leadership first. */
  readonly transferBeforeSelfRemovalProbability: number;
  /** Chance that the leader or the member being changed crashes shortly after a change is proposed. */
  readonly crashDuringChangeProbability: number;
  /** Chance that an attempt is deliberate nonsense (promote a voter, remove a stranger). */
  readonly invalidChangeProbability: number;
  /**
   * Storage wipes per second (TESTING.md 19: site data cleared, eviction): a member loses its disk
   * for good and comes back as a new, empty member with a new id; the churn removes the old id.
   */
  readonly wipeRatePerSecond: number;
}

/**
 * Who changes the membership: `churn` (random changes at the believed leader, churn.ts) or
 * `autopilot` (the browser's policy, src/client/autopilot.ts, run by the leader's tab as the tabs
 * of a room come and go, tabs.ts and autopilot-host.ts).
 */
export type MembershipMode = 'churn' | 'autopilot';

/** The autopilot's policy and the tabs of its room (autopilot mode only). */
export interface AutopilotOptions {
  readonly votersTarget: VotersTarget;
  /** The policy's timings, shortened in virtual time so that a seed sees many decisions. */
  readonly removeAfterMs: number;
  readonly unhealthyAfterMs: number;
  /** New tabs (a fresh id, an empty disk) opened in the room, per second. */
  readonly joinRatePerSecond: number;
  /** Tabs closed for good, per second. */
  readonly closeRatePerSecond: number;
  /** Of closes: the share that says goodbye (removed at once); the others just vanish. */
  readonly announcedCloseFraction: number;
  /** Reloads (out of the room, crashed, back with the same id and disk shortly after), per second. */
  readonly reloadRatePerSecond: number;
  /** Freezes long enough to make a voter unhealthy (a frozen or background tab), per second. */
  readonly freezeRatePerSecond: number;
  readonly freezeDurationMaxMs: number;
  /** Most tabs in the room at once. */
  readonly roomTabsMax: number;
}

/**
 * Edge members (issue 13, `--edge N`): always-on members (a Durable Object, a server process) among
 * the initial ones, with their own latency and durability profile. Every message to or from one
 * crosses a WAN hop — a higher, steadier delay than between tabs (a narrow tail: WebSocket over
 * TCP reorders little); its disk is a transactional store — a crash never tears a write (the
 * unacknowledged tail is kept whole or lost whole, an acknowledged write is never lost) — but
 * persists take longer; it is rarely crashed or paused and never throttled (no hidden tab), and
 * as no tab it never closes, reloads or freezes. In autopilot mode the policy prefers edge members
 * as voters, and one may be configured never to vote.
 */
export interface EdgeOptions {
  /** The edge members: the last initial members, named e<N> instead of m<N>. */
  readonly ids: readonly MemberId[];
  /** Of `ids` (autopilot mode only): configured never to vote; the others are preferred voters. */
  readonly neverVote: readonly MemberId[];
  readonly delayMinMs: number;
  readonly delayJitterMeanMs: number;
  readonly delayMaxMs: number;
  readonly writeLatencyMinMs: number;
  readonly writeLatencyMeanMs: number;
  /** Chance that a crash or pause drawn for an edge member strikes (else it is skipped). */
  readonly faultShare: number;
}

export interface TimingOptions {
  readonly tickMs: number;
  readonly electionTimeoutTicksMin: number;
  readonly electionTimeoutTicksMax: number;
  readonly heartbeatIntervalTicks: number;
  /**
   * Core batching limits, drawn small on some seeds (etcd randomizes them too): tiny appends make
   * a lagging follower catch up one old entry at a time, which exposes figure-8 style bugs.
   */
  readonly appendEntriesMax: number;
  readonly inflightAppendsMax: number;
  /** Drawn small on some seeds, so learners take turns (and lose batches) under every fault. */
  readonly learnerBatchesPerHeartbeat: number;
  /** Each initial member's clock rate (skew), within ±4 % so relative drift stays under 10 %. */
  readonly clockRates: readonly number[];
  readonly proposeTimeoutMs: number;
  readonly readTimeoutMs: number;
}

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: number;
  /** Most operations (all clients) in the history. */
  readonly opsMax: number;
  readonly thinkTimeMaxMs: number;
  readonly readFraction: number;
  /** Of reads: served with a leader lease instead of ReadIndex. */
  readonly leaseReadFraction: number;
  /** Of reads: sent to a random member instead of the believed leader. */
  readonly followerReadFraction: number;
  /** Of writes: compare-and-set / delete instead of put. */
  readonly casFraction: number;
  readonly deleteFraction: number;
  /** A client gives up on an operation after this long; its outcome is then unknown. */
  readonly opDeadlineMs: number;
}

export interface SimOptions {
  readonly seed: number;
  readonly members: number;
  readonly bugs: readonly CoreBug[];
  readonly safetyMs: number;
  /** After healing, a write must commit within this long. */
  readonly livenessBudgetMs: number;
  /** After the workload stops, every member must converge within this long. */
  readonly convergeBudgetMs: number;
  readonly network: NetworkOptions;
  readonly storage: StorageOptions;
  readonly process: ProcessOptions;
  readonly timing: TimingOptions;
  readonly workload: WorkloadOptions;
  readonly compaction: CompactionOptions;
  readonly membership: MembershipOptions;
  readonly membershipMode: MembershipMode;
  readonly autopilot: AutopilotOptions;
  readonly edge: EdgeOptions;
}

/** Tweaks a run may ask for; everything else comes from the seed. */
export interface SimOverrides {
  readonly members: number;
  readonly bugs?: readonly CoreBug[];
  readonly storageBackend?: StorageBackend;
  /** `mixed` (the default): a share of the seeds, drawn from the seed, runs the autopilot. */
  readonly membership?: MembershipMode | 'mixed';
  /** Initial members that are edge members (default 0); at most all but one of them. */
  readonly edge?: number;
}

/** Share of the seeds that run the autopilot when the mode is `mixed`. */
export const AUTOPILOT_SEED_SHARE = 1 / 3;

const uniform = (random: Random, min: number, max: number): number =>
  min + random.float() * (max - min);
/** On with probability `p`, then drawn in [min, max]; off is 0. */
const maybe = (random: Random, p: number, min: number, max: number): number =>
  random.float() < p ? uniform(random, min, max) : 0;

/** Draws every option of one seed. The same seed and overrides always give the same options. */
export function drawSimOptions(seed: number, overrides: SimOverrides): SimOptions {
  const random = createSeededRandom(seed ^ 0x5eed0915);
  const timing = drawTiming(random, overrides.members);
  const safetyMs = Math.round(uniform(random, 3000, 15000));
  return {
    seed,
    members: overrides.members,
    bugs: overrides.bugs ?? [],
    safetyMs,
    livenessBudgetMs: 6000,
    convergeBudgetMs: 4000,
    network: drawNetwork(random),
    storage: { ...drawStorage(random), backend: overrides.storageBackend ?? 'memory' },
    process: drawProcess(random),
    timing,
    workload: drawWorkload(random, safetyMs),
    compaction: drawCompaction(random),
    membership: drawMembership(random),
    // Their own stream: churn seeds draw exactly what they drew before the autopilot mode existed.
    ...drawAutopilot(createSeededRandom(seed ^ 0x0a070b17), overrides.membership ?? 'mixed'),
    // Their own stream too: a run without edge members draws exactly what it drew before them.
    edge: drawEdge(createSeededRandom(seed ^ 0x0ed9e013), overrides.members, overrides.edge ?? 0),
  };
}

/** The ids of a run's initial members: tabs m1..mK, then edge members e(K+1)..eN. */
export function initialMemberIds(members: number, edge: number): MemberId[] {
  const tabs = members - edgeCount(members, edge);
  return Array.from({ length: members }, (_, i) => `${i < tabs ? 'm' : 'e'}${i + 1}`);
}

/** Edge members asked for, capped so that at least one initial member is a tab. */
const edgeCount = (members: number, edge: number): number =>
  Math.max(0, Math.min(edge, members - 1));

/** Share of the edge members configured never to vote (autopilot mode reads it). */
const EDGE_NEVER_VOTE_SHARE = 0.25;

function drawEdge(random: Random, members: number, edge: number): EdgeOptions {
  const ids = initialMemberIds(members, edge).filter((id) => id.startsWith('e'));
  const delayMinMs = uniform(random, 5, 30);
  const delayJitterMeanMs = uniform(random, 0.5, 3);
  const writeLatencyMinMs = uniform(random, 1, 5);
  return {
    ids,
    neverVote: ids.filter(() => random.float() < EDGE_NEVER_VOTE_SHARE),
    delayMinMs,
    delayJitterMeanMs,
    delayMaxMs: delayMinMs + 8 * delayJitterMeanMs,
    writeLatencyMinMs,
    writeLatencyMeanMs: writeLatencyMinMs + uniform(random, 1, 8),
    faultShare: uniform(random, 0.05, 0.2),
  };
}

function drawTiming(random: Random, members: number): TimingOptions {
  const electionTimeoutTicksMin = [10, 10, 10, 8, 15][random.int(5)]!;
  const heartbeatIntervalTicks = random.float() < 0.8 ? 1 : 2;
  const clockRates: number[] = [];
  for (let i = 0; i < members; i++) clockRates.push(uniform(random, 0.96, 1.04));
  return {
    tickMs: 10,
    electionTimeoutTicksMin,
    electionTimeoutTicksMax: electionTimeoutTicksMin * 2,
    heartbeatIntervalTicks,
    appendEntriesMax: [1, 2, 3, 256, 256][random.int(5)]!,
    inflightAppendsMax: [1, 4, 64, 64][random.int(4)]!,
    learnerBatchesPerHeartbeat: [1, 2, 10][random.int(3)]!,
    clockRates,
    proposeTimeoutMs: 1000,
    readTimeoutMs: 1000,
  };
}

function drawNetwork(random: Random): NetworkOptions {
  const delayMinMs = uniform(random, 0.1, 2);
  const delayMeanMs = delayMinMs + uniform(random, 0.5, random.float() < 0.2 ? 30 : 8);
  const modes = PARTITION_MODES.filter(() => random.float() < 0.5);
  return {
    delayMinMs,
    delayMeanMs,
    delayMaxMs: delayMinMs + (delayMeanMs - delayMinMs) * 8,
    lossProbability: maybe(random, 0.6, 0, 0.3),
    duplicateProbability: maybe(random, 0.4, 0, 0.2),
    replayProbability: maybe(random, 0.4, 0, 0.1),
    clogRatePerSecond: maybe(random, 0.4, 0.2, 3),
    clogDurationMaxMs: uniform(random, 50, 1000),
    partitionModes: random.float() < 0.8 ? modes : [],
    partitionDurationMeanMs: uniform(random, 50, 2000),
    healedDurationMeanMs: uniform(random, 0, 2000),
    isolateNewLeaderProbability: maybe(random, 0.5, 0.2, 0.9),
    slowFollowerRatePerSecond: maybe(random, 0.6, 0.1, 0.5),
    slowFollowerDurationMinMs: 500,
    slowFollowerDurationMaxMs: uniform(random, 1000, 4000),
  };
}

function drawStorage(random: Random): Omit<StorageOptions, 'backend'> {
  const writeLatencyMinMs = uniform(random, 0.05, 1);
  return {
    writeLatencyMinMs,
    writeLatencyMeanMs: writeLatencyMinMs + uniform(random, 0.1, random.float() < 0.2 ? 20 : 4),
    tornProbability: maybe(random, 0.6, 0.2, 1),
    inflightSurvivalProbability: uniform(random, 0, 0.7),
    tornHardStateAlone: random.float() < 0.5,
  };
}

function drawProcess(random: Random): ProcessOptions {
  return {
    crashRatePerSecond: maybe(random, 0.7, 0.1, 1.5),
    boundaryCrashFraction: uniform(random, 0, 0.7),
    restartDelayMaxMs: uniform(random, 10, 1500),
    fullRestartRatePerSecond: maybe(random, 0.3, 0.05, 0.3),
    pauseRatePerSecond: maybe(random, 0.5, 0.1, 1),
    pauseDurationMaxMs: uniform(random, 100, 3000),
    throttleRatePerSecond: maybe(random, 0.3, 0.1, 0.5),
    throttlePeriodMaxMs: uniform(random, 100, 1000),
    throttleDurationMaxMs: uniform(random, 500, 3000),
    transferRatePerSecond: maybe(random, 0.4, 0.2, 2),
  };
}

/** Operations per seed: enough for the checker to bite, few enough to keep a seed fast. */
const OPS_PER_SEED_MAX = 400;
/** Share of the operations meant for the safety phase; the rest run after healing. */
const SAFETY_OPS_SHARE = 0.8;
/** A rough operation latency when healthy, to size think times. */
const OP_LATENCY_TYPICAL_MS = 15;

function drawWorkload(random: Random, safetyMs: number): WorkloadOptions {
  const clients = 4 + random.int(7);
  // Spread the operations over the safety phase: each client's cycle is think time + latency.
  const cycleMs = (clients * safetyMs) / (OPS_PER_SEED_MAX * SAFETY_OPS_SHARE);
  return {
    clients,
    keys: 3 + random.int(3),
    opsMax: OPS_PER_SEED_MAX,
    thinkTimeMaxMs: 2 * Math.max(5, cycleMs - OP_LATENCY_TYPICAL_MS),
    readFraction: uniform(random, 0.3, 0.6),
    leaseReadFraction: uniform(random, 0, 0.4),
    followerReadFraction: uniform(random, 0, 0.5),
    casFraction: uniform(random, 0.1, 0.4),
    deleteFraction: uniform(random, 0, 0.1),
    // Short deadlines on some seeds leave writes of unknown outcome, to be settled from the log.
    opDeadlineMs: random.float() < 0.3 ? uniform(random, 300, 1000) : uniform(random, 1000, 4000),
  };
}

/** A value drawn log-uniformly in [min, max]: small values as often as large ones, by scale. */
const logUniform = (random: Random, min: number, max: number): number =>
  Math.round(Math.exp(uniform(random, Math.log(min), Math.log(max))));

function drawCompaction(random: Random): CompactionOptions {
  // Some seeds never compact (the defaults), the others compact every few dozen entries.
  const never = random.float() < 0.1;
  return {
    snapshotEntriesThreshold: never ? 10_000 : logUniform(random, 10, 300),
    snapshotBytesThreshold: random.float() < 0.2 ? logUniform(random, 256, 8192) : 8 * 1024 * 1024,
    compactionTailEntries: random.float() < 0.3 ? 0 : random.int(51),
    snapshotChunkBytes: logUniform(random, 32, 4096),
  };
}

function drawMembership(random: Random): MembershipOptions {
  const bootstrap = random.float() < 0.3 ? 'one' : 'all';
  // A one-member bootstrap needs the churn to grow the cluster; elsewhere churn may be off.
  const churnRatePerSecond =
    bootstrap === 'one' ? uniform(random, 1, 6) : maybe(random, 0.75, 0.3, 6);
  return {
    bootstrap,
    churnRatePerSecond,
    burstMax: 1 + random.int(3),
    keepRemovedRunningProbability: uniform(random, 0, 0.5),
    transferBeforeSelfRemovalProbability: uniform(random, 0, 1),
    crashDuringChangeProbability: maybe(random, 0.5, 0.05, 0.3),
    invalidChangeProbability: maybe(random, 0.5, 0.02, 0.1),
    wipeRatePerSecond: maybe(random, 0.4, 0.05, 0.4),
  };
}

function drawAutopilot(
  random: Random,
  mode: MembershipMode | 'mixed',
): { membershipMode: MembershipMode; autopilot: AutopilotOptions } {
  const autopilotSeed = random.float() < AUTOPILOT_SEED_SHARE;
  const membershipMode = mode === 'mixed' ? (autopilotSeed ? 'autopilot' : 'churn') : mode;
  const unhealthyAfterMs = logUniform(random, 150, 2000);
  return {
    membershipMode,
    autopilot: {
      votersTarget: ([1, 3, 3, 5, 5, 7] as const)[random.int(6)]!,
      removeAfterMs: logUniform(random, 200, 3000),
      unhealthyAfterMs,
      joinRatePerSecond: uniform(random, 0.2, 2),
      closeRatePerSecond: maybe(random, 0.8, 0.1, 1),
      announcedCloseFraction: uniform(random, 0, 1),
      reloadRatePerSecond: maybe(random, 0.6, 0.1, 1),
      freezeRatePerSecond: maybe(random, 0.7, 0.1, 0.8),
      freezeDurationMaxMs: unhealthyAfterMs * uniform(random, 1.2, 4),
      roomTabsMax: 3 + random.int(7),
    },
  };
}
