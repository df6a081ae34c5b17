/**
 * The browser's autopilot loop (MemberHost.manage in src/client/member-host.ts) run by every
 * simulated tab: each incarnation of a member runs it every 250 ms on its own clock, so a frozen
 * tab runs nothing, a hidden one runs late, and a crash or reload forgets what it knew (since when
 * each member has been out of the room). When its member leads, it asks the real policy
 * (`nextMembershipChange`) for one change and waits for it before deciding again; the inputs are
 * the member's status, match indexes and silences, the room (tabs.ts) seen through the peers it
 * can reach, its own absence clock, and which members are edge members (preferred voters) or
 * configured never to vote. Edge members run the same loop: an edge member leads as often as a tab.
 */
import { membershipView, nextMembershipChange } from '../../src/client/autopilot.js';
import { describeRefusal, refusalKind } from './refusals.js';
import type {
  AutopilotDecision,
  AutopilotPolicy,
  VoterPreferences,
} from '../../src/client/autopilot.js';
import { RaftError } from '../../src/core/errors.js';
import type { ConfigChange, MemberId } from '../../src/core/types.js';
import type { Incarnation, SimCluster } from './cluster.js';
import type { SimNetwork } from './network.js';
import type { Trace } from './trace.js';
import type { VirtualTime } from './virtual-time.js';

/** As in MemberHost. */
const MANAGE_EVERY_MS = 250;

/** What the tabs' hosts need from the simulation. */
export interface AutopilotHostParts {
  readonly time: VirtualTime;
  readonly cluster: SimCluster;
  readonly network: SimNetwork;
  /** The members whose tab is in the room now (the signaling server's list). */
  readonly inRoom: (id: MemberId) => boolean;
  readonly policy: AutopilotPolicy;
  /** Edge members preferred as voters, and those configured never to vote. */
  readonly preferences: VoterPreferences;
  readonly trace: Trace;
  /** Told about an error no caller should ever see, or a decision the policy must never make. */
  readonly onUnexpected: (message: string) => void;
}

/** Counters for reports: decisions by type, and what became of them. */
export interface AutopilotStats {
  addLearner: number;
  promote: number;
  demote: number;
  remove: number;
  applied: number;
  /** Refused with ConfigChangeInProgressError (a change of an earlier leader not committed yet). */
  inProgress: number;
  /** Lost leadership, or handing it over. */
  notLeader: number;
  /** Timed out, dropped, or the member stopped: the change may or may not have happened. */
  unknown: number;
  /** Promotions of a preferred (edge) member. */
  preferredPromoted: number;
  /** Demotions of a member configured never to vote. */
  neverVoteDemoted: number;
  /** Demotions of the deciding leader itself (it ranked below every other voter). */
  selfDemoted: number;
}

/** One tab's host: lives as long as one incarnation of its member. */
interface Host {
  readonly id: MemberId;
  readonly incarnation: Incarnation;
  /** Since when (this tab's clock) each member of the configuration has been out of the room. */
  readonly absentSince: Map<MemberId, number>;
  changing: boolean;
  /** The tab is closing: its loop stopped (MemberHost.leave clears the interval first). */
  closed: boolean;
}

/** Every tab's autopilot loop; see the module comment. */
export class AutopilotHosts {
  private readonly hosts = new Map<MemberId, Host>();
  readonly stats: AutopilotStats = {
    addLearner: 0,
    promote: 0,
    demote: 0,
    remove: 0,
    applied: 0,
    inProgress: 0,
    notLeader: 0,
    unknown: 0,
    preferredPromoted: 0,
    neverVoteDemoted: 0,
    selfDemoted: 0,
  };

  constructor(private readonly parts: AutopilotHostParts) {}

  /** Decisions made so far (a settled room makes none). */
  get decisions(): number {
    const { addLearner, promote, demote, remove } = this.stats;
    return addLearner + promote + demote + remove;
  }

  /** An incarnation of `id` started (a tab opened or reloaded): its loop starts with it. */
  onStart(id: MemberId): void {
    const incarnation = this.parts.cluster.incarnation(id);
    if (incarnation === null) return;
    const host: Host = { id, incarnation, absentSince: new Map(), changing: false, closed: false };
    this.hosts.set(id, host);
    this.scheduleManage(host);
  }

  /** The tab of `id` is closing for good: its loop stops now. */
  close(id: MemberId): void {
    const host = this.hosts.get(id);
    if (host !== undefined) host.closed = true;
  }

  /**
   * `id` told the room it leaves for good (MemberHost.memberLeft): every other tab counts it as
   * out of the room for `removeAfterMs` already. Delivered like a message, so a frozen tab hears
   * it when it wakes.
   */
  memberLeft(id: MemberId): void {
    const { time, cluster, policy } = this.parts;
    for (const host of this.hosts.values()) {
      if (host.id === id || !this.isCurrent(host)) continue;
      time.schedule(0, host.id, 'client', () => {
        if (!this.isCurrent(host)) return;
        host.absentSince.set(id, cluster.clock(host.id).now() - policy.removeAfterMs);
      });
    }
  }

