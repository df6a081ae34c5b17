/**
 * The autopilot's rules: add newcomers, promote caught-up learners toward an odd voter count,
 * replace a silent voter by a healthy learner (promote first, then demote), remove the departed;
 * with edge members (issue 13), stable members vote before tabs and never-vote members never do.
 */
import { describe, expect, it } from 'vitest';
import {
  AUTOPILOT_DEFAULTS,
  checkVotersTarget,
  nextMembershipChange,
} from '../../../src/client/autopilot.js';
import type {
  AutopilotPolicy,
  MembershipView,
  VoterPreferences,
} from '../../../src/client/autopilot.js';

function view(
  voters: string[],
  learners: string[] = [],
  options: { matches?: [string, number][]; silence?: [string, number][]; self?: string } = {},
): MembershipView {
  return {
    self: options.self ?? 'a',
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

  it('removes the other of two voters as soon as it leaves: check-quorum would depose the leader first', () => {
    // An edge member and the last tab: with the tab closed, the leader steps down within an
    // election timeout, long before the grace, and nobody could ever remove the tab after that.
    const justLeft = (id: string) => (id === 'b' ? 1 : 0);
    expect(change(view(['a', 'b']), present('a'), justLeft)).toEqual({
      type: 'remove',
      member: 'b',
    });
    // A learner, or one of three voters, still gets the grace.
    expect(change(view(['a'], ['b']), present('a'), justLeft)).toBeNull();
    expect(change(view(['a', 'b', 'c']), present('a', 'c'), justLeft)).toBeNull();
  });

  it('accepts voter targets 1, 3, 5 and 7 only', () => {
    expect(checkVotersTarget(5)).toBe(5);
    expect(() => checkVotersTarget(4)).toThrow(RangeError);
  });
});

/** Preferred (edge) members and members that must never vote. */
const prefer = (preferred: string[], neverVote: string[] = []): VoterPreferences => ({
  preferred: new Set(preferred),
  neverVote: new Set(neverVote),
});
const target = (votersTarget: 1 | 3 | 5 | 7): AutopilotPolicy => ({
  ...AUTOPILOT_DEFAULTS,
  votersTarget,
});
/** The one change the autopilot makes with these preferences and the default timings. */
const edgeChange = (
  v: MembershipView,
  room: Set<string>,
  preferences: VoterPreferences,
  policy: AutopilotPolicy = AUTOPILOT_DEFAULTS,
  absent: (id: string) => number = here,
) => nextMembershipChange(v, room, absent, policy, preferences)?.change ?? null;

