/**
 * The invariant checker on hand-made member states: each Raft safety property, when broken,
 * yields its violation; healthy histories yield none.
 */
import { describe, expect, it } from 'vitest';
import { encodeConfig } from '../../src/core/membership.js';
import type { RaftInspection } from '../../src/core/raft.js';
import type { ClusterConfig, Entry, MemberId, Role } from '../../src/core/types.js';
import { MemoryDisk } from '../../src/storage/memory.js';
import { InvariantChecker, quorumsIntersect } from './invariants.js';

const IDS = ['a', 'b', 'c'];
const ABC: ClusterConfig = { voters: IDS, learners: [] };

function entry(index: number, term: number, byte = index): Entry {
  return { index, term, kind: 'normal', data: new Uint8Array([byte]) };
}

/** A log whose entry i has the term terms[i - 1]. */
function log(...terms: number[]): Entry[] {
  return terms.map((term, i) => entry(i + 1, term));
}

function configEntry(index: number, term: number, config: ClusterConfig): Entry {
  return { index, term, kind: 'config', data: encodeConfig(config) };
}

/** A member's state; `entries` start at `firstIndex` (entries below are in its snapshot). */
function inspection(
  id: MemberId,
  role: Role,
  term: number,
  entries: Entry[],
  commit: number,
  more: Partial<RaftInspection> = {},
): RaftInspection {
  const firstIndex = more.firstIndex ?? entries[0]?.index ?? 1;
  return {
    id,
    role,
    term,
    leaderId: role === 'leader' ? id : null,
    commit,
    lastIndex: firstIndex - 1 + entries.length,
    vote: null,
    stable: firstIndex - 1 + entries.length,
    applying: commit,
    config: ABC,
    snapshotIndex: firstIndex - 1,
    votesWithheld: false,
    firstIndex,
    entries,
    ...more,
  } as RaftInspection;
}

function setup() {
  const disks = new Map(['a', 'b', 'c', 'd', 'e'].map((id) => [id, new MemoryDisk()]));
  const checker = new InvariantChecker({
    now: () => 0,
    disk: (id) => disks.get(id),
  });
  const kinds = (): string[] => checker.violations.map((v) => v.kind);
  return { checker, disks, kinds };
}

