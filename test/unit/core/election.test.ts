import { describe, expect, it } from 'vitest';
import { NotLeaderError } from '../../../src/core/errors.js';
import { TestCluster } from './cluster.js';

describe('leader election', () => {
  it('elects exactly one leader once election timeouts pass, and it commits a no-op of its term', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.tickAll(25);
    expect(cluster.leaders()).toHaveLength(1);
    const leader = cluster.node(cluster.leaders()[0]!).status();
    expect(leader.commit).toBe(2);
    for (const id of cluster.ids)
      expect(cluster.member(id).applied.map((e) => e.kind)).toEqual(['config', 'noop']);
  });

  it('a member with a live leader refuses to vote (check-quorum lease)', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.tickAll(3);
    cluster.node('b').campaign();
    cluster.stabilize();
    expect(cluster.leaders()).toEqual(['a']);
    expect(cluster.node('c').dropCounts()['voteWhileLeaderAlive']).toBeGreaterThan(0);
  });

  it('a partitioned member does not raise its term with pre-vote, and does not disrupt on rejoin', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    const term = cluster.node('a').status().term;
    cluster.isolate('c');
    cluster.tickAll(100);
    expect(cluster.node('c').status().term).toBe(term);
    cluster.heal();
    cluster.tickAll(5);
    expect(cluster.leaders()).toEqual(['a']);
    expect(cluster.node('a').status().term).toBe(term);
  });

  it('a leader that cannot hear a quorum steps down within an election timeout', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.isolate('a');
    cluster.tickAll(20);
    expect(cluster.node('a').status().role).toBe('follower');
  });

  it('the majority side of a partition elects a new leader and keeps committing', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.isolate('a');
    cluster.tickAll(60);
    const [leader] = cluster.leaders().filter((id) => id !== 'a');
    expect(leader).toBeDefined();
    cluster.propose(leader!, 'x');
    cluster.stabilize();
    expect(cluster.node(leader!).status().commit).toBeGreaterThan(1);
  });

  it('never grants two votes in one term, even across a restart', () => {
    const cluster = new TestCluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    cluster.cutLink('a', 'c');
    cluster.node('a').campaign();
    cluster.stabilize();
    expect(cluster.member('b').hardState.vote).toBe('a');
    cluster.restart('b');
    expect(cluster.node('b').inspect().vote).toBe('a');
    cluster.node('c').campaign();
    cluster.stabilize();
    const term2Leaders = cluster.leaders();
    expect(term2Leaders.length).toBeLessThanOrEqual(1);
  });

  it('rejects proposals on a follower with NotLeaderError carrying the leader hint', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    expect(() => cluster.propose('b', 'x')).toThrow(NotLeaderError);
    try {
      cluster.propose('b', 'x');
    } catch (error) {
      expect((error as NotLeaderError).leaderId).toBe('a');
      expect((error as NotLeaderError).code).toBe('NOT_LEADER');
    }
  });

  it('a member that just restarted waits out an election timeout before voting', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.restart('b');
    cluster.restart('c');
    cluster.isolate('a');
    cluster.node('c').campaign();
    cluster.stabilize();
    expect(cluster.node('c').status().role).not.toBe('leader');
    cluster.tickAll(40);
    expect(cluster.leaders().filter((id) => id !== 'a')).toHaveLength(1);
  });

  it('a single-voter cluster elects itself and commits only after its own write is durable', () => {
    const cluster = new TestCluster(['solo']);
    const node = cluster.node('solo');
    node.campaign();
    const first = node.ready();
    expect(node.status().role).toBe('leader');
    expect(first.entries.map((e) => e.kind)).toEqual(['config', 'noop']);
    expect(first.committedEntries).toHaveLength(0);
    expect(node.status().commit).toBe(0);
    node.advance(first);
    expect(node.status().commit).toBe(2);
  });
});
