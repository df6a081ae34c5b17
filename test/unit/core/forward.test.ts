/**
 * Proposal forwarding (etcd's MsgProp): a follower sends a command to its leader, whose driver
 * proposes it; the follower learns the outcome by applying the entry.
 */
import { describe, expect, it } from 'vitest';
import { NotLeaderError } from '../../../src/core/errors.js';
import { TestCluster } from './cluster.js';

describe('forwarding a proposal', () => {
  it('reaches the leader as a command for its driver to propose', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    const data = new TextEncoder().encode('from b');
    cluster.node('b').forward(data);
    cluster.flush();
    const [message] = cluster.take((m) => m.type === 'forward');
    expect(message).toMatchObject({ type: 'forward', from: 'b', to: 'a' });
    cluster.deliver(message!);
    const ready = cluster.node('a').ready();
    expect(ready.forwarded.map((d) => new TextDecoder().decode(d))).toEqual(['from b']);
    cluster.node('a').advance(ready);
    expect(cluster.node('a').hasReady()).toBe(false);
  });

  it('is refused with NotLeaderError on the leader and when no leader is known', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    expect(() => cluster.node('b').forward(new Uint8Array([1]))).toThrow(NotLeaderError);
    cluster.elect('a');
    expect(() => cluster.node('a').forward(new Uint8Array([1]))).toThrow(NotLeaderError);
  });

  it('is dropped by a member that is not the leader', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.node('b').forward(new Uint8Array([1]));
    cluster.flush();
    const [message] = cluster.take((m) => m.type === 'forward');
    cluster.deliver({ ...message!, to: 'c' });
    expect(cluster.node('c').dropCounts()).toMatchObject({ forwardAsFollower: 1 });
  });
});
