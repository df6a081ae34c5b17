import { describe, expect, it } from 'vitest';
import { resolveRaftOptions } from '../../../src/core/config.js';
import type { RaftOptions } from '../../../src/core/config.js';
import { LeadershipTransferError, OverloadedError } from '../../../src/core/errors.js';
import type { AppendRequest, Message } from '../../../src/core/messages.js';
import { createSeededRandom } from '../../../src/core/random.js';
import { TestCluster, text } from './cluster.js';

const appendsTo = (to: string) => (m: Message) => m.type === 'append' && m.to === to;

describe('log replication', () => {
  it('commits proposals on every member in proposal order', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    for (const value of ['x', 'y', 'z']) cluster.propose('a', value);
    cluster.stabilize();
    for (const id of cluster.ids) {
      expect(
        cluster
          .member(id)
          .applied.filter((e) => e.kind === 'normal')
          .map(text),
      ).toEqual(['x', 'y', 'z']);
    }
  });

  it('batches many proposals into few appends', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    const before = cluster.delivered.length;
    for (let i = 0; i < 100; i++) cluster.propose('a', `v${i}`);
    cluster.stabilize();
    const appends = cluster.delivered
      .slice(before)
      .filter((m) => m.type === 'append' && m.entries.length > 0);
    expect(appends.length).toBeLessThanOrEqual(4);
    expect(cluster.node('b').status().commit).toBe(102);
  });

  it('bounds entries and bytes per append', () => {
    const cluster = new TestCluster(['a', 'b', 'c'], { appendEntriesMax: 8, appendBytesMax: 1000 });
    cluster.elect('a');
    for (let i = 0; i < 50; i++) cluster.propose('a', 'x'.repeat(300));
    cluster.flush();
    const appends = cluster.take(appendsTo('b')) as AppendRequest[];
    for (const append of appends) {
      expect(append.entries.length).toBeLessThanOrEqual(8);
      const bytes = append.entries.reduce((sum, e) => sum + e.data.length, 0);
      expect(bytes <= 1000 || append.entries.length === 1).toBe(true);
    }
  });

  it('keeps at most inflightAppendsMax appends in flight to a silent follower', () => {
    const cluster = new TestCluster(['a', 'b', 'c'], {
      inflightAppendsMax: 4,
      appendEntriesMax: 1,
    });
    cluster.elect('a');
    cluster.cutLink('b', 'a');
    for (let i = 0; i < 40; i++) {
      cluster.propose('a', `v${i}`);
      cluster.flush();
    }
    const appends = cluster.take(appendsTo('b'));
    expect(appends.length).toBeLessThanOrEqual(4);
  });

  it('heartbeat answers do not knock slow in-flight appends back to probe, but recover lost ones', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.isolate('c'); // so no commit news goes out meanwhile: only heartbeats
    cluster.propose('a', 'x');
    cluster.flush();
    const slow = cluster.take(appendsTo('b')) as AppendRequest[];
    expect(slow).toHaveLength(1);
    const before = cluster.delivered.length;
    cluster.tick('a');
    cluster.stabilize();
    const probe = (m: Message) =>
      m.type === 'append' && m.to === 'b' && m.prevIndex >= slow[0]!.prevIndex + 1;
    expect(cluster.delivered.slice(before).filter(probe)).toHaveLength(0);
    for (const message of slow) cluster.deliver(message);
    cluster.stabilize();
    expect(cluster.node('b').status().lastIndex).toBe(cluster.node('a').status().lastIndex);
    cluster.heal();

    cluster.propose('a', 'y');
    cluster.flush();
    cluster.take(appendsTo('b')); // lost for good
    cluster.tickAll(5);
    expect(cluster.member('b').state).toEqual(['x', 'y']);
  });

  it('rejects proposals beyond the uncommitted-entries limit with OverloadedError', () => {
    const cluster = new TestCluster(['a', 'b', 'c'], { uncommittedEntriesMax: 5 });
    cluster.elect('a');
    cluster.isolate('a');
    for (let i = 0; i < 5; i++) cluster.propose('a', 'x');
    expect(() => cluster.propose('a', 'x')).toThrow(OverloadedError);
  });

  it('a follower with a long divergent tail converges in a few round trips (fast backtracking)', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.isolate('a');
    for (let i = 0; i < 200; i++) cluster.propose('a', `stale${i}`);
    cluster.stabilize();
    cluster.tickAll(40);
    const [leader] = cluster.leaders().filter((id) => id !== 'a');
    for (let i = 0; i < 10; i++) cluster.propose(leader!, `new${i}`);
    cluster.stabilize();
    cluster.heal();
    const before = cluster.delivered.length;
    cluster.tickAll(3);
    const rejections = cluster.delivered
      .slice(before)
      .filter((m) => m.type === 'appendResponse' && m.reject && m.from === 'a');
    expect(rejections.length).toBeLessThanOrEqual(3);
    expect(
      cluster
        .node('a')
        .inspect()
        .entries.map((e) => e.term),
    ).toEqual(
      cluster
        .node(leader!)
        .inspect()
        .entries.map((e) => e.term),
    );
    expect(
      cluster
        .member('a')
        .applied.filter((e) => e.kind === 'normal')
        .map(text),
    ).not.toContain('stale0');
  });

  it('a late duplicate append does not truncate entries that match', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.propose('a', 'x');
    cluster.flush();
    const early = cluster.take(appendsTo('b'));
    cluster.propose('a', 'y');
    cluster.flush();
    cluster.stabilize();
    const lastBefore = cluster.node('b').status().lastIndex;
    for (const message of early) cluster.deliver(message);
    cluster.stabilize();
    expect(cluster.node('b').status().lastIndex).toBe(lastBefore);
  });

  it('commits an older-term entry only together with an entry of the current term (figure 8)', () => {
    const cluster = new TestCluster(['a', 'b', 'c', 'd', 'e']);
    cluster.elect('a');
    cluster.isolate('a');
    cluster.heal();
    // a appends an entry of term 2 that reaches only b, then loses leadership.
    cluster.cutLink('a', 'c');
    cluster.cutLink('a', 'd');
    cluster.cutLink('a', 'e');
    cluster.propose('a', 'old');
    cluster.stabilize();
    const oldIndex = cluster.node('a').status().lastIndex;
    cluster.heal();
    cluster.isolate('a');
    cluster.isolate('b');
    cluster.tickAll(60);
    cluster.heal();
    cluster.isolate('a');
    cluster.tickAll(60);
    expect(cluster.node('b').status().commit).toBeLessThan(oldIndex + 1);
    for (const id of cluster.ids) {
      const applied = cluster.member(id).applied;
      const atOld = applied.find((e) => e.index === oldIndex);
      if (atOld !== undefined)
        expect(atOld.term).toBe(cluster.node(id).inspect().entries[oldIndex - 1]!.term);
    }
  });
});

