/**
 * The invariant checker on hand-made member states: each Raft safety property, when broken,
 * yields its violation; healthy histories yield none.
 */
import { describe, expect, it } from 'vitest';
import type { RaftInspection } from '../../src/core/raft.js';
import type { Entry, MemberId, Role } from '../../src/core/types.js';
import { MemoryDisk } from '../../src/storage/memory.js';
import { InvariantChecker } from './invariants.js';

const IDS = ['a', 'b', 'c'];

function entry(index: number, term: number, byte = index): Entry {
  return { index, term, kind: 'normal', data: new Uint8Array([byte]) };
}

/** A log whose entry i has the term terms[i - 1]. */
function log(...terms: number[]): Entry[] {
  return terms.map((term, i) => entry(i + 1, term));
}

function inspection(
  id: MemberId,
  role: Role,
  term: number,
  entries: Entry[],
  commit: number,
): RaftInspection {
  return {
    id,
    role,
    term,
    leaderId: role === 'leader' ? id : null,
    commit,
    lastIndex: entries.length,
    vote: null,
    stable: entries.length,
    applying: commit,
    entries,
  };
}

function setup() {
  const disks = new Map(IDS.map((id) => [id, new MemoryDisk()]));
  const checker = new InvariantChecker({
    now: () => 0,
    members: IDS,
    disk: (id) => disks.get(id)!,
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
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'leader', 3, log(1, 2, 3), 0), 0);
    checker.checkMember(inspection('a', 'leader', 3, log(1, 2, 3), 2), 0);
    expect(kinds()).toEqual(['leaderCommitRule']);
  });

  it('reports a member that applied past its commit index', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'follower', 1, log(1, 1), 1), 2);
    expect(kinds()).toEqual(['appliedPastCommit']);
  });

  it('reports different entries applied at one index (state machine safety)', () => {
    const { checker, disks, kinds } = setup();
    for (const disk of disks.values()) disk.write({ hardState: null, entries: [entry(1, 1)] });
    checker.onApply('a', { index: 1, term: 1, time: 5 }, new Uint8Array([1]));
    checker.onApply('b', { index: 1, term: 1, time: 5 }, new Uint8Array([1]));
    expect(kinds()).toEqual([]);
    checker.onApply('c', { index: 1, term: 1, time: 5 }, new Uint8Array([2]));
    expect(kinds()).toEqual(['stateMachineSafety']);
  });

  it('reports an entry applied while durable on fewer than a quorum', () => {
    const { checker, disks, kinds } = setup();
    disks.get('a')!.write({ hardState: null, entries: [entry(1, 1)] });
    checker.onApply('a', { index: 1, term: 1, time: 0 }, new Uint8Array([1]));
    expect(kinds()).toEqual(['durability']);
  });

  it('reports an acknowledgement or a vote sent before it is durable', () => {
    const { checker, disks, kinds } = setup();
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
    expect(kinds()).toEqual(['durability', 'durability']);
    disks.get('b')!.write({ hardState: { term: 1, vote: 'a', commit: 0 }, entries: [entry(1, 1)] });
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
    expect(kinds()).toHaveLength(2);
  });

  it('accepts a stale acknowledgement whose entries a later-term leader replaced', () => {
    const { checker, disks, kinds } = setup();
    disks
      .get('b')!
      .write({ hardState: { term: 2, vote: null, commit: 0 }, entries: [entry(1, 2)] });
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
      { hardState: { term: 4, vote: 'b', commit: 1 }, entries: [] },
    );
    checker.onDurable(
      'a',
      { term: 4, vote: 'b', commit: 0 },
      { hardState: { term: 5, vote: 'c', commit: 0 }, entries: [] },
    );
    expect(kinds()).toEqual([]);
    checker.onDurable(
      'a',
      { term: 4, vote: 'b', commit: 0 },
      { hardState: { term: 4, vote: 'c', commit: 0 }, entries: [] },
    );
    expect(kinds()).toEqual(['doubleVote']);
  });

  it('reports a term that goes backwards within an incarnation', () => {
    const { checker, kinds } = setup();
    checker.checkMember(inspection('a', 'follower', 5, [], 0), 0);
    checker.checkMember(inspection('a', 'follower', 4, [], 0), 0);
    expect(kinds()).toEqual(['termRegressed']);
  });
});
