/**
 * The autopilot (decision 6, issue 8): membership follows the tabs with no human action. Run by
 * the leader, one change at a time, as a pure function of what it sees:
 * 1. a member whose tab left the room (for `removeAfterMs`) is removed;
 * 2. a tab in the room that is not a member joins as a learner;
 * 3. a voter that stopped answering (for `unhealthyAfterMs`: frozen, cut off) is replaced — a
 *    healthy caught-up learner is promoted first, then the silent voter is demoted, so fault
 *    tolerance never dips below what it was, and voters never exceed the target by more than the
 *    one replacement; a silent voter whose tab left the room is demoted before a frozen one, and
 *    only while the healthy voters stay a majority of the rest;
 * 4. caught-up learners are promoted while voters are fewer than the target, and voters beyond it
 *    are demoted — keeping the voter count odd where it can (an even count tolerates no more
 *    failures than the odd one below it, and needs one more member to commit): an even count
 *    that no learner can make odd loses a voter.
 *
 * Edge members (issue 13, `VoterPreferences`): a stable member (an always-on edge member) is
 * preferred as a voter over a short-lived tab, and a member configured never to vote is never
 * promoted. Every choice of whom to promote takes preferred learners first; every choice of whom
 * to demote takes the worst voter by rank — never-vote, then a tab, then a preferred member — so a
 * room of a laptop tab, an edge member and a phone tab keeps the edge member's vote when the
 * laptop closes. A ready preferred learner is swapped in for a tab the way a silent voter is
 * replaced (promote it, then demote the tab: fault tolerance never dips); a never-vote voter is
 * replaced by a ready learner when one can keep the count odd, else demoted at once (its
 * configuration wins). The leader demotes itself only when it ranks below every other voter
 * (the core keeps it replicating until the change commits, then it steps down): otherwise a tab
 * leading an edge member would keep its own vote and drop the edge member's.
 *
 * In a still room of N tabs, the voters settle at the target, or at the largest odd count up to N
 * when the tabs are fewer — counting only members that may vote, preferred ones first (the
 * simulator's autopilot mode checks this, test/sim/run-seed.ts).
 */
import type { ConfigChange, MemberId } from '../core/types.js';

/** Voter counts the autopilot aims for: odd, so every voter adds fault tolerance. */
export type VotersTarget = 1 | 3 | 5 | 7;

export interface AutopilotPolicy {
  readonly votersTarget: VotersTarget;
  /** A member whose tab has been out of the room this long is removed. */
  readonly removeAfterMs: number;
  /** A voter in the room that the leader has not heard from this long is replaced. */
  readonly unhealthyAfterMs: number;
}

export const AUTOPILOT_DEFAULTS: AutopilotPolicy = {
  votersTarget: 3,
  removeAfterMs: 3000,
  unhealthyAfterMs: 2000,
};

export interface MembershipView {
  readonly self: MemberId;
  readonly voters: readonly MemberId[];
  readonly learners: readonly MemberId[];
  /** What each member is known to hold (the leader's view). */
  readonly matches: ReadonlyMap<MemberId, number>;
  readonly commitIndex: number;
  /** Milliseconds since the leader last heard from each other member. */
  readonly silenceMs: ReadonlyMap<MemberId, number>;
}

/** What the autopilot reads off the leading member (a runtime Member). */
export interface LeadingMember {
  status(): {
    readonly id: MemberId;
    readonly voters: readonly MemberId[];
    readonly learners: readonly MemberId[];
    readonly commitIndex: number;
  };
  matchIndexes(): ReadonlyMap<MemberId, number>;
  silenceMs(): ReadonlyMap<MemberId, number>;
}

/** The membership as `member`, leading, sees it. */
export function membershipView(member: LeadingMember): MembershipView {
  const { id, voters, learners, commitIndex } = member.status();
  return {
    self: id,
    voters,
    learners,
    matches: member.matchIndexes(),
    commitIndex,
    silenceMs: member.silenceMs(),
  };
}

