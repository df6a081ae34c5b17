/**
 * Membership churn during the safety phase (TESTING.md 20–23): at random times, a burst of
 * single-server changes is asked of the member that believes it leads — add a learner (an empty
 * member never bootstrapped, often a brand-new one with a fresh id and disk), promote a learner
 * (caught up or not), demote a voter, remove a learner or a voter, the leader itself included
 * (sometimes after handing leadership away first). Bursts do not wait for the previous change to
 * commit, so ConfigChangeInProgressError is hit often (and the `concurrent-config` bug has
 * material). The cluster keeps 1..7 voters. A member whose removal committed is left running
 * (it must not disrupt anyone) or stopped for good. Crashes of the leader or the member being
 * changed are sometimes aimed right after a proposal. Storage wipes (TESTING.md 19) replace a
 * member by an empty one with a new id; the dead id is then removed.
 */
import { RaftError } from '../../src/core/errors.js';
import { describeRefusal, refusalKind } from './refusals.js';
import type { Random } from '../../src/core/random.js';
import type { ConfigChange, MemberId } from '../../src/core/types.js';
import type { MemberStatus } from '../../src/runtime/member.js';
import type { SimCluster, SimMember } from './cluster.js';
import type { FaultInjector } from './faults.js';
import type { SimOptions } from './options.js';
import type { Trace } from './trace.js';
import { everyPoissonEvent } from './virtual-time.js';
import type { VirtualTime } from './virtual-time.js';

/** Most voters the churn lets a configuration have. */
const VOTERS_MAX = 7;
/** Most members (voters and learners) the churn lets a configuration have. */
const CONFIG_MEMBERS_MAX = 9;
/** Of voter demotions and removals: the share aimed at the leader itself. */
const SELF_TARGET_FRACTION = 0.25;
/** Most removed members left running at once (each one costs events, and one shows the point). */
const REMOVED_RUNNING_MAX = 2;

/** Counters for reports. */
export interface ChurnStats {
  attempts: number;
  /** Changes whose promise resolved: committed and applied at the leader. */
  applied: number;
  /** Refused with ConfigChangeInProgressError. */
  inProgress: number;
  /** Refused with InvalidConfigChangeError (deliberate nonsense, or a stale view). */
  invalid: number;
  /** Refused because the member was not (or no longer) leading, or was transferring. */
  notLeader: number;
  /** Timed out, dropped, or the leader stopped: the change may or may not have happened. */
  unknown: number;
  membersCreated: number;
  selfRemovals: number;
  transfersFirst: number;
  removedKeptRunning: number;
  removedStopped: number;
  crashesDuringChange: number;
  /** Members whose storage was wiped (each came back as a new member with a new id). */
  wipes: number;
}

/** What the churn needs from the simulation. */
export interface ChurnParts {
  readonly time: VirtualTime;
  readonly random: Random;
  readonly options: SimOptions;
  readonly cluster: SimCluster;
  readonly faults: FaultInjector;
  readonly trace: Trace;
  /** Told about an error no caller should ever see. */
  readonly onUnexpected: (message: string) => void;
}

type ChangeKind =
  'addLearner' | 'promote' | 'demote' | 'removeVoter' | 'removeLearner' | 'removeWiped';

/** Drives membership changes while active; see the module comment. */
export class MembershipChurn {
  private active = false;
  /**
   * Members a removal was ever asked for: never added again. This keeps a retired member out of
   * every later configuration: a removal that commits while an addition of the same member is in
   * the log could otherwise be undone by it.
   */
  private readonly removalAsked = new Set<MemberId>();
  /** Members whose removal committed and that were left running. */
  private readonly keptRunning = new Set<MemberId>();
  readonly stats: ChurnStats = {
    attempts: 0,
    applied: 0,
    inProgress: 0,
    invalid: 0,
    notLeader: 0,
    unknown: 0,
    membersCreated: 0,
    selfRemovals: 0,
    transfersFirst: 0,
    removedKeptRunning: 0,
    removedStopped: 0,
    crashesDuringChange: 0,
    wipes: 0,
  };

