/**
 * The autopilot's rules: add newcomers, promote caught-up learners toward an odd voter count,
 * replace a silent voter by a healthy learner (promote first, then demote), remove the departed.
 */
import { describe, expect, it } from 'vitest';
import { checkVotersTarget, nextMembershipChange } from '../../../src/client/autopilot.js';
import type { MembershipView } from '../../../src/client/autopilot.js';

function view(
  voters: string[],
  learners: string[] = [],
  options: { matches?: [string, number][]; silence?: [string, number][] } = {},
): MembershipView {
  return {
    self: 'a',
    voters,
    learners,
    matches: new Map(options.matches ?? [...voters, ...learners].map((id) => [id, 10])),
    commitIndex: 10,
    silenceMs: new Map(options.silence ?? []),
  };
}
const present = (...ids: string[]) => new Set(ids);
const here = () => 0;
const change = (...args: Parameters<typeof nextMembershipChange>) =>
  nextMembershipChange(...args)?.change ?? null;

describe('autopilot', () => {
  it('adds a tab that joined the room as a learner', () => {
    expect(change(view(['a']), present('a', 'b'), here)).toEqual({
      type: 'addLearner',
      member: 'b',
    });
  });

  it('promotes caught-up learners toward the target, never to an even count it could avoid', () => {
    // One voter and one ready learner: two voters would tolerate no more failures; wait.
    expect(change(view(['a'], ['b']), present('a', 'b'), here)).toBeNull();
    // Two ready learners: promote one now, the other next, ending at three.
    expect(change(view(['a'], ['b', 'c']), present('a', 'b', 'c'), here)).toEqual({
      type: 'promote',
      member: 'b',
    });
    expect(change(view(['a', 'b'], ['c']), present('a', 'b', 'c'), here)).toEqual({
      type: 'promote',
      member: 'c',
    });
    const behind = view(['a', 'b'], ['c'], { matches: [['c', 9]] });
    expect(change(behind, present('a', 'b', 'c'), here)).toBeNull();
    expect(change(view(['a', 'b', 'c'], ['d']), present('a', 'b', 'c', 'd'), here)).toBeNull();
  });

  it('grows to a larger target and shrinks to a smaller one', () => {
    const five = { votersTarget: 5, removeAfterMs: 3000, unhealthyAfterMs: 2000 } as const;
    const all = present('a', 'b', 'c', 'd', 'e');
    expect(change(view(['a', 'b', 'c'], ['d', 'e']), all, here, five)).toEqual({
      type: 'promote',
      member: 'd',
    });
    const one = { ...five, votersTarget: 1 } as const;
    expect(change(view(['a', 'b', 'c']), present('a', 'b', 'c'), here, one)).toEqual({
      type: 'demote',
      member: 'c',
    });
  });

  it('replaces a silent voter: promotes a healthy learner first, then demotes the voter', () => {
    const silent: [string, number][] = [['c', 5000]];
    const all = present('a', 'b', 'c', 'd');
    const first = nextMembershipChange(
      view(['a', 'b', 'c'], ['d'], { silence: silent }),
      all,
      here,
    );
    expect(first?.change).toEqual({ type: 'promote', member: 'd' });
    expect(first?.reason).toContain('replaces c');
    expect(change(view(['a', 'b', 'c', 'd'], [], { silence: silent }), all, here)).toEqual({
      type: 'demote',
      member: 'c',
    });
    // Nobody to replace it with: it stays (removing it would lower fault tolerance).
    expect(
      change(view(['a', 'b', 'c'], [], { silence: silent }), present('a', 'b', 'c'), here),
    ).toBeNull();
  });

  it('replaces one silent voter with one learner, not with every ready learner (sim seed 25)', () => {
    const silent: [string, number][] = [['b', 5000]];
    const all = present('a', 'b', 'c', 'd', 'e', 'f');
    // The replacement d is in: the silent voter goes before anyone else is promoted.
    expect(change(view(['a', 'b', 'c', 'd'], ['e', 'f'], { silence: silent }), all, here)).toEqual({
      type: 'demote',
      member: 'b',
    });
  });

  it('demotes a silent voter whose tab left before a frozen one', () => {
    // c left the room (not yet for removeAfterMs), d is frozen: a frozen tab may answer again.
    const silence: [string, number][] = [
      ['c', 5000],
      ['d', 5000],
    ];
    const result = change(
      view(['a', 'b', 'f', 'd', 'c'], [], { silence }),
      present('a', 'b', 'd', 'f'),
      (id) => (id === 'c' ? 1000 : 0),
    );
    expect(result).toEqual({ type: 'demote', member: 'c' });
  });

  it('demotes no silent voter while the healthy ones would not be a majority (sim seed 899)', () => {
    // c's tab left, b is cut off: {a, c} or {a, b} could commit nothing without the other.
    const one = { votersTarget: 1, removeAfterMs: 3000, unhealthyAfterMs: 2000 } as const;
    const silence: [string, number][] = [
      ['b', 5000],
      ['c', 5000],
    ];
    const cLeft = (id: string) => (id === 'c' ? 400 : 0);
    expect(change(view(['a', 'b', 'c'], [], { silence }), present('a'), cLeft, one)).toBeNull();
    // b answers again: c goes first, then the extra voter.
    const back: [string, number][] = [['c', 5000]];
    expect(
      change(view(['a', 'b', 'c'], [], { silence: back }), present('a', 'b'), cLeft, one),
    ).toEqual({ type: 'demote', member: 'c' });
  });

  it('makes an even voter count odd when no learner can (sim seed 24)', () => {
    const five = { votersTarget: 5, removeAfterMs: 3000, unhealthyAfterMs: 2000 } as const;
    const four = present('a', 'b', 'c', 'd');
    expect(change(view(['a', 'b', 'c', 'd']), four, here, five)).toEqual({
      type: 'demote',
      member: 'd',
    });
    expect(change(view(['a', 'b']), present('a', 'b'), here, five)).toEqual({
      type: 'demote',
      member: 'b',
    });
    // A healthy learner still catching up will make it five: wait for it.
    const catchingUp = view(['a', 'b', 'c', 'd'], ['e'], { matches: [['e', 3]] });
    expect(change(catchingUp, present('a', 'b', 'c', 'd', 'e'), here, five)).toBeNull();
    // Settled at three of four tabs: the demoted learner alone cannot make five.
    expect(change(view(['a', 'b', 'c'], ['d']), four, here, five)).toBeNull();
  });

  it('removes a member whose tab has been gone long enough, never itself', () => {
    const absent = (id: string) => (id === 'c' ? 5000 : id === 'a' ? 9999 : 0);
    expect(change(view(['a', 'b', 'c']), present('a', 'b'), absent)).toEqual({
      type: 'remove',
      member: 'c',
    });
    const briefly = (id: string) => (id === 'c' ? 1000 : 0);
    expect(change(view(['a', 'b', 'c']), present('a', 'b'), briefly)).toBeNull();
  });

  it('accepts voter targets 1, 3, 5 and 7 only', () => {
    expect(checkVotersTarget(5)).toBe(5);
    expect(() => checkVotersTarget(4)).toThrow(RangeError);
  });
});