export interface AutopilotDecision {
  readonly change: ConfigChange;
  readonly reason: string;
}

/**
 * Who should vote, beyond the tabs' equal footing (issue 13): `preferred` members (stable ones,
 * edge members) are promoted first and demoted last; `neverVote` members (an edge member
 * configured as a non-voter) are never promoted, and demoted if they vote. A member in both sets
 * never votes.
 */
export interface VoterPreferences {
  readonly preferred: ReadonlySet<MemberId>;
  readonly neverVote: ReadonlySet<MemberId>;
}

/** Every member on an equal footing: the tabs-only autopilot of issue 8. */
export const NO_VOTER_PREFERENCES: VoterPreferences = {
  preferred: new Set(),
  neverVote: new Set(),
};

/** How much a member is wanted as a voter: demotions take the lowest rank first. */
const Rank = { NeverVote: 0, Tab: 1, Preferred: 2 } as const;
type Rank = (typeof Rank)[keyof typeof Rank];

/**
 * The next change, or null. `present` are the members in the room the leader can reach;
 * `absentForMs(id)` is how long `id` has been out of the room (0 while present); `preferences`
 * say who should vote first and who never (all equal by default).
 */
export function nextMembershipChange(
  view: MembershipView,
  present: ReadonlySet<MemberId>,
  absentForMs: (id: MemberId) => number,
  policy: AutopilotPolicy = AUTOPILOT_DEFAULTS,
  preferences: VoterPreferences = NO_VOTER_PREFERENCES,
): AutopilotDecision | null {
  const rank = (id: MemberId): Rank =>
    preferences.neverVote.has(id)
      ? Rank.NeverVote
      : preferences.preferred.has(id)
        ? Rank.Preferred
        : Rank.Tab;
  const members = [...view.voters, ...view.learners];
  // Two voters, the leader and one out of the room (the last tab of an edge member's room,
  // closed): the leader cannot commit without it, so check-quorum deposes it within an election
  // timeout, long before the grace ends, and then nobody can remove it. Removed now instead.
  const lastOther = view.voters.length === 2 && view.voters.includes(view.self);
  const graceMs = (id: MemberId): number =>
    lastOther && view.voters.includes(id) ? 1 : policy.removeAfterMs;
  const gone = members.find((id) => id !== view.self && absentForMs(id) >= graceMs(id));
  if (gone !== undefined)
    return decide('remove', gone, `its tab left the room ${absentForMs(gone)} ms ago`);
  const newcomer = [...present]
    .sort((a, b) => rank(b) - rank(a) || compareIds(a, b))
    .find((id) => id !== view.self && !members.includes(id));
  if (newcomer !== undefined) return decide('addLearner', newcomer, 'joined the room');

  const silent = (id: MemberId): number => (id === view.self ? 0 : (view.silenceMs.get(id) ?? 0));
  const healthy = (id: MemberId): boolean =>
    present.has(id) && silent(id) < policy.unhealthyAfterMs;
  // Learners that may vote, healthy and caught up: preferred ones first (a stable sort).
  const ready = view.learners
    .filter(
      (id) =>
        rank(id) !== Rank.NeverVote &&
        healthy(id) &&
        (view.matches.get(id) ?? 0) >= view.commitIndex,
    )
    .sort((a, b) => rank(b) - rank(a));
  const voters = view.voters.length;
  const unhealthy = view.voters.filter((id) => !healthy(id));
  if (unhealthy.length > 0) {
    // A tab out of the room never answers again, a frozen or cut-off one may: the former goes
    // first (the longest gone first; among equals, the least wanted voter).
    const sick = [...unhealthy].sort(
      (a, b) => absentForMs(b) - absentForMs(a) || rank(a) - rank(b),
    )[0]!;
    // Above the target the replacement is in: demote before promoting anyone else, or every
    // ready learner would be promoted while the silent voter stays. But only if the healthy
    // voters are a majority of what remains: else the demotion could never commit, and if the
    // voters left silent were gone for good, nothing would commit again (sim seed 899).
    const healthyVoters = voters - unhealthy.length;
    if (voters > policy.votersTarget) {
      if (2 * healthyVoters <= voters - 1) return null;
      return decide('demote', sick, `silent for ${silent(sick)} ms; replaced`);
    }
    if (ready.length > 0)
      return decide('promote', ready[0]!, `replaces ${sick}, silent for ${silent(sick)} ms`);
    return null; // Nobody to replace it with: removing it would only lower fault tolerance.
  }
  return balanceVoters(view, ready, policy, rank, healthy);
}

