/**
 * Membership for the vertical slice, run by the leader (issue 7; the autopilot issue replaces it):
 * members follow the tabs of the room. A tab present in the room but not in the configuration is
 * added as a learner; a learner that has caught up is promoted while voters are fewer than the
 * target; a member whose tab has been gone for a while is removed. One change at a time, chosen
 * here as a pure function of what the leader sees.
 */
import type { ConfigChange, MemberId } from '../core/types.js';

export interface MembershipView {
  readonly self: MemberId;
  readonly voters: readonly MemberId[];
  readonly learners: readonly MemberId[];
  /** What each member is known to hold (the leader's view). */
  readonly matches: ReadonlyMap<MemberId, number>;
  readonly commitIndex: number;
}

export interface MembershipPolicy {
  /** Voters wanted; more tabs stay learners. Default 3. */
  readonly votersTarget: number;
  /** A member whose tab has been out of the room this long is removed. Default 3 s. */
  readonly removeAfterMs: number;
}

export const MEMBERSHIP_POLICY_DEFAULT: MembershipPolicy = { votersTarget: 3, removeAfterMs: 3000 };

/**
 * The next change to make, or null. `absentForMs(id)` is how long `id` has been out of the room
 * (0 while present); `present` are the members in the room this leader can reach.
 */
export function nextMembershipChange(
  view: MembershipView,
  present: ReadonlySet<MemberId>,
  absentForMs: (id: MemberId) => number,
  policy: MembershipPolicy = MEMBERSHIP_POLICY_DEFAULT,
): ConfigChange | null {
  const members = [...view.voters, ...view.learners];
  const gone = members.find((id) => id !== view.self && absentForMs(id) >= policy.removeAfterMs);
  if (gone !== undefined) return { type: 'remove', member: gone };
  const newcomer = [...present].sort().find((id) => id !== view.self && !members.includes(id));
  if (newcomer !== undefined) return { type: 'addLearner', member: newcomer };
  if (view.voters.length >= policy.votersTarget) return null;
  const ready = view.learners.find(
    (id) => present.has(id) && (view.matches.get(id) ?? 0) >= view.commitIndex,
  );
  return ready === undefined ? null : { type: 'promote', member: ready };
}