describe('durability', () => {
  it('never persists a commit index that covers entries of the same write (a torn write)', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.isolate('b');
    cluster.heal();
    cluster.cutLink('a', 'b');
    for (let i = 0; i < 5; i++) cluster.propose('a', `v${i}`);
    cluster.stabilize();
    const durableBefore = cluster.node('b').inspect().stable;
    cluster.heal();
    cluster.tick('a');
    const catchUp = (m: Message) => m.type === 'append' && m.to === 'b' && m.entries.length > 0;
    let held: Message[] = [];
    for (let round = 0; round < 20 && held.length === 0; round++) {
      cluster.tick('a');
      cluster.flush();
      held = cluster.take(catchUp);
      for (const message of cluster.take(() => true)) cluster.deliver(message);
    }
    cluster.flush();
    for (const message of held) cluster.deliver(message);
    const ready = cluster.node('b').ready();
    expect(ready.entries.length).toBeGreaterThan(0);
    expect(ready.hardState?.commit ?? 0).toBeLessThanOrEqual(durableBefore);
    cluster.node('b').advance(ready);
    const next = cluster.node('b').ready();
    expect(next.hardState?.commit).toBe(cluster.node('a').status().commit);
  });
});

describe('leadership transfer', () => {
  it('hands leadership to a caught-up member with TimeoutNow', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.propose('a', 'x');
    cluster.stabilize();
    cluster.node('a').transferLeader('c');
    cluster.stabilize();
    expect(cluster.leaders()).toEqual(['c']);
  });

  it('sends TimeoutNow right behind the catch-up append when the leader is leaving', () => {
    for (const leaving of [false, true]) {
      const cluster = new TestCluster(['a', 'b', 'c']);
      cluster.elect('a');
      cluster.stabilize();
      cluster.propose('a', 'x'); // c has not got it when the tab closes.
      cluster.node('a').transferLeader('c', { leaving });
      cluster.flush();
      const fromLeader = cluster.take((message) => message.from === 'a');
      const sent = fromLeader.map((message) => `${message.type}>${message.to}`);
      expect(sent.indexOf('timeoutNow>c')).toBe(leaving ? sent.indexOf('append>c') + 1 : -1);
      for (const message of fromLeader) cluster.deliver(message);
      cluster.isolate('a'); // Gone: no answer reaches it any more.
      cluster.stabilize();
      expect(cluster.node('c').status().role).toBe(leaving ? 'leader' : 'follower');
    }
  });

  it('keeps a transfer under way: a second target would campaign beside the first', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.stabilize();
    cluster.node('a').transferLeader('b', { leaving: true });
    cluster.node('a').transferLeader('c', { leaving: true }); // The page's close, after pagehide.
    expect(cluster.node('a').status().transferee).toBe('b');
    cluster.flush();
    const told = cluster.take((message) => message.type === 'timeoutNow').map((m) => m.to);
    expect(told).toEqual(['b']);
  });

  it('rejects proposals while a transfer is under way, and aborts it after an election timeout', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.isolate('c');
    cluster.node('a').transferLeader('c');
    expect(() => cluster.propose('a', 'x')).toThrow(LeadershipTransferError);
    for (let i = 0; i < 12; i++) {
      cluster.tick('a');
      cluster.tick('b');
      cluster.stabilize();
    }
    expect(cluster.leaders()).toEqual(['a']);
    expect(() => cluster.propose('a', 'x')).not.toThrow();
  });
});