/**
 * With every voter healthy: the voter count toward the target (odd), never-vote members out,
 * preferred members in — one change at a time, never lowering fault tolerance but for a
 * never-vote voter nobody can replace.
 */
function balanceVoters(
  view: MembershipView,
  ready: readonly MemberId[],
  policy: AutopilotPolicy,
  rank: (id: MemberId) => Rank,
  healthy: (id: MemberId) => boolean,
): AutopilotDecision | null {
  const voters = view.voters.length;
  const target = policy.votersTarget;
  // The voter to demote: the lowest rank; the leader itself only when it ranks below every
  // other voter (among tabs, the others go first, as before edge members); then the highest id.
  const worst = [...view.voters].sort(
    (a, b) =>
      rank(a) - rank(b) || Number(a === view.self) - Number(b === view.self) || compareIds(b, a),
  )[0];
  const demotable = worst !== undefined && voters >= 2 ? worst : undefined;
  if (voters > target && demotable !== undefined)
    return decide('demote', demotable, `voters ${voters} above the target ${target}`);
  // Voters that are to stay: a never-vote voter is on its way out.
  const keepers = view.voters.filter((id) => rank(id) !== Rank.NeverVote).length;
  if (keepers < target && ready.length > 0) {
    const staysOdd = (keepers + 1) % 2 === 1 || ready.length >= 2;
    if (staysOdd)
      return decide('promote', ready[0]!, `caught up; voters ${keepers} → ${keepers + 1}`);
  }
  if (demotable !== undefined && rank(demotable) === Rank.NeverVote)
    return decide('demote', demotable, 'configured never to vote');
  // A ready preferred learner replaces a tab: promoted now, the tab demoted next (above the
  // target, or by the odd-count rule below), so fault tolerance never dips. A lone voter is
  // replaced too (sim seed 9 of `--membership autopilot --edge 1`): with two, it becomes the
  // one to demote.
  const swapIn = ready[0];
  if (
    swapIn !== undefined &&
    rank(swapIn) === Rank.Preferred &&
    worst !== undefined &&
    rank(worst) < Rank.Preferred
  )
    return decide('promote', swapIn, `preferred over ${worst}`);
  // An even count (a voter's tab left) that no learner can make odd: one voter fewer tolerates
  // as many failures and needs one ack fewer. A healthy learner still catching up is waited for.
  const evenForGood =
    voters % 2 === 0 && !view.learners.some((id) => rank(id) !== Rank.NeverVote && healthy(id));
  if (evenForGood && demotable !== undefined)
    return decide('demote', demotable, `voters ${voters} → ${voters - 1}: an odd count`);
  return null;
}

/** Plain code-unit order, as `Array.prototype.sort` with no comparator. */
function compareIds(a: MemberId, b: MemberId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function decide(type: ConfigChange['type'], member: MemberId, reason: string): AutopilotDecision {
  return { change: { type, member }, reason };
}

/** Throws RangeError unless `target` is 1, 3, 5 or 7. */
export function checkVotersTarget(target: number): VotersTarget {
  if (target !== 1 && target !== 3 && target !== 5 && target !== 7)
    throw new RangeError(`votersTarget must be 1, 3, 5 or 7, not ${target}`);
  return target;
}