  private isCurrent(host: Host): boolean {
    return !host.closed && this.parts.cluster.incarnation(host.id) === host.incarnation;
  }

  private scheduleManage(host: Host): void {
    this.parts.cluster.clock(host.id).setTimeout(() => {
      if (!this.isCurrent(host)) return;
      this.manage(host);
      this.scheduleManage(host);
    }, MANAGE_EVERY_MS);
  }

  /** MemberHost.manage: track absences; when leading, one change at a time. */
  private manage(host: Host): void {
    const { cluster, network, inRoom, policy } = this.parts;
    const member = host.incarnation.member;
    if (member === null || host.changing) return;
    const status = member.status();
    const now = cluster.clock(host.id).now();
    for (const id of [...status.voters, ...status.learners]) {
      if (inRoom(id)) host.absentSince.delete(id);
      else if (!host.absentSince.has(id)) host.absentSince.set(id, now);
    }
    if (status.role !== 'leader') return;
    // The room as this tab sees it: itself, and the tabs it has an open channel to.
    const present = new Set<MemberId>([host.id]);
    for (const id of cluster.ids) {
      if (id !== host.id && inRoom(id) && cluster.isUp(id) && network.linked(host.id, id))
        present.add(id);
    }
    const decision = nextMembershipChange(
      membershipView(member),
      present,
      (id) => now - (host.absentSince.get(id) ?? now),
      policy,
      this.parts.preferences,
    );
    if (decision === null) return;
    this.checkDecision(host.id, status.voters, decision);
    const { change, reason } = decision;
    this.count(host.id, change);
    host.changing = true;
    this.parts.trace.log(() => `autopilot ${host.id}: ${change.type} ${change.member} (${reason})`);
    member
      .changeMembership(change)
      .then(
        () => this.onApplied(host.id, change),
        (error: unknown) => this.onRefused(host.id, change, error),
      )
      .finally(() => {
        host.changing = false;
      });
  }

  private count(leader: MemberId, change: ConfigChange): void {
    const { preferred, neverVote } = this.parts.preferences;
    this.stats[change.type]++;
    if (change.type === 'promote' && preferred.has(change.member)) this.stats.preferredPromoted++;
    if (change.type === 'demote' && neverVote.has(change.member)) this.stats.neverVoteDemoted++;
    if (change.type === 'demote' && change.member === leader) this.stats.selfDemoted++;
  }

  /**
   * What the policy promises of every single decision: it never removes the leader itself, and
   * demotes it only when it ranks below every other voter (never-vote, then a tab, then a
   * preferred member); it never promotes a never-vote member; and it grows the voters at most one
   * past the target (one replacement at a time: the silent voter is demoted before another
   * learner is promoted).
   */
  private checkDecision(
    leader: MemberId,
    voters: readonly MemberId[],
    decision: AutopilotDecision,
  ): void {
    const { change, reason } = decision;
    const { votersTarget } = this.parts.policy;
    const { preferred, neverVote } = this.parts.preferences;
    const describe = `${leader} decided ${change.type} ${change.member} (${reason}) with voters {${voters.join(',')}}`;
    const rank = (id: MemberId): number => (neverVote.has(id) ? 0 : preferred.has(id) ? 2 : 1);
    const outranked = voters.every((id) => id === leader || rank(id) > rank(leader));
    const selfDemotion = change.type === 'demote' && outranked && voters.length >= 2;
    const targetsItself =
      change.member === leader && change.type !== 'promote' && change.type !== 'addLearner';
    if (targetsItself && !selfDemotion)
      this.parts.onUnexpected(`autopilot targets its own leader: ${describe}`);
    if (change.type === 'promote' && neverVote.has(change.member))
      this.parts.onUnexpected(`autopilot promotes a member that must never vote: ${describe}`);
    if (change.type === 'promote' && voters.length > votersTarget)
      this.parts.onUnexpected(
        `autopilot grows the voters past target ${votersTarget} + 1: ${describe}`,
      );
  }

  private onApplied(leader: MemberId, change: ConfigChange): void {
    this.stats.applied++;
    this.parts.trace.log(() => `autopilot ${leader} applied ${change.type} ${change.member}`);
  }

  private onRefused(leader: MemberId, change: ConfigChange, error: unknown): void {
    const code = error instanceof RaftError ? error.code : null;
    this.parts.trace.log(
      () => `autopilot ${leader}: ${change.type} ${change.member} refused: ${code}`,
    );
    const kind = refusalKind(error);
    // INVALID_CONFIG_CHANGE too is a bug here: the policy decides from the leader's own config.
    if (kind !== null && kind !== 'invalid') {
      this.stats[kind]++;
      return;
    }
    this.parts.onUnexpected(
      `autopilot ${leader}: changeMembership(${change.type} ${change.member}) failed: ${describeRefusal(error)}`,
    );
  }
}