describe('InvariantChecker', () => {
  it('accepts a healthy history: one leader per term, growing logs, agreeing commits', () => {
    const { checker, kinds } = setup();
    const shared = log(1, 1, 2);
    checker.checkMember(inspection('a', 'leader', 1, shared.slice(0, 2), 1), 1);
    checker.checkMember(inspection('b', 'follower', 1, shared.slice(0, 2), 1), 0);
    checker.checkMember(inspection('b', 'leader', 2, shared, 3), 3);
    checker.checkMember(inspection('a', 'follower', 2, shared, 3), 3);
    expect(kinds()).toEqual([]);
  });

  it('reports two leaders in one term (election safety)', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'leader', 3, [], 0), 0);
    checker.checkMember(inspection('b', 'leader', 3, [], 0), 0);
    expect(kinds()).toEqual(['electionSafety']);
  });

  it('reports logs that agree on (index, term) but differ before it (log matching)', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'follower', 2, [entry(1, 1, 7), entry(2, 2)], 0), 0);
    checker.checkMember(inspection('b', 'follower', 2, [entry(1, 1, 8), entry(2, 2)], 0), 0);
    expect(kinds()).toContain('logMatching');
  });

  it('reports a committed entry that changes (committed prefix never changes)', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'follower', 2, log(1, 1), 2), 0);
    checker.checkMember(inspection('b', 'follower', 2, log(1, 2), 2), 0);
    expect(kinds()).toContain('committedChanged');
  });

  it('reports a member that replaces an entry at or below its own commit', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'follower', 1, log(1, 1), 2), 0);
    checker.checkMember(inspection('a', 'follower', 2, [entry(1, 1), entry(2, 2)], 2), 0);
    expect(kinds()).toContain('committedChanged');
  });

  it('reports a commit index that goes back within one incarnation, but not across a restart', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'follower', 1, log(1, 1), 2), 0);
    checker.restarted('a');
    const reloaded = log(1, 1);
    checker.checkMember(inspection('a', 'follower', 1, reloaded, 1), 0);
    expect(kinds()).toEqual([]);
    checker.checkMember(inspection('a', 'follower', 1, reloaded, 0), 0);
    expect(kinds()).toEqual(['commitRegressed']);
  });

  it('reports a new leader that lacks an entry committed in an earlier term (leader completeness)', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'leader', 2, log(1, 2), 2), 2);
    checker.checkMember(inspection('b', 'leader', 3, log(1), 1), 0);
    expect(kinds()).toContain('leaderCompleteness');
  });

  it('reports a leader that commits an older-term entry by counting replicas (figure 8)', () => {
    const { checker, disks, kinds } = setup();
    const entries = log(1, 2, 3);
    for (const id of IDS) disks.get(id)!.write({ hardState: null, snapshot: null, entries });
    checker.checkMember(inspection('a', 'leader', 3, entries, 0), 0);
    checker.checkMember(inspection('a', 'leader', 3, entries, 2), 0);
    expect(kinds()).toEqual(['leaderCommitRule']);
  });

  it('reports a member that applied past its commit index', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'follower', 1, log(1, 1), 1), 2);
    expect(kinds()).toEqual(['appliedPastCommit']);
  });

  it('reports different entries applied at one index (state machine safety)', () => {
    const { checker, kinds } = setup();
    checker.onApply('a', { index: 1, term: 1, time: 5 }, new Uint8Array([1]));
    checker.onApply('b', { index: 1, term: 1, time: 5 }, new Uint8Array([1]));
    expect(kinds()).toEqual([]);
    checker.onApply('c', { index: 1, term: 1, time: 5 }, new Uint8Array([2]));
    expect(kinds()).toEqual(['stateMachineSafety']);
  });

  it("reports an entry committed while durable on fewer than a majority of the leader's voters", () => {
    const { checker, disks, kinds } = setup();
    const entries = log(1, 1);
    for (const id of ['a', 'b']) disks.get(id)!.write({ hardState: null, snapshot: null, entries });
    // {a, b} is a majority of {a, b, c}: fine.
    checker.checkMember(inspection('a', 'leader', 1, entries, 0), 0);
    checker.checkMember(inspection('a', 'leader', 1, entries, 1), 0);
    expect(kinds()).toEqual([]);
    // {a, b} is not a majority of {a, b, c, d}: the leader's configuration is what counts.
    const abcd = { voters: ['a', 'b', 'c', 'd'], learners: [] };
    checker.checkMember(inspection('a', 'leader', 1, entries, 2, { config: abcd }), 0);
    expect(kinds()).toEqual(['durability']);
  });

  it('counts a voter whose snapshot covers the committed entry as holding it', () => {
    const { checker, disks, kinds } = setup();
    const entries = log(1, 1, 1);
    disks.get('a')!.write({ hardState: null, snapshot: null, entries });
    disks.get('b')!.write({
      hardState: null,
      snapshot: { meta: { index: 3, term: 1, config: ABC }, data: new Uint8Array([1]) },
      entries: [],
    });
    checker.checkMember(inspection('a', 'leader', 1, entries, 0), 0);
    checker.checkMember(inspection('a', 'leader', 1, entries, 3), 0);
    expect(kinds()).toEqual([]);
  });

  it('reports an acknowledgement or a vote sent before it is durable', () => {
    const { checker, disks, kinds } = setup();
    const acknowledgeAndVote = (): void => {
      checker.onSend({
        type: 'appendResponse',
        from: 'b',
        to: 'a',
        term: 1,
        reject: false,
        index: 1,
        hintIndex: 0,
        hintTerm: 0,
      });
      checker.onSend({ type: 'voteResponse', from: 'b', to: 'a', term: 1, reject: false });
    };
    acknowledgeAndVote();
    expect(kinds()).toEqual(['durability', 'durability']);
    disks.get('b')!.write({
      hardState: { term: 1, vote: 'a', commit: 0 },
      snapshot: null,
      entries: [entry(1, 1)],
    });
    acknowledgeAndVote();
    expect(kinds()).toHaveLength(2);
  });

  it('accepts a stale acknowledgement whose entries a later-term leader replaced', () => {
    const { checker, disks, kinds } = setup();
    disks.get('b')!.write({
      hardState: { term: 2, vote: null, commit: 0 },
      snapshot: null,
      entries: [entry(1, 2)],
    });
    const ack = {
      type: 'appendResponse',
      from: 'b',
      to: 'a',
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    } as const;
    checker.onSend({ ...ack, term: 1 });
    expect(kinds()).toEqual([]);
    checker.onSend({ ...ack, term: 2 });
    expect(kinds()).toEqual(['durability']);
  });

  it('reports a vote changed within a term', () => {
    const { checker, kinds } = setup();
    checker.onDurable(
      'a',
      { term: 4, vote: 'b', commit: 0 },
      { hardState: { term: 4, vote: 'b', commit: 1 }, snapshot: null, entries: [] },
    );
    checker.onDurable(
      'a',
      { term: 4, vote: 'b', commit: 0 },
      { hardState: { term: 5, vote: 'c', commit: 0 }, snapshot: null, entries: [] },
    );
    expect(kinds()).toEqual([]);
    checker.onDurable(
      'a',
      { term: 4, vote: 'b', commit: 0 },
      { hardState: { term: 4, vote: 'c', commit: 0 }, snapshot: null, entries: [] },
    );
    expect(kinds()).toEqual(['doubleVote']);
  });

  it('reports a term that goes backwards within an incarnation', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'follower', 5, [], 0), 0);
    checker.checkMember(inspection('a', 'follower', 4, [], 0), 0);
    expect(kinds()).toEqual(['termRegressed']);
  });

  it('compares compacted logs only where they overlap, anchored on the committed log', () => {
    const { checker, kinds } = setup();
    const shared = log(1, 1, 1, 2, 2, 2);
    checker.checkMember(inspection('a', 'follower', 2, shared, 6), 6);
    // b compacted through 3 and holds 4..6; c installed a snapshot at 5 and holds 6.
    checker.checkMember(inspection('b', 'follower', 2, shared.slice(3), 4), 4);
    checker.checkMember(inspection('c', 'follower', 2, shared.slice(5), 5, { firstIndex: 6 }), 5);
    // a compacts through 4 in place: same entry objects, shifted.
    checker.checkMember(inspection('a', 'follower', 2, shared.slice(4), 6), 6);
    expect(kinds()).toEqual([]);
    // d holds a different entry 6 of term 2 after the same snapshot: log matching breaks.
    checker.checkMember(inspection('d', 'follower', 2, [entry(6, 2, 99)], 5, { firstIndex: 6 }), 5);
    expect(kinds()).toContain('logMatching');
  });

  it('reports a snapshot past anything committed', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'follower', 1, log(1, 1), 1), 1);
    checker.checkMember(inspection('b', 'follower', 1, [entry(9, 1)], 8, { firstIndex: 9 }), 8);
    expect(kinds()).toContain('snapshotSafety');
  });

  it('accepts a new leader whose snapshot covers the committed entries it no longer holds', () => {
    const { checker, kinds } = setup();
    const shared = log(1, 1, 1, 1);
    checker.checkMember(inspection('a', 'leader', 1, shared, 4), 4);
    checker.checkMember(inspection('b', 'leader', 2, shared.slice(3), 4, { snapshotIndex: 3 }), 4);
    expect(kinds()).toEqual([]);
    const short = inspection('c', 'leader', 3, shared.slice(2, 3), 3, { snapshotIndex: 2 });
    checker.checkMember(short, 3);
    expect(kinds()).toEqual(['leaderCompleteness']);
  });

  it('reports two snapshots at one index with different states', () => {
    const { checker, kinds } = setup();
    for (let index = 1; index <= 5; index++)
      checker.onApply('a', { index, term: 1, time: 0 }, new Uint8Array([index]));
    checker.onSnapshot('a', 'take', 5, 'digest-1');
    checker.onSnapshot('b', 'restore', 5, 'digest-1');
    expect(kinds()).toEqual([]);
    checker.onSnapshot('c', 'take', 5, 'digest-2');
    expect(kinds()).toEqual(['stateMachineSafety']);
  });

  it('reports a leader that puts in force a configuration whose majorities miss the committed one', () => {
    const { checker, kinds } = setup();
    const bootstrap = configEntry(1, 1, ABC);
    const noop: Entry = { index: 2, term: 2, kind: 'noop', data: new Uint8Array(0) };
    checker.checkMember(inspection('a', 'leader', 2, [bootstrap, noop], 2), 2);
    const removeB = configEntry(3, 2, { voters: ['a', 'c'], learners: [] });
    checker.checkMember(inspection('a', 'leader', 2, [bootstrap, noop, removeB], 2), 2);
    expect(kinds()).toEqual([]);
    // A second change before the first committed: {a} against {a, b, c}.
    const removeC = configEntry(4, 2, { voters: ['a'], learners: [] });
    checker.checkMember(inspection('a', 'leader', 2, [bootstrap, noop, removeB, removeC], 2), 2);
    expect(kinds()).toEqual(['configOverlap']);
  });

  it('reports a member that campaigns though its committed configuration makes it no voter', () => {
    const { checker, kinds } = setup();
    const demoted = { voters: ['a', 'b'], learners: ['c'] };
    const entries = [configEntry(1, 1, ABC), configEntry(2, 1, demoted)];
    // Not committed yet: c may still be needed to commit its own demotion (thesis §4.2.2).
    checker.checkMember(inspection('c', 'preCandidate', 1, entries, 1, { config: demoted }), 1);
    expect(kinds()).toEqual([]);
    checker.checkMember(inspection('c', 'preCandidate', 1, entries, 2, { config: demoted }), 2);
    expect(kinds()).toEqual(['nonVoterCampaign']);
  });

  it('compares only durable entries: a crashed one-voter leader may lead its term again', () => {
    const { checker, kinds } = setup();
    const solo = { voters: ['a'], learners: [] };
    const durable = log(1, 1);
    const lost = [...durable, entry(3, 2, 7)];
    checker.checkMember(inspection('a', 'leader', 2, lost, 2, { config: solo, stable: 2 }), 2);
    checker.restarted('a');
    const again = [...durable, entry(3, 2, 8)];
    checker.checkMember(inspection('a', 'leader', 2, again, 2, { config: solo, stable: 3 }), 2);
    expect(kinds()).toEqual([]);
    checker.checkMember(inspection('b', 'follower', 2, lost, 2, { stable: 3 }), 2);
    expect(kinds()).toEqual(['logMatching']);
  });
});

describe('quorumsIntersect', () => {
  it('holds for configurations one single-server change apart, not for two', () => {
    expect(quorumsIntersect(['a', 'b', 'c'], ['a', 'b', 'c', 'd'])).toBe(true);
    expect(quorumsIntersect(['a', 'b', 'c'], ['a', 'b'])).toBe(true);
    expect(quorumsIntersect(['a'], ['a', 'b'])).toBe(true);
    expect(quorumsIntersect(['a', 'b', 'c'], ['a'])).toBe(false);
    expect(quorumsIntersect(['a', 'b', 'c'], ['a', 'b', 'c', 'd', 'e'])).toBe(false);
    expect(quorumsIntersect(['a', 'b', 'c'], ['a', 'd', 'e'])).toBe(false);
  });
});