  constructor(private readonly parts: ChurnParts) {}

  /** Starts the churn and storage-wipe processes at the seed's rates. */
  start(): void {
    this.active = true;
    const { churnRatePerSecond, wipeRatePerSecond } = this.parts.options.membership;
    this.poisson(churnRatePerSecond, () => this.burst());
    this.poisson(wipeRatePerSecond, () => this.wipe());
  }

  private poisson(ratePerSecond: number, action: () => void): void {
    const { time, random } = this.parts;
    everyPoissonEvent(time, random, ratePerSecond, () => this.active, action);
  }

  /**
   * TESTING.md 19: a member of the configuration loses its storage for good and comes back empty
   * under a new id; the old id stays in the configuration, dead, until the churn removes it. Only
   * one dead member at a time, and a dead voter only among at least three voters (the churn then
   * shrinks no live voter), so a live majority remains for the liveness phase.
   */
  private wipe(): void {
    const { cluster, random, trace } = this.parts;
    const leader = this.believedLeader();
    const member = leader === null ? null : cluster.member(leader);
    const status = member?.status();
    if (member === null || member === undefined || status === undefined || !cluster.canCreate)
      return;
    // Only under a committed configuration: an uncommitted one may still be replaced by an older
    // one with fewer voters, where a dead voter would leave no live majority (sim seed 5576).
    // Nor while any member holds a configuration entry past the leader's commit: a stale one
    // from an older term (say, a voter demoting itself) still commits if its holder is elected,
    // and with the wiped voter dead that would leave no live majority (sim seed 3115).
    const { commit } = member.inspect();
    if (cluster.anyConfigEntryAfter(commit)) return;
    const members = [...status.voters, ...status.learners];
    if (members.some((id) => cluster.isRetired(id))) return;
    const candidates = status.voters.length >= 3 ? members : status.learners;
    if (candidates.length === 0) return;
    const victim = candidates[random.int(candidates.length)]!;
    const id = `m${cluster.everyId.length + 1}`;
    cluster.wipe(victim);
    cluster.create(id, null);
    cluster.start(id);
    this.removalAsked.add(victim);
    this.stats.wipes++;
    trace.log(() => `wipe ${victim}: storage cleared, it comes back empty as ${id}`);
  }

  /** No new changes (the liveness phase); changes in flight still finish. */
  stop(): void {
    this.active = false;
  }

  /** Several attempts a few milliseconds apart, without waiting for one another. */
  private burst(): void {
    const { random, options, time } = this.parts;
    const count = 1 + random.int(options.membership.burstMax);
    for (let i = 0; i < count; i++) {
      const delay = i === 0 ? 0 : random.float() * 3 * options.timing.tickMs;
      time.schedule(delay, null, 'control', () => this.attempt());
    }
  }

  private attempt(): void {
    if (!this.active) return;
    const leader = this.believedLeader();
    if (leader === null) return;
    // Runs inside the leader, like an API call to its tab (held while it is paused).
    this.parts.time.schedule(0, leader, 'client', () => {
      const member = this.parts.cluster.member(leader);
      if (member === null || member.status().role !== 'leader') return;
      const status = member.status();
      const change = this.chooseChange(status);
      if (change === null) return;
      const selfTargeted =
        change.member === leader && (change.type === 'remove' || change.type === 'demote');
      if (selfTargeted) this.stats.selfRemovals++;
      const { transferBeforeSelfRemovalProbability } = this.parts.options.membership;
      if (selfTargeted && this.parts.random.float() < transferBeforeSelfRemovalProbability) {
        this.transferThenChange(leader, member, change);
      } else {
        this.propose(leader, member, change);
      }
    });
  }

  /** The live member that leads in the highest term, or null. */
  private believedLeader(): MemberId | null {
    return this.parts.cluster.believedLeader();
  }