describe('applying while the leader writes (a slow disk on the leader)', () => {
  it('hands out an entry a quorum of followers holds before the leader’s own write ends', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.stabilize();
    const leader = cluster.node('a');
    const ticket = leader.propose(new TextEncoder().encode('fast'));
    const writing = leader.ready(); // The write of `fast` on a's disk has begun and not ended.
    expect(writing.entries.map((e) => e.index)).toEqual([ticket.index]);
    expect(leader.takeCommittedDuringWrite()).toEqual([]); // Nobody else has it yet.
    for (const follower of ['b', 'c']) {
      for (const message of writing.messages.filter(appendsTo(follower))) {
        cluster.node(follower).step(message);
      }
      const answer = cluster.node(follower).ready();
      cluster.node(follower).advance(answer);
      for (const response of answer.messages) leader.step(response);
    }
    expect(leader.status().commit).toBe(ticket.index);
    expect(leader.takeCommittedDuringWrite().map(text)).toEqual(['fast']);
    expect(leader.takeCommittedDuringWrite()).toEqual([]); // Handed out once.
    leader.advance(writing);
    const next = leader.ready();
    expect(next.committedEntries.map((e) => e.index)).not.toContain(ticket.index);
  });

  it('hands out nothing outside a write, nor an entry not yet handed to the disk', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.stabilize();
    const leader = cluster.node('a');
    expect(leader.takeCommittedDuringWrite()).toEqual([]);
    const writing = leader.ready();
    leader.propose(new TextEncoder().encode('later')); // Not in the Ready being written.
    expect(leader.takeCommittedDuringWrite()).toEqual([]);
    leader.advance(writing);
  });
});

describe('replicating while the leader writes', () => {
  it('sends what was proposed during the write at once, and nothing else', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.stabilize();
    const leader = cluster.node('a');
    leader.propose(new TextEncoder().encode('first'));
    const writing = leader.ready();
    const second = leader.propose(new TextEncoder().encode('second'));
    const now = leader.takeReplicationDuringWrite();
    expect(new Set(now.map((m) => m.to))).toEqual(new Set(['b', 'c']));
    for (const message of now) {
      expect(message.type).toBe('append');
      const entries = (message as AppendRequest).entries;
      expect(entries.map((e) => e.index)).toContain(second.index);
    }
    expect(leader.takeReplicationDuringWrite()).toEqual([]);
    leader.advance(writing);
    // The second entry still goes to the leader's own disk with the next Ready.
    expect(leader.ready().entries.map((e) => e.index)).toEqual([second.index]);
    expect(cluster.node('b').takeReplicationDuringWrite()).toEqual([]); // Followers never do.
  });

  it('hands off leadership during the write: a closing tab may not live to its end', () => {
    const cluster = new TestCluster(['a', 'b', 'c']);
    cluster.elect('a');
    cluster.stabilize();
    const leader = cluster.node('a');
    leader.propose(new TextEncoder().encode('being written'));
    const writing = leader.ready();
    // The write's append left with the Ready; the successor is sent everything already.
    leader.transferLeader('b', { leaving: true });
    const now = leader.takeReplicationDuringWrite();
    expect(now.map((m) => `${m.type}>${m.to}`)).toEqual(['append>b', 'timeoutNow>b']);
    leader.advance(writing);
    expect(leader.ready().messages.filter((m) => m.type === 'timeoutNow')).toEqual([]);
  });
});

