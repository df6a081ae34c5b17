import { describe, expect, it } from 'vitest';
import { UnknownMemberError } from '../../../src/core/errors.js';
import {
  ConfigChangeInProgressError,
  InvalidConfigChangeError,
} from '../../../src/core/membership.js';
import { RaftNode } from '../../../src/core/raft.js';
import { createSeededRandom } from '../../../src/core/random.js';
import { EMPTY_HARD_STATE } from '../../../src/core/types.js';
import { TestCluster, text } from './cluster.js';

const emptyNode = (id: string) =>
  new RaftNode(
    { id, random: createSeededRandom(1) },
    { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] },
  );

describe('bootstrap', () => {
  it('a member with an empty log never starts an election on its own', () => {
    const node = emptyNode('x');
    for (let i = 0; i < 200; i++) node.tick();
    expect(node.status()).toMatchObject({ role: 'follower', term: 0 });
    expect(node.hasReady() ? node.ready().messages : []).toEqual([]);
  });

  it('members bootstrapped with the same configuration write the very same first entry', () => {
    const [a, b] = [emptyNode('a'), emptyNode('b')];
    a.bootstrap({ voters: ['a', 'b', 'c'], learners: [] });
    b.bootstrap({ voters: ['c', 'b', 'a'], learners: [] });
    expect(a.ready().entries).toEqual(b.ready().entries);
  });

  it('is decided once: a member that has a log cannot bootstrap again', () => {
    const node = emptyNode('a');
    node.bootstrap({ voters: ['a'], learners: [] });
    expect(() => node.bootstrap({ voters: ['a', 'b'], learners: [] })).toThrow(
      InvalidConfigChangeError,
    );
  });

  it('refuses a configuration that does not make this member a voter', () => {
    expect(() => emptyNode('a').bootstrap({ voters: ['b'], learners: [] })).toThrow(
      InvalidConfigChangeError,
    );
  });

  it('one bootstrapped member brings up a cluster of empty members', () => {
    const cluster = new TestCluster(['a']);
    cluster.addEmptyMember('b');
    cluster.addEmptyMember('c');
    cluster.elect('a');
    cluster.node('a').proposeConfChange({ type: 'addLearner', member: 'b' });
    cluster.stabilize();
    expect(cluster.node('b').status().config.learners).toEqual(['b']);
    expect(cluster.node('b').status().commit).toBe(cluster.node('a').status().commit);
  });
});

describe('single-server membership changes', () => {
  it('a learner receives the log but counts for neither commit nor election', () => {
    const cluster = TestCluster.withLearner();
    cluster.propose('a', 'x');
    cluster.stabilize();
    expect(cluster.member('d').state).toEqual(['x']);
    cluster.isolate('b');
    cluster.isolate('c');
    const commit = cluster.node('a').status().commit;
    cluster.propose('a', 'y');
    cluster.stabilize();
    expect(cluster.node('a').status().commit).toBe(commit);
    cluster.heal();
    cluster.isolate('a');
    cluster.tickAll(80);
    expect(cluster.node('d').status().role).toBe('follower');
    expect(cluster.leaders().filter((id) => id !== 'a')).toHaveLength(1);
  });

  it('a promoted learner counts toward the quorum', () => {
    const cluster = TestCluster.withLearner();
    cluster.node('a').proposeConfChange({ type: 'promote', member: 'd' });
    cluster.stabilize();
    expect(cluster.node('b').status().config.voters).toEqual(['a', 'b', 'c', 'd']);
    cluster.isolate('b');
    cluster.isolate('c');
    const commit = cluster.node('a').status().commit;
    cluster.propose('a', 'x');
    cluster.stabilize();
    expect(cluster.node('a').status().commit).toBe(commit);
  });

  it('refuses a second change while one is uncommitted', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.isolate('a');
    cluster.node('a').proposeConfChange({ type: 'addLearner', member: 'd' });
    expect(() => cluster.node('a').proposeConfChange({ type: 'addLearner', member: 'e' })).toThrow(
      ConfigChangeInProgressError,
    );
  });

  it('refuses a change until the leader has committed an entry of its term', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.silence(10);
    cluster.node('a').campaign();
    while (cluster.node('a').status().role !== 'leader') {
      cluster.flush();
      for (const message of cluster.take(() => true)) cluster.deliver(message);
    }
    cluster.flush();
    cluster.take(() => true); // the no-op never reaches anyone
    expect(() => cluster.node('a').proposeConfChange({ type: 'addLearner', member: 'd' })).toThrow(
      ConfigChangeInProgressError,
    );
  });

  it('refuses changes that make no sense', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    const a = cluster.node('a');
    expect(() => a.proposeConfChange({ type: 'addLearner', member: 'b' })).toThrow(
      InvalidConfigChangeError,
    );
    expect(() => a.proposeConfChange({ type: 'promote', member: 'b' })).toThrow(
      InvalidConfigChangeError,
    );
    expect(() => a.proposeConfChange({ type: 'remove', member: 'zz' })).toThrow(
      InvalidConfigChangeError,
    );
    expect(() => a.transferLeader('zz')).toThrow(UnknownMemberError);
    const solo = new TestCluster(['s']);
    solo.elect('s');
    expect(() => solo.node('s').proposeConfChange({ type: 'remove', member: 's' })).toThrow(
      InvalidConfigChangeError,
    );
  });

  it('a leader that removes itself steps down once the change commits, and the rest carry on', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.node('a').proposeConfChange({ type: 'remove', member: 'a' });
    cluster.stabilize();
    expect(cluster.node('a').status().role).toBe('follower');
    expect(cluster.node('b').status().config.voters).toEqual(['b', 'c']);
    cluster.tickAll(60);
    const [leader] = cluster.leaders();
    expect(['b', 'c']).toContain(leader);
    cluster.propose(leader!, 'after');
    cluster.stabilize();
    expect(cluster.member('b').state).toContain('after');
    expect(cluster.node('a').status().term).toBeLessThan(cluster.node(leader!).status().term + 1);
  });

  it('a removed member does not disrupt the cluster', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.isolate('c');
    cluster.node('a').proposeConfChange({ type: 'remove', member: 'c' });
    cluster.stabilize();
    const term = cluster.node('a').status().term;
    cluster.tickAll(100);
    cluster.heal();
    cluster.tickAll(100);
    expect(cluster.leaders()).toEqual(['a']);
    expect(cluster.node('a').status().term).toBe(term);
    cluster.propose('a', 'still');
    cluster.stabilize();
    expect(cluster.member('b').applied.map(text)).toContain('still');
  });

  it('a member demoted by an uncommitted change may still campaign, so the change can commit', () => {
    // The demotion reaches nobody before the leader loses quorum: b lacks it and needs a's vote,
    // a refuses (its log is longer). Only if a may lead again can anyone ever be elected.
    const cluster = new TestCluster(['a', 'b']);
    cluster.elect('a');
    cluster.propose('a', 'x');
    cluster.stabilize();
    cluster.isolate('a');
    cluster.node('a').proposeConfChange({ type: 'demote', member: 'a' });
    cluster.stabilize();
    cluster.tickAll(100);
    cluster.heal();
    cluster.tickAll(300);
    expect(cluster.leaders()).toEqual(['b']);
    expect(cluster.node('b').status().config).toEqual({ voters: ['b'], learners: ['a'] });
    cluster.propose('b', 'after');
    cluster.stabilize();
    expect(cluster.member('a').state).toContain('after');
  });
});
