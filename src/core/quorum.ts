/**
 * Majority arithmetic over the voter set (etcd's quorum/). Joint majorities arrive with
 * membership changes.
 */
import type { MemberId } from './types.js';

export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The highest value that a majority of voters has reached (their quorum-th largest value). */
export function quorumValue(
  voters: readonly MemberId[],
  valueOf: (id: MemberId) => number,
): number {
  const values = voters.map(valueOf).sort((a, b) => b - a);
  return values[majority(voters.length) - 1] ?? 0;
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Tallies granted and rejected votes; the caller records one answer per voter. */
export function tallyVotes(
  voters: readonly MemberId[],
  votes: ReadonlyMap<MemberId, boolean>,
): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return 'won';
  if (rejected > voters.length - needed) return 'lost';
  return 'pending';
}
