import { describe, expect, it } from 'vitest';
import { NotLeaderError } from '../../../src/core/errors.js';
import { TestCluster } from './cluster.js';

describe('linearizable reads (ReadIndex)', () => {
  it('answers on the leader only after a quorum confirms its leadership', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.node('a').readIndex('r1');
    cluster.flush();
    expect(cluster.member('a').readStates).toEqual([]);
    cluster.stabilize();
    expect(cluster.member('a').readStates).toEqual([{ index: 2, context: 'r1' }]);
  });

  it('never answers when the heartbeat answers are lost, and fails the read when leadership goes', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.cutLink('b', 'a');
    cluster.cutLink('c', 'a');
    cluster.node('a').readIndex('r1');
    cluster.stabilize();
    expect(cluster.member('a').readStates).toEqual([]);
    cluster.tickAll(20);
    expect(cluster.member('a').readStates).toEqual([]);
    expect(cluster.member('a').droppedReads).toContain('r1');
  });

  it('waits for the new leader to commit an entry of its own term', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.node('b').tick();
    cluster.isolate('a');
    cluster.tickAll(60);
    const leader = cluster.leaders().find((id) => id !== 'a')!;
    expect(leader).toBeDefined();
    const node = cluster.node(leader);
    const state = node.inspect();
    expect(state.entries[state.commit - 1]!.term).toBe(state.term);
    node.readIndex('after');
    cluster.stabilize();
    expect(cluster.member(leader).readStates.at(-1)).toEqual({
      index: state.commit,
      context: 'after',
    });
  });

  it('forwards a read from a follower to the leader and returns the leader commit index', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.propose('a', 'x');
    cluster.stabilize();
    cluster.node('b').readIndex('fr');
    cluster.stabilize();
    expect(cluster.member('b').readStates).toEqual([{ index: 3, context: 'fr' }]);
  });

  it('throws NotLeaderError on a follower that knows no leader', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    expect(() => cluster.node('b').readIndex('x')).toThrow(NotLeaderError);
  });

  it('a deposed leader cannot confirm a read while the majority elected someone else', () => {
    const cluster = new TestCluster(['a', 'b', 'c'], { checkQuorum: false });
    cluster.elect('a');
    cluster.isolate('a');
    cluster.tickAll(60);
    const newLeader = cluster.leaders().find((id) => id !== 'a');
    expect(newLeader).toBeDefined();
    cluster.propose(newLeader!, 'fresh');
    cluster.stabilize();
    cluster.node('a').readIndex('stale?');
    cluster.heal();
    cluster.stabilize();
    expect(cluster.member('a').readStates).toEqual([]);
  });
});

describe('lease reads', () => {
  it('are served at once while a quorum answered a recent heartbeat', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.tickAll(2);
    cluster.node('a').readIndex('lease', 'lease');
    cluster.flush();
    expect(cluster.member('a').readStates).toEqual([{ index: 2, context: 'lease' }]);
  });

  it('fall back to ReadIndex once the lease has expired', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.tickAll(2);
    cluster.cutLink('b', 'a');
    cluster.cutLink('c', 'a');
    cluster.tick('a', 9);
    cluster.stabilize();
    cluster.node('a').readIndex('late', 'lease');
    cluster.flush();
    expect(cluster.member('a').readStates).toEqual([]);
  });

  it('are refused once the leader has sent TimeoutNow', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.tickAll(2);
    cluster.cutLink('c', 'a');
    cluster.node('a').transferLeader('c');
    cluster.flush();
    cluster.take((m) => m.type === 'timeoutNow');
    cluster.node('a').readIndex('lease', 'lease');
    cluster.flush();
    expect(cluster.member('a').readStates).toEqual([]);
  });
});