describe('replication to learners', () => {
  it('keeps one append in flight to a learner', () => {
    const cluster = TestCluster.withLearner({ appendEntriesMax: 1 });
    cluster.cutLink('d', 'a'); // The learner's answers do not come back.
    for (let i = 0; i < 10; i++) {
      cluster.propose('a', `v${i}`);
      cluster.flush();
    }
    const appends = cluster.take(appendsTo('d')) as AppendRequest[];
    // A voter's window would have let all ten go.
    expect(appends.filter((append) => append.entries.length > 0)).toHaveLength(1);
  });

  it('tells a learner of a commit its full window held back as soon as it answers', () => {
    const cluster = TestCluster.withLearner();
    cluster.propose('a', 'x');
    cluster.flush();
    const held = cluster.take(appendsTo('d'));
    cluster.stabilize(); // b and c answer: committed, but d's window is full.
    const commit = cluster.node('a').status().commit;
    expect(cluster.node('d').status().commit).toBeLessThan(commit);
    for (const append of held) cluster.deliver(append);
    cluster.stabilize(); // No tick, so no heartbeat: the answer itself brings the news.
    expect(cluster.node('d').status().commit).toBe(commit);
    expect(cluster.member('d').applied.map(text).slice(-1)).toEqual(['x']);
  });

  it('heartbeats a caught-up learner every learnerIdleHeartbeatTicks; a lagging one gets an append at its turn', () => {
    const cluster = TestCluster.withLearner({ paceLearners: true, learnerIdleHeartbeatTicks: 5 });
    cluster.tick('a');
    cluster.stabilize(); // The learner now holds every entry and knows the commit.
    const heartbeatsTo = (to: string) =>
      cluster.delivered.filter((m) => m.type === 'heartbeat' && m.to === to).length;
    const [learnerBefore, voterBefore] = [heartbeatsTo('d'), heartbeatsTo('b')];
    for (let i = 0; i < 20; i++) {
      cluster.tick('a');
      cluster.stabilize();
    }
    expect(heartbeatsTo('b') - voterBefore).toBe(20);
    expect(heartbeatsTo('d') - learnerBefore).toBe(4);
    expect(cluster.node('d').status().leaderId).toBe('a');
    // A new entry: the learner is behind, so at the next heartbeat the entry goes to it as an
    // append that carries the commit, with no heartbeat to ask first.
    cluster.propose('a', 'x');
    cluster.stabilize();
    const beforeEntry = heartbeatsTo('d');
    cluster.tick('a');
    cluster.stabilize();
    expect(heartbeatsTo('d')).toBe(beforeEntry);
    expect(cluster.member('d').applied.map(text).slice(-1)).toEqual(['x']);
    expect(cluster.node('d').status().commit).toBe(cluster.node('a').status().commit);
  });

  it('caps learnerIdleHeartbeatTicks at half the shortest election timeout', () => {
    const options = resolveRaftOptions({
      id: 'a',
      random: createSeededRandom(1),
      electionTimeoutTicksMin: 6,
      electionTimeoutTicksMax: 9,
      learnerIdleHeartbeatTicks: 50,
    });
    expect(options.learnerIdleHeartbeatTicks).toBe(3);
    expect(resolveRaftOptions({ id: 'a', random: createSeededRandom(1) })).toMatchObject({
      learnerIdleHeartbeatTicks: 5,
    });
    expect(() =>
      resolveRaftOptions({ id: 'a', random: createSeededRandom(1), learnerIdleHeartbeatTicks: 0 }),
    ).toThrow(/learnerIdleHeartbeatTicks/);
  });

  it('finds a lost batch to a paced learner by its heartbeats, and sends it again', () => {
    const cluster = TestCluster.withLearner({ paceLearners: true });
    cluster.tick('a');
    cluster.stabilize();
    cluster.propose('a', 'x');
    cluster.stabilize();
    cluster.tick('a');
    cluster.flush();
    const lost = cluster.take((m) => m.type === 'append' && m.to === 'd');
    expect(lost).toHaveLength(1); // The batch went as an append, and is lost.
    cluster.stabilize();
    // Every entry is out, so its turns bring heartbeats, until their answers show the batch lost.
    for (let i = 0; i < 6; i++) {
      cluster.tick('a');
      cluster.stabilize();
    }
    expect(cluster.member('d').state.slice(-1)).toEqual(['x']);
    expect(cluster.node('d').status().commit).toBe(cluster.node('a').status().commit);
  });

  it('serves paced learners beyond learnerBatchesPerHeartbeat in turns, an equal share per heartbeat', () => {
    const served = servedPerHeartbeat(['d', 'e'], { learnerBatchesPerHeartbeat: 1 }, 6);
    expect(served.join('')).toMatch(/^(de)+$|^(ed)+$/);
    expect(served.every((learners) => learners.length === 1)).toBe(true);
  });

  it('serves every paced learner within half the shortest election timeout, however many', () => {
    const learners = ['d', 'e', 'f', 'g'];
    const served = servedPerHeartbeat(
      learners,
      { learnerBatchesPerHeartbeat: 1, electionTimeoutTicksMin: 6, electionTimeoutTicksMax: 9 },
      9,
    );
    // Four learners, one per heartbeat asked for, but each is served every 3 heartbeats.
    for (let i = 0; i + 3 <= served.length; i++) {
      const window = served.slice(i, i + 3).join('');
      for (const learner of learners) expect(window).toContain(learner);
    }
  });

  it('paces a caught-up learner: its entries go with the heartbeats, a lagging one is streamed to', () => {
    const cluster = TestCluster.withLearner({ paceLearners: true, appendEntriesMax: 8 });
    const learnerAppends = () =>
      cluster.delivered.filter(
        (m) => m.type === 'append' && m.to === 'd' && (m as AppendRequest).entries.length > 0,
      ).length;
    const before = learnerAppends();
    for (let i = 0; i < 5; i++) {
      cluster.propose('a', `v${i}`);
      cluster.stabilize();
    }
    // Committed by the voters, not yet sent to the caught-up learner.
    expect(learnerAppends()).toBe(before);
    expect(cluster.node('d').status().commit).toBeLessThan(cluster.node('a').status().commit);
    cluster.tick('a'); // A heartbeat brings the batch, with the commit; the next has nothing.
    cluster.stabilize();
    cluster.tick('a');
    cluster.stabilize();
    expect(learnerAppends()).toBe(before + 1);
    expect(cluster.node('d').status().commit).toBe(cluster.node('a').status().commit);
    // Far behind (more than one append's worth): streamed to without waiting for heartbeats,
    // until within one append of the leader; the rest goes with the next heartbeat.
    const caughtUpTo = cluster.node('d').status().lastIndex;
    cluster.isolate('d');
    for (let i = 0; i < 30; i++) cluster.propose('a', `w${i}`);
    cluster.stabilize();
    cluster.heal();
    cluster.tick('a');
    cluster.stabilize();
    const leaderLast = cluster.node('a').status().lastIndex;
    const learnerLast = cluster.node('d').status().lastIndex;
    expect(learnerLast - caughtUpTo).toBeGreaterThan(8); // Several appends after one heartbeat.
    expect(leaderLast - learnerLast).toBeLessThanOrEqual(8);
    cluster.tick('a');
    cluster.stabilize();
    expect(cluster.node('d').status().lastIndex).toBe(leaderLast);
  });
});

