/**
 * One simulated world, wired from a seed's options: virtual time, network, disks, cluster,
 * clients, faults, membership churn and the invariant checker, plus the loop that runs events one
 * at a time, lets the promise chains each event started settle, and checks the invariants of the
 * member the event touched before the next event runs.
 */
import { membersOf } from '../../src/core/membership.js';
import { createSeededRandom } from '../../src/core/random.js';
import type { Random } from '../../src/core/random.js';
import type { ClusterConfig, MemberId, Role } from '../../src/core/types.js';
import { ApplyLog } from './apply-log.js';
import { AutopilotHosts } from './autopilot-host.js';
import { MembershipChurn } from './churn.js';
import { SimCluster } from './cluster.js';
import type { MemberParts } from './cluster.js';
import { FaultInjector } from './faults.js';
import { History } from './history.js';
import { InvariantChecker } from './invariants.js';
import type { ViolationKind } from './invariants.js';
import { SimNetwork } from './network.js';
import { initialMemberIds } from './options.js';
import type { SimOptions, StorageOptions } from './options.js';
import { SimDisk } from './storage.js';
import { Tabs } from './tabs.js';
import { Trace, describeMessage } from './trace.js';
import { drainMicrotasks, MemberScheduler, VirtualTime } from './virtual-time.js';
import { IdbMirror } from './idb-mirror.js';
import type { SimEvent } from './virtual-time.js';
import { Workload } from './workload.js';

/** Most events one seed may run (a livelock or runaway is a failure, not a hang). */
export const EVENTS_PER_SEED_MAX = 1_000_000;

/** Why `runUntil` returned. */
export type RunStop = 'time' | 'condition' | 'violation' | 'budget';

/** A distinct stream of randomness per concern, so one concern's draws do not shift another's. */
export function streamRandom(seed: number, stream: number): Random {
  return createSeededRandom(
    Math.imul((seed ^ 0x2545f491) >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b),
  );
}

/** One simulated world and its event loop; see the module comment. */
export class Simulation {
  readonly time = new VirtualTime({ queuedEventsMax: 1_000_000 });
  readonly trace: Trace;
  /** Proposals followers forwarded to a leader (messages sent). */
  private proposalsForwarded = 0;
  /** One per member in IndexedDB runs (see idb-mirror.ts). */
  private readonly mirrors: IdbMirror[] = [];
  readonly invariants: InvariantChecker;
  readonly network: SimNetwork;
  readonly cluster: SimCluster;
  readonly applyLog: ApplyLog;
  readonly history: History;
  readonly workload: Workload;
  readonly faults: FaultInjector;
  /** Membership changes in `churn` mode. */
  readonly churn: MembershipChurn;
  /** In `autopilot` mode: the room's tabs and every tab's autopilot loop (null otherwise). */
  readonly tabs: Tabs | null = null;
  readonly autopilot: AutopilotHosts | null = null;
  /** The members the run starts with (m1..mN; the last `--edge` of them edge members, eK..eN). */
  readonly initialIds: readonly MemberId[];
  /** The edge members (options.ts `EdgeOptions`): a WAN hop away, on a transactional disk. */
  readonly edgeIds: ReadonlySet<MemberId>;
  private readonly roles = new Map<MemberId, string>();
  /** The configuration the client directory was last built from. */
  private directoryConfig: ClusterConfig | null = null;
  /** The highest term in which a leader was seen (new leaders are reported to the faults). */
  private leaderTermSeen = 0;

