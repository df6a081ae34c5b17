/**
 * TESTING.md 18: a member whose storage cut its log short on recovery may have acknowledged
 * entries it no longer holds. It must not vote (or campaign) as if they were never there, or a
 * leader lacking a committed entry could be elected with its vote.
 */
import { describe, expect, it } from 'vitest';
import { RaftNode } from '../../../src/core/raft.js';
import { createSeededRandom } from '../../../src/core/random.js';
import { TestCluster } from './cluster.js';

/** a leads; x is committed by a and c alone (b cut off); then c loses x to a torn tail. */
function committedThenTorn(): TestCluster {
  const cluster = new TestCluster(['a', 'b', 'c']);
  cluster.elect('a');
  const before = cluster.node('c').status().lastIndex;
  cluster.isolate('b');
  cluster.propose('a', 'x');
  cluster.stabilize();
  expect(cluster.node('a').status().commit).toBe(before + 1);
  cluster.restart('c', 5, before); // x was in c's torn tail.
  return cluster;
}

describe('a member restarted with a torn tail', () => {
  it('refuses votes and does not campaign, so b (without x) cannot be elected', () => {
    const cluster = committedThenTorn();
    cluster.heal();
    cluster.isolate('a'); // a is down; only b and c remain.
    expect(cluster.node('c').status().votesWithheld).toBe(true);
    for (let i = 0; i < 20; i++) {
      cluster.node('b').campaign();
      cluster.tickAll(20);
      cluster.stabilize();
    }
    expect(cluster.leaders()).toEqual([]);
    expect(cluster.node('c').status().role).not.toBe('leader');
  });

  it('votes again once it caught up with a leader past an entry of that leader’s term', () => {
    const cluster = committedThenTorn();
    cluster.heal();
    cluster.tickAll(30);
    cluster.stabilize();
    const leader = cluster.leaders()[0]!;
    expect(leader).toBe('a');
    cluster.propose('a', 'y');
    cluster.stabilize();
    expect(cluster.node('c').status().votesWithheld).toBe(false);
    expect(cluster.member('c').state).toEqual(['x', 'y']);
    // And c counts again: with a gone, b and c elect a leader, which holds x and y.
    cluster.isolate('a');
    for (let i = 0; i < 5 && cluster.leaders().every((id) => id === 'a'); i++) {
      cluster.tickAll(30);
      cluster.stabilize();
    }
    const next = cluster.leaders().find((id) => id !== 'a');
    expect(next).toBeDefined();
    cluster.propose(next!, 'z');
    cluster.stabilize();
    expect(cluster.member(next!).state).toEqual(['x', 'y', 'z']);
  });

  it('a lone voter does not withhold: nobody could be elected without it anyway', () => {
    const first = new RaftNode(
      { id: 'solo', random: createSeededRandom(3) },
      { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
    );
    first.bootstrap({ voters: ['solo'], learners: [] });
    const { entries, hardState } = first.ready();
    const node = new RaftNode(
      { id: 'solo', random: createSeededRandom(3) },
      { hardState: hardState!, snapshot: null, entries, votesWithheld: true },
    );
    expect(node.status().votesWithheld).toBe(false);
    for (let i = 0; i < 100 && node.status().role !== 'leader'; i++) {
      node.tick();
      if (node.hasReady()) node.advance(node.ready());
    }
    expect(node.status().role).toBe('leader');
  });
});