  /** Draws a change that makes sense for the leader's configuration (or, rarely, one that does not). */
  private chooseChange(status: MemberStatus): ConfigChange | null {
    const { random, options } = this.parts;
    if (random.float() < options.membership.invalidChangeProbability) return this.nonsense(status);
    const kind = this.drawKind(status);
    const pick = (ids: readonly MemberId[]): MemberId => ids[random.int(ids.length)]!;
    switch (kind) {
      case null:
        return null;
      case 'addLearner':
        return { type: 'addLearner', member: this.memberToAdd(status) };
      case 'promote':
        return { type: 'promote', member: pick(this.liveLearners(status)) };
      case 'removeLearner':
        return { type: 'remove', member: pick(status.learners) };
      case 'removeWiped':
        return { type: 'remove', member: pick(this.wiped(status)) };
      case 'demote':
      case 'removeVoter': {
        const self = random.float() < SELF_TARGET_FRACTION;
        const member = self ? status.id : pick(status.voters);
        return { type: kind === 'demote' ? 'demote' : 'remove', member };
      }
    }
  }

  /**
   * Weighs the kinds of change that keep 1..7 voters, pulling the voter count towards the seed's
   * cluster size (a cluster bootstrapped with one member grows to it).
   */
  private drawKind(status: MemberStatus): ChangeKind | null {
    const { voters, learners } = status;
    const target = this.parts.options.members;
    const grow = voters.length < target ? 4 : 1;
    const shrink = voters.length > target ? 2 : 1;
    const weights: [ChangeKind, number][] = [];
    const spare = this.spares(status).length > 0 || this.parts.cluster.canCreate;
    // While a wiped member is named, remove it first and shrink no live voter.
    const wiped = this.wiped(status).length > 0;
    if (wiped) weights.push(['removeWiped', 6]);
    if (voters.length + learners.length < CONFIG_MEMBERS_MAX && spare)
      weights.push(['addLearner', grow]);
    if (this.liveLearners(status).length > 0 && voters.length < VOTERS_MAX)
      weights.push(['promote', grow]);
    if (learners.length > 0 && !wiped) weights.push(['removeLearner', 1]);
    if (voters.length > 1 && !wiped) weights.push(['demote', shrink], ['removeVoter', shrink]);
    const total = weights.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.parts.random.float() * total;
    for (const [kind, weight] of weights) {
      roll -= weight;
      if (roll < 0) return kind;
    }
    return null;
  }

  /** Members that exist, were never asked to leave and are not in the leader's configuration. */
  private spares(status: MemberStatus): MemberId[] {
    return this.parts.cluster.ids.filter(
      (id) =>
        !status.voters.includes(id) && !status.learners.includes(id) && !this.removalAsked.has(id),
    );
  }

  /** Learners whose storage was not wiped: a dead member is never promoted. */
  private liveLearners(status: MemberStatus): MemberId[] {
    return status.learners.filter((id) => !this.parts.cluster.isWiped(id));
  }

  /** Members of the leader's configuration whose storage was wiped. */
  private wiped(status: MemberStatus): MemberId[] {
    const { cluster } = this.parts;
    return [...status.voters, ...status.learners].filter((id) => cluster.isWiped(id));
  }

  /** A spare member (an empty one, or one removed earlier), or a brand-new one. */
  private memberToAdd(status: MemberStatus): MemberId {
    const { random, cluster, trace } = this.parts;
    const spares = this.spares(status);
    if (spares.length > 0 && (!cluster.canCreate || random.float() < 0.9))
      return spares[random.int(spares.length)]!;
    const id = `m${cluster.everyId.length + 1}`;
    cluster.create(id, null);
    cluster.start(id);
    this.stats.membersCreated++;
    trace.log(() => `new member ${id} (empty, not bootstrapped)`);
    return id;
  }

  /** A change the leader must refuse with InvalidConfigChangeError. */
  private nonsense(status: MemberStatus): ConfigChange {
    const choices: ConfigChange[] = [
      { type: 'promote', member: status.id },
      { type: 'remove', member: 'nobody' },
      { type: 'addLearner', member: status.id },
      { type: 'demote', member: 'nobody' },
    ];
    return choices[this.parts.random.int(choices.length)]!;
  }