  constructor(
    readonly options: SimOptions,
    private readonly stopAtFirstViolation: boolean,
    verbose: boolean,
  ) {
    const { seed } = options;
    const now = (): number => this.time.now;
    this.initialIds = initialMemberIds(options.members, options.edge.ids.length);
    this.edgeIds = new Set(options.edge.ids);
    this.trace = new Trace(verbose, now);
    this.invariants = new InvariantChecker({
      now,
      disk: (id) => this.cluster.diskOrNull(id)?.durable,
    });
    const edgeLinks = this.edgeIds.size === 0 ? null : { ...options.edge, ids: this.edgeIds };
    this.network = new SimNetwork(
      this.time,
      streamRandom(seed, 1),
      options.network,
      (message) => {
        this.trace.log(() => `send ${describeMessage(message)}`);
        this.invariants.onSend(message);
        if (message.type === 'forward') this.proposalsForwarded++;
      },
      edgeLinks,
    );
    this.applyLog = new ApplyLog(
      now,
      (member, context, command) => this.invariants.onApply(member, context, command),
      (member, kind, index, digest) => {
        this.trace.log(() => `${member} ${kind} snapshot at ${index} (${digest})`);
        this.invariants.onSnapshot(member, kind, index, digest);
      },
    );
    this.cluster = new SimCluster({
      seed,
      time: this.time,
      network: this.network,
      applyLog: this.applyLog,
      timing: options.timing,
      compaction: options.compaction,
      bugs: options.bugs,
      provision: (id, ordinal) => this.provision(id, ordinal),
      onFailure: (member, message) =>
        this.invariants.report('memberFailed', `${member}: ${message}`),
      onStart: (member) => {
        this.invariants.restarted(member);
        this.autopilot?.onStart(member);
      },
    });
    this.history = new History(now);
    this.workload = new Workload({
      time: this.time,
      random: streamRandom(seed, 2),
      options: options.workload,
      cluster: this.cluster,
      history: this.history,
      trace: this.trace,
      attemptTimeoutMs: options.timing.proposeTimeoutMs + 200,
      onUnexpected: (message) => this.report('exception', message),
    });
    this.faults = new FaultInjector(
      this.time,
      streamRandom(seed, 3),
      options,
      this.cluster,
      this.network,
      this.trace,
    );
    this.churn = new MembershipChurn({
      time: this.time,
      random: streamRandom(seed, 4),
      options,
      cluster: this.cluster,
      faults: this.faults,
      trace: this.trace,
      onUnexpected: (message) => this.report('exception', message),
    });
    if (options.membershipMode === 'autopilot') {
      const { votersTarget, removeAfterMs, unhealthyAfterMs } = options.autopilot;
      const neverVote = new Set(options.edge.neverVote);
      const tabs = new Tabs({
        time: this.time,
        random: streamRandom(seed, 5),
        options: options.autopilot,
        cluster: this.cluster,
        trace: this.trace,
        edge: this.edgeIds,
        neverVote,
      });
      this.tabs = tabs;
      this.autopilot = new AutopilotHosts({
        time: this.time,
        cluster: this.cluster,
        network: this.network,
        inRoom: (id) => tabs.has(id),
        policy: { votersTarget, removeAfterMs, unhealthyAfterMs },
        preferences: {
          preferred: new Set([...this.edgeIds].filter((id) => !neverVote.has(id))),
          neverVote,
        },
        trace: this.trace,
        onUnexpected: (message) => this.report('autopilot', message),
      });
      tabs.hosts = this.autopilot;
    }
  }

  /** Starts the seed's membership changes: the random churn, or the tabs and their autopilot. */
  startMembership(): void {
    if (this.tabs === null) this.churn.start();
    else this.tabs.start();
  }

  /** No new membership changes (the liveness phase); an autopilot keeps running, as in a browser. */
  stopMembership(): void {
    this.churn.stop();
    this.tabs?.stop();
  }

  /**
   * Creates and starts the initial members: all bootstrapped with one configuration of every
   * initial member, or only m1 bootstrapped alone (the churn then adds and promotes the others).
   */
  startCluster(): void {
    const all = this.options.membership.bootstrap === 'all';
    const first = this.initialIds[0]!;
    for (const id of this.initialIds) {
      const voters = all ? this.initialIds : id === first ? [first] : null;
      this.cluster.create(id, voters === null ? null : { voters, learners: [] });
      this.tabs?.enter(id);
      this.cluster.start(id);
    }
    this.trace.log(
      () =>
        `start ${this.initialIds.join(',')}: ${all ? 'all bootstrapped' : `only ${first} bootstrapped`}` +
        (this.edgeIds.size === 0 ? '' : `; edge members ${[...this.edgeIds].join(',')}`),
    );
  }

