import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import { TestCluster } from './cluster.js';

const ids = ['a', 'b', 'c', 'zz', ''];
const count = fc.oneof(fc.nat(50), fc.constantFrom(-1, 1.5, Number.NaN, 2 ** 60));
const entry = fc.record({
  index: count,
  term: count,
  kind: fc.constantFrom('normal', 'noop', 'bogus'),
  data: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.constant('text')),
});
const message = fc.record({
  type: fc.constantFrom(
    'preVote',
    'vote',
    'preVoteResponse',
    'voteResponse',
    'append',
    'appendResponse',
    'heartbeat',
    'heartbeatResponse',
    'timeoutNow',
    'readIndex',
    'readIndexResponse',
    'nonsense',
  ),
  from: fc.constantFrom(...ids),
  to: fc.constantFrom(...ids),
  term: count,
  lastIndex: count,
  lastTerm: count,
  transfer: fc.oneof(fc.boolean(), fc.constant(1)),
  reject: fc.oneof(fc.boolean(), fc.constant('no')),
  prevIndex: count,
  prevTerm: count,
  commit: count,
  entries: fc.oneof(fc.array(entry, { maxLength: 4 }), fc.constant(null)),
  index: count,
  hintIndex: count,
  hintTerm: count,
  readSeq: count,
  sentTick: count,
  context: fc.oneof(fc.string({ maxLength: 8 }), fc.constant(7)),
});

describe('hostile messages', () => {
  it('never throw inside the core and never break its invariants', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 60 }), fc.nat(3), (messages, leaderChoice) => {
        const cluster = new TestCluster(['a', 'b', 'c']);
        cluster.elect(['a', 'b', 'c'][leaderChoice % 3]!);
        for (const raw of messages) {
          for (const id of cluster.ids) cluster.node(id).step(raw as unknown as Message);
          cluster.stabilize();
        }
        cluster.heal();
        cluster.tickAll(40);
        expect(cluster.leaders().length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
  });

  it('counts every dropped message by reason', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster
      .node('a')
      .step({ type: 'heartbeat', from: 'b', to: 'x', term: 1, commit: 0, readSeq: 0, sentTick: 0 });
    cluster.node('a').step({ type: 'timeoutNow', from: 'a', to: 'a', term: 1 });
    expect(cluster.node('a').dropCounts()).toEqual({ wrongRecipient: 1, fromSelf: 1 });
  });

  it('starts no campaign on a TimeoutNow from anyone but its leader, or from a term ahead', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    const b = cluster.node('b');
    const { term } = b.status();
    b.step({ type: 'timeoutNow', from: 'c', to: 'b', term });
    b.step({ type: 'timeoutNow', from: 'a', to: 'b', term: term + 1 });
    expect(b.status()).toMatchObject({ role: 'follower', term, leaderId: 'a' });
    expect(b.dropCounts()).toMatchObject({ timeoutNowNotFromLeader: 1, timeoutNowAheadOfTerm: 1 });
    b.step({ type: 'timeoutNow', from: 'a', to: 'b', term }); // The leader's own: it campaigns.
    expect(b.status().role).toBe('candidate');
  });
});
