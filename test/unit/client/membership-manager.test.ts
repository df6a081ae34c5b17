/** The vertical slice's membership rules: add, promote up to the target, remove the departed. */
import { describe, expect, it } from 'vitest';
import { nextMembershipChange } from '../../../src/client/membership-manager.js';
import type { MembershipView } from '../../../src/client/membership-manager.js';

const view = (voters: string[], learners: string[] = [], matches: [string, number][] = []) =>
  ({
    self: 'a',
    voters,
    learners,
    matches: new Map(matches),
    commitIndex: 10,
  }) satisfies MembershipView;
const present = (...ids: string[]) => new Set(ids);
const here = () => 0;

describe('membership for the vertical slice', () => {
  it('adds a tab that joined the room as a learner', () => {
    expect(nextMembershipChange(view(['a']), present('a', 'b'), here)).toEqual({
      type: 'addLearner',
      member: 'b',
    });
  });

  it('promotes a caught-up learner while voters are fewer than three, not one behind', () => {
    expect(
      nextMembershipChange(view(['a'], ['b'], [['b', 9]]), present('a', 'b'), here),
    ).toBeNull();
    expect(nextMembershipChange(view(['a'], ['b'], [['b', 10]]), present('a', 'b'), here)).toEqual({
      type: 'promote',
      member: 'b',
    });
    expect(
      nextMembershipChange(
        view(['a', 'c', 'd'], ['b'], [['b', 10]]),
        present('a', 'b', 'c', 'd'),
        here,
      ),
    ).toBeNull();
  });

  it('removes a member whose tab has been gone long enough, never itself', () => {
    const absent = (id: string) => (id === 'c' ? 5000 : id === 'a' ? 9999 : 0);
    expect(nextMembershipChange(view(['a', 'b', 'c']), present('a', 'b'), absent)).toEqual({
      type: 'remove',
      member: 'c',
    });
    const briefly = (id: string) => (id === 'c' ? 1000 : 0);
    expect(nextMembershipChange(view(['a', 'b', 'c']), present('a', 'b'), briefly)).toBeNull();
  });
});