  /**
   * The disk and skewed clock of the `ordinal`-th member created, each with its own randomness;
   * an edge member's disk is transactional (never torn) and slower.
   */
  private provision(id: MemberId, ordinal: number): MemberParts {
    const { seed, timing } = this.options;
    const storage = this.edgeIds.has(id) ? this.edgeStorage() : this.options.storage;
    const clock = streamRandom(seed, 1000 + ordinal);
    const offset = clock.float() * 1000;
    const rate = timing.clockRates[ordinal] ?? 0.96 + clock.float() * 0.08;
    const mirror = storage.backend === 'indexeddb' ? new IdbMirror(`s${seed}-${id}`) : null;
    if (mirror !== null) this.mirrors.push(mirror);
    const disk = new SimDisk(
      id,
      this.time,
      streamRandom(seed, 2000 + ordinal),
      storage,
      {
        onDurable: (member, before, update) => this.invariants.onDurable(member, before, update),
        onCrash: (member, summary) =>
          this.trace.log(() => `disk of ${member} at crash: ${summary}`),
        onRefused: (member, error) =>
          this.invariants.report('storageRefused', `${member}: ${error.message}`),
      },
      mirror,
    );
    return { disk, scheduler: new MemberScheduler(this.time, id, rate, offset) };
  }

  /** An edge member's disk: the seed's, but never torn, and with the edge's write latency. */
  private edgeStorage(): StorageOptions {
    const { storage, edge } = this.options;
    return {
      ...storage,
      tornProbability: 0,
      tornHardStateAlone: false,
      writeLatencyMinMs: edge.writeLatencyMinMs,
      writeLatencyMeanMs: edge.writeLatencyMeanMs,
    };
  }

  /** Counters summed over the run's disks and state machines, for reports. */
  counters(): Record<string, number> {
    let snapshotsInstalled = 0;
    let compactions = 0;
    for (const id of this.cluster.everyId) {
      const stats = this.cluster.disk(id).stats;
      snapshotsInstalled += stats.snapshotsInstalled;
      compactions += stats.compactions;
    }
    const churn = this.churn.stats;
    return {
      snapshotsInstalled,
      snapshotsTaken: this.applyLog.snapshotsTaken,
      snapshotsRestored: this.applyLog.snapshotsRestored,
      compactions,
      configChangesCommitted: this.invariants.stats.configChangesCommitted,
      configChangeAttempts: churn.attempts,
      configChangesRefusedInProgress: churn.inProgress,
      storageWipes: churn.wipes,
      membersCreated: this.cluster.everyId.length,
      membersRetired: this.cluster.retiredCount,
      proposalsForwarded: this.proposalsForwarded,
      ...this.edgeCounters(),
      ...this.autopilotCounters(),
      ...(this.mirrors.length === 0
        ? {}
        : {
            indexedDbWrites: sum(this.mirrors.map((mirror) => mirror.writes)),
            indexedDbRecoveries: sum(this.mirrors.map((mirror) => mirror.recoveries)),
          }),
    };
  }

  /** Runs with edge members: how many, and the faults that passed them by. */
  private edgeCounters(): Record<string, number> {
    if (this.edgeIds.size === 0) return {};
    return {
      edgeMembers: this.edgeIds.size,
      edgeNeverVote:
        this.options.membershipMode === 'autopilot' ? this.options.edge.neverVote.length : 0,
      edgeFaultsSkipped: this.faults.stats.edgeFaultsSkipped,
    };
  }