/**
 * Voters a, b, c with a leading and `learners` added, paced; then one entry and one heartbeat per
 * round: which learners each heartbeat sent entries to. Checks every learner ends up with all.
 */
function servedPerHeartbeat(
  learners: readonly string[],
  options: Partial<RaftOptions>,
  rounds: number,
): string[] {
  const cluster = new TestCluster(['a', 'b', 'c'], { paceLearners: true, ...options });
  cluster.elect('a');
  for (const learner of learners) {
    cluster.addEmptyMember(learner);
    cluster.node('a').proposeConfChange({ type: 'addLearner', member: learner });
    cluster.stabilize();
  }
  const appendsTo = (to: string) =>
    cluster.delivered.filter(
      (m) => m.type === 'append' && m.to === to && (m as AppendRequest).entries.length > 0,
    ).length;
  const heartbeat = () => {
    cluster.tick('a');
    cluster.stabilize();
  };
  for (let i = 0; i < 8; i++) heartbeat(); // Every learner caught up.
  const served: string[] = [];
  for (let round = 0; round < rounds; round++) {
    cluster.propose('a', `v${round}`);
    cluster.stabilize();
    const before = learners.map(appendsTo);
    heartbeat();
    served.push(learners.filter((learner, i) => appendsTo(learner) > before[i]!).join(''));
  }
  for (let i = 0; i < 8; i++) heartbeat();
  const last = cluster.node('a').status().lastIndex;
  for (const learner of learners) {
    expect(cluster.node(learner).status().lastIndex).toBe(last);
    expect(cluster.member(learner).state.slice(-1)).toEqual([`v${rounds - 1}`]);
  }
  return served;
}