  private propose(leader: MemberId, member: SimMember, change: ConfigChange): void {
    const { random, options, time, trace } = this.parts;
    this.stats.attempts++;
    if (change.type === 'remove') this.removalAsked.add(change.member);
    trace.log(() => `ask ${leader}: ${change.type} ${change.member}`);
    member.changeMembership(change).then(
      () => this.onApplied(leader, change),
      (error: unknown) => this.onRefused(leader, change, error),
    );
    if (random.float() >= options.membership.crashDuringChangeProbability) return;
    const victim = random.int(2) === 0 ? leader : change.member;
    time.schedule(random.float() * 5 * options.timing.tickMs, null, 'control', () => {
      if (!this.parts.cluster.isUp(victim)) return;
      this.stats.crashesDuringChange++;
      trace.log(() => `crash ${victim} during ${change.type} ${change.member}`);
      this.parts.faults.crashAndRestart(victim);
    });
  }

  /**
   * Hands leadership to another voter, then asks whoever leads a few election timeouts later to
   * remove or demote the old leader.
   */
  private transferThenChange(leader: MemberId, member: SimMember, change: ConfigChange): void {
    const { random, options, time, trace } = this.parts;
    const others = member.status().voters.filter((id) => id !== leader);
    if (others.length === 0) return this.propose(leader, member, change);
    const target = others[random.int(others.length)]!;
    this.stats.transfersFirst++;
    trace.log(() => `transfer ${leader} -> ${target} before ${change.type} ${leader}`);
    member.transferLeadership(target);
    const electionMs = options.timing.electionTimeoutTicksMin * options.timing.tickMs;
    time.schedule((2 + random.float() * 4) * electionMs, null, 'control', () => {
      const next = this.believedLeader();
      if (!this.active || next === null || next === leader) return;
      time.schedule(0, next, 'client', () => {
        const now = this.parts.cluster.member(next);
        if (now === null || now.status().role !== 'leader') return;
        const status = now.status();
        // No shrinking while a wiped member is named (see `wipe`).
        if (!status.voters.includes(leader) || this.wiped(status).length > 0) return;
        this.propose(next, now, change);
      });
    });
  }

  private onApplied(leader: MemberId, change: ConfigChange): void {
    this.stats.applied++;
    this.parts.trace.log(() => `${leader} applied ${change.type} ${change.member}`);
    if (change.type !== 'remove') return;
    const { cluster, random, options, trace } = this.parts;
    if (cluster.isRetired(change.member)) return; // Wiped earlier.
    // The configuration in force at the leader: a member still (or again) in it stays up.
    const status = cluster.member(leader)?.status();
    const stillIn =
      status === undefined ||
      status.voters.includes(change.member) ||
      status.learners.includes(change.member);
    const running = [...this.keptRunning].filter((id) => !cluster.isRetired(id)).length;
    const keep =
      running < REMOVED_RUNNING_MAX &&
      random.float() < options.membership.keepRemovedRunningProbability;
    if (stillIn || keep) {
      if (!stillIn) this.keptRunning.add(change.member);
      this.stats.removedKeptRunning++;
      trace.log(() => `removed ${change.member} left running`);
    } else {
      this.stats.removedStopped++;
      trace.log(() => `removed ${change.member} stopped for good`);
      cluster.retire(change.member);
    }
  }

  private onRefused(leader: MemberId, change: ConfigChange, error: unknown): void {
    const code = error instanceof RaftError ? error.code : null;
    this.parts.trace.log(() => `${leader} refused ${change.type} ${change.member}: ${code}`);
    const kind = refusalKind(error);
    if (kind !== null) {
      this.stats[kind]++;
      return;
    }
    this.parts.onUnexpected(
      `changeMembership(${change.type} ${change.member}) at ${leader} failed: ${describeRefusal(error)}`,
    );
  }
}