  /** Autopilot seeds: decisions by type and what became of them, and what the tabs did. */
  private autopilotCounters(): Record<string, number> {
    if (this.autopilot === null || this.tabs === null) return {};
    const decisions = this.autopilot.stats;
    const tabs = this.tabs.stats;
    return {
      autopilotSeeds: 1,
      autopilotAddLearner: decisions.addLearner,
      autopilotPromote: decisions.promote,
      autopilotDemote: decisions.demote,
      autopilotRemove: decisions.remove,
      autopilotApplied: decisions.applied,
      autopilotRefusedInProgress: decisions.inProgress,
      autopilotNotLeader: decisions.notLeader,
      autopilotUnknown: decisions.unknown,
      autopilotPreferredPromoted: decisions.preferredPromoted,
      autopilotNeverVoteDemoted: decisions.neverVoteDemoted,
      autopilotSelfDemoted: decisions.selfDemoted,
      tabsJoined: tabs.joined,
      tabsClosedAnnounced: tabs.closedAnnounced,
      tabsClosedVanished: tabs.closedVanished,
      tabsClosesDeferred: tabs.closesDeferred,
      tabsReloaded: tabs.reloaded,
      tabsFrozen: tabs.frozen,
    };
  }

  report(kind: ViolationKind, message: string): void {
    this.trace.log(() => `VIOLATION ${kind}: ${message}`);
    this.invariants.report(kind, message);
  }

  /**
   * Runs events until virtual time `untilMs`, until `condition()` holds (checked between events),
   * or until a violation when stopping at the first one.
   */
  async runUntil(untilMs: number, condition?: () => boolean): Promise<RunStop> {
    // Work started outside an event (a member booting, a client starting) settles first.
    await this.settle();
    for (;;) {
      if (this.stopAtFirstViolation && this.invariants.violationCount > 0) return 'violation';
      if (condition?.() === true) return 'condition';
      const next = this.time.nextTime();
      if (next === undefined || next > untilMs) {
        this.time.advanceTo(untilMs);
        return 'time';
      }
      if (this.time.eventsRun >= EVENTS_PER_SEED_MAX) {
        this.report('budget', `more than ${EVENTS_PER_SEED_MAX} events`);
        return 'budget';
      }
      let event: SimEvent | null;
      try {
        event = this.time.step();
      } catch (error) {
        this.report('exception', `event threw ${(error as Error).stack ?? String(error)}`);
        continue;
      }
      if (event === null) continue;
      await this.settle();
      this.afterEvent(event);
    }
  }

  /** Lets the promise chains the last event started settle, IndexedDB work included. */
  private async settle(): Promise<void> {
    await drainMicrotasks();
    while (this.mirrors.some((mirror) => mirror.busy)) {
      await Promise.all(this.mirrors.map((mirror) => mirror.whenIdle()));
      await drainMicrotasks();
    }
    for (const mirror of this.mirrors) {
      if (mirror.failure === null || mirror.reported) continue;
      mirror.reported = true;
      this.report('storageRefused', `${mirror.memberId}: ${mirror.failure}`);
    }
  }

  /** Deletes the IndexedDB databases of this run. */
  async close(): Promise<void> {
    await Promise.all(this.mirrors.map((mirror) => mirror.destroy()));
  }

  private afterEvent(event: SimEvent): void {
    if (event.owner !== null) this.checkMember(event.owner);
    else if (event.kind === 'control') for (const id of this.cluster.everyId) this.checkMember(id);
  }

  private checkMember(id: MemberId): void {
    this.cluster.checkFailure(id);
    const incarnation = this.cluster.incarnation(id);
    const member = incarnation?.member;
    if (incarnation === null || member === null || member === undefined) return;
    const inspection = member.inspect();
    this.invariants.checkMember(inspection, incarnation.machine.appliedIndex);
    if (inspection.role === 'leader') {
      // The core hands out the same configuration object until it changes.
      if (inspection.config !== this.directoryConfig) {
        this.directoryConfig = inspection.config;
        this.cluster.directory = membersOf(inspection.config);
      }
      if (inspection.term > this.leaderTermSeen) {
        this.leaderTermSeen = inspection.term;
        this.faults.onNewLeader(id, inspection.term);
      }
    }
    if (this.trace.enabled) this.traceRole(id, inspection.role, inspection.term, inspection.commit);
  }

  private traceRole(id: MemberId, role: Role, term: number, commit: number): void {
    const state = `${role} t${term}`;
    if (this.roles.get(id) === state) return;
    this.roles.set(id, state);
    this.trace.log(() => `${id} is ${state} (commit ${commit})`);
  }
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