describe('autopilot with edge members', () => {
  it('decides as before when no member is preferred or barred', () => {
    const silent: [string, number][] = [['c', 5000]];
    const v = view(['a', 'b', 'c'], ['d'], { silence: silent });
    const all = present('a', 'b', 'c', 'd');
    expect(edgeChange(v, all, prefer([]))).toEqual(change(v, all, here));
  });

  it('adds a preferred newcomer first and promotes preferred learners first', () => {
    expect(edgeChange(view(['a']), present('a', 'b', 'e-1'), prefer(['e-1']))).toEqual({
      type: 'addLearner',
      member: 'e-1',
    });
    const growing = view(['a'], ['b', 'c', 'e-1']);
    expect(edgeChange(growing, present('a', 'b', 'c', 'e-1'), prefer(['e-1']))).toEqual({
      type: 'promote',
      member: 'e-1',
    });
  });

  it('replaces a silent voter by a preferred learner before a tab', () => {
    const v = view(['a', 'b', 'c'], ['d', 'e-1'], { silence: [['c', 5000]] });
    const result = nextMembershipChange(
      v,
      present('a', 'b', 'c', 'd', 'e-1'),
      here,
      AUTOPILOT_DEFAULTS,
      prefer(['e-1']),
    );
    expect(result?.change).toEqual({ type: 'promote', member: 'e-1' });
    expect(result?.reason).toContain('replaces c');
  });

  it('demotes tabs before preferred members above the target', () => {
    const all = present('a', 'b', 'e-1', 'e-2');
    // By id alone e-2 would go (the highest id); the tab b goes instead.
    expect(edgeChange(view(['a', 'b', 'e-1', 'e-2']), all, prefer(['e-1', 'e-2']))).toEqual({
      type: 'demote',
      member: 'b',
    });
    // Only preferred members besides the leading tab: the leader demotes itself.
    expect(
      edgeChange(
        view(['a', 'e-1', 'e-2', 'e-3']),
        present('a', 'e-1', 'e-2', 'e-3'),
        prefer(['e-1', 'e-2', 'e-3']),
      ),
    ).toEqual({ type: 'demote', member: 'a' });
    // All preferred: the highest id that is not the leader, as among tabs.
    const edges = prefer(['e-1', 'e-2', 'e-3', 'e-4']);
    const edgeView = view(['e-1', 'e-2', 'e-3', 'e-4'], [], { self: 'e-1' });
    expect(edgeChange(edgeView, present('e-1', 'e-2', 'e-3', 'e-4'), edges)).toEqual({
      type: 'demote',
      member: 'e-4',
    });
  });

  it('never demotes its own leader among equals', () => {
    // Two tabs and the leader a (a tab): the even count loses b, not a.
    expect(edgeChange(view(['a', 'b']), present('a', 'b'), prefer(['e-9']))).toEqual({
      type: 'demote',
      member: 'b',
    });
  });

  it('swaps a preferred learner in for a tab: promote first, then demote, one at a time', () => {
    const edges = prefer(['e-1']);
    const room = present('a', 'b', 'c', 'e-1');
    const first = nextMembershipChange(
      view(['a', 'b', 'c'], ['e-1']),
      room,
      here,
      AUTOPILOT_DEFAULTS,
      edges,
    );
    expect(first?.change).toEqual({ type: 'promote', member: 'e-1' });
    expect(first?.reason).toContain('preferred over c');
    expect(edgeChange(view(['a', 'b', 'c', 'e-1'], []), room, edges)).toEqual({
      type: 'demote',
      member: 'c',
    });
    // Settled: the demoted tab is a ready learner, and nothing more happens.
    expect(edgeChange(view(['a', 'b', 'e-1'], ['c']), room, edges)).toBeNull();
  });

  it('swaps a preferred learner in for a lone voter, which then demotes itself (sim seed 9)', () => {
    const one = target(1);
    const edges = prefer(['e-1']);
    const room = present('a', 'e-1');
    expect(edgeChange(view(['a'], ['e-1']), room, edges, one)).toEqual({
      type: 'promote',
      member: 'e-1',
    });
    expect(edgeChange(view(['a', 'e-1']), room, edges, one)).toEqual({
      type: 'demote',
      member: 'a',
    });
    expect(edgeChange(view(['e-1'], ['a'], { self: 'e-1' }), room, edges, one)).toBeNull();
  });

  it('swaps below the target too, ending at an odd count', () => {
    // Target 5, three tabs and one edge member: four could vote, three do, the edge among them.
    const five = target(5);
    const edges = prefer(['e-1']);
    const room = present('a', 'b', 'c', 'e-1');
    expect(edgeChange(view(['a', 'b', 'c'], ['e-1']), room, edges, five)).toEqual({
      type: 'promote',
      member: 'e-1',
    });
    expect(edgeChange(view(['a', 'b', 'c', 'e-1']), room, edges, five)).toEqual({
      type: 'demote',
      member: 'c',
    });
    expect(edgeChange(view(['a', 'b', 'e-1'], ['c']), room, edges, five)).toBeNull();
  });

  it('swaps a preferred learner in even for the leading tab, never a behind or silent one', () => {
    // The swap then demotes a, the leader and the only tab: e-3 is the more stable voter.
    const edges = prefer(['e-1', 'e-2', 'e-3']);
    const room = present('a', 'e-1', 'e-2', 'e-3');
    expect(edgeChange(view(['a', 'e-1', 'e-2'], ['e-3']), room, edges)).toEqual({
      type: 'promote',
      member: 'e-3',
    });
    // A behind or silent preferred learner is not swapped in.
    const behind = view(['a', 'b', 'c'], ['e-1'], { matches: [['e-1', 3]] });
    expect(edgeChange(behind, present('a', 'b', 'c', 'e-1'), prefer(['e-1']))).toBeNull();
    const quiet = view(['a', 'b', 'c'], ['e-1'], { silence: [['e-1', 5000]] });
    expect(edgeChange(quiet, present('a', 'b', 'c', 'e-1'), prefer(['e-1']))).toBeNull();
  });

  it('never promotes a never-vote member, and does not wait for it to make a count odd', () => {
    const barred = prefer([], ['e-1']);
    expect(edgeChange(view(['a'], ['b', 'e-1']), present('a', 'b', 'e-1'), barred)).toBeNull();
    expect(
      edgeChange(
        view(['a', 'b', 'c'], ['e-1'], { silence: [['c', 5000]] }),
        present('a', 'b', 'c', 'e-1'),
        barred,
      ),
    ).toBeNull();
    // Two voters and a healthy never-vote learner: it will never make three, so b goes.
    expect(edgeChange(view(['a', 'b'], ['e-1']), present('a', 'b', 'e-1'), barred)).toEqual({
      type: 'demote',
      member: 'b',
    });
    // Preferred and barred at once: barred wins.
    const both = prefer(['e-1'], ['e-1']);
    expect(
      edgeChange(view(['a', 'b', 'c'], ['e-1']), present('a', 'b', 'c', 'e-1'), both),
    ).toBeNull();
  });

  it('replaces a never-vote voter by a ready learner first, else demotes it at once', () => {
    const barred = prefer([], ['e-1']);
    const room = present('a', 'b', 'e-1', 'c');
    expect(edgeChange(view(['a', 'b', 'e-1'], ['c']), room, barred)).toEqual({
      type: 'promote',
      member: 'c',
    });
    expect(edgeChange(view(['a', 'b', 'e-1', 'c']), room, barred)).toEqual({
      type: 'demote',
      member: 'e-1',
    });
    // Nobody to replace it: its configuration wins over the lost fault tolerance.
    expect(edgeChange(view(['a', 'b', 'e-1']), present('a', 'b', 'e-1'), barred)).toEqual({
      type: 'demote',
      member: 'e-1',
    });
    // A never-vote leader demotes itself once another voter can carry on.
    const leading = view(['e-1', 'a', 'b'], [], { self: 'e-1' });
    expect(edgeChange(leading, present('a', 'b', 'e-1'), barred)).toEqual({
      type: 'demote',
      member: 'e-1',
    });
    // ... and never leaves the configuration without a voter.
    expect(edgeChange(view(['e-1'], [], { self: 'e-1' }), present('e-1'), barred)).toBeNull();
  });

  it('keeps a quorum of laptop, edge member and phone when the laptop tab closes', () => {
    const edge = prefer(['e-1']);
    const room = present('m-laptop', 'e-1', 'm-phone');
    // The laptop leads, the edge member and the phone joined: all three end up voting.
    let v = view(['m-laptop'], ['e-1', 'm-phone'], { self: 'm-laptop' });
    expect(edgeChange(v, room, edge)).toEqual({ type: 'promote', member: 'e-1' });
    v = view(['m-laptop', 'e-1'], ['m-phone'], { self: 'm-laptop' });
    expect(edgeChange(v, room, edge)).toEqual({ type: 'promote', member: 'm-phone' });
    v = view(['m-laptop', 'e-1', 'm-phone'], [], { self: 'm-laptop' });
    expect(edgeChange(v, room, edge)).toBeNull();
    // The laptop closes (it hands leadership to the phone): two of three voters remain, a
    // majority; the phone removes the laptop, then demotes itself so the edge member votes alone.
    const phone = { self: 'm-phone', silence: [['m-laptop', 5000]] as [string, number][] };
    const gone = (id: string) => (id === 'm-laptop' ? 5000 : 0);
    const left = present('e-1', 'm-phone');
    v = view(['m-laptop', 'e-1', 'm-phone'], [], phone);
    expect(2 * v.voters.filter((id) => left.has(id)).length > v.voters.length).toBe(true);
    expect(edgeChange(v, left, edge, AUTOPILOT_DEFAULTS, gone)).toEqual({
      type: 'remove',
      member: 'm-laptop',
    });
    v = view(['e-1', 'm-phone'], [], { self: 'm-phone' });
    expect(edgeChange(v, left, edge)).toEqual({ type: 'demote', member: 'm-phone' });
    // The edge member leads alone; the phone stays a learner and can close too.
    v = view(['e-1'], ['m-phone'], { self: 'e-1' });
    expect(edgeChange(v, left, edge)).toBeNull();
  });
});
