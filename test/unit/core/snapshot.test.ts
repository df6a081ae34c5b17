import { describe, expect, it } from 'vitest';
import type { SnapshotChunk } from '../../../src/core/messages.js';
import { TestCluster } from './cluster.js';

const compactOften = {
  snapshotEntriesThreshold: 20,
  compactionTailEntries: 5,
  snapshotChunkBytes: 64,
};

function fill(cluster: TestCluster, leader: string, count: number, prefix = 'v'): void {
  for (let i = 0; i < count; i++) {
    cluster.propose(leader, `${prefix}${i}`);
    cluster.stabilize();
  }
}

/** Leader a has compacted past everything follower c holds; c is still cut off. */
function laggingFollower(): TestCluster {
  const cluster = new TestCluster(['a', 'b', 'c'], compactOften);
  cluster.elect('a');
  cluster.isolate('c');
  fill(cluster, 'a', 80);
  return cluster;
}

describe('compaction', () => {
  it('snapshots and drops the log once past the threshold, keeping a tail', () => {
    const cluster = new TestCluster(['a', 'b', 'c'], compactOften);
    cluster.elect('a');
    fill(cluster, 'a', 60);
    const a = cluster.node('a').inspect();
    expect(a.snapshotIndex).toBeGreaterThanOrEqual(40);
    expect(a.firstIndex).toBe(a.snapshotIndex - 5 + 1);
    expect(a.entries.length).toBeLessThan(30);
  });

  it('a restart from snapshot plus log reproduces the same state', () => {
    const cluster = new TestCluster(['a', 'b', 'c'], compactOften);
    cluster.elect('a');
    fill(cluster, 'a', 50);
    const before = [...cluster.member('b').state];
    expect(cluster.member('b').snapshot).not.toBeNull();
    cluster.restart('b');
    cluster.tickAll(3);
    expect(cluster.member('b').state).toEqual(before);
  });
});

describe('InstallSnapshot', () => {
  it('a follower too far behind catches up through a multi-chunk snapshot', () => {
    const cluster = laggingFollower();
    expect(cluster.node('a').inspect().firstIndex).toBeGreaterThan(
      cluster.node('c').status().lastIndex + 1,
    );
    cluster.heal();
    const before = cluster.delivered.length;
    cluster.tickAll(3);
    const chunks = cluster.delivered
      .slice(before)
      .filter((m) => m.type === 'snapshot' && m.to === 'c');
    expect(chunks.length).toBeGreaterThan(3);
    expect(cluster.member('c').snapshotsInstalled).toBe(1);
    expect(cluster.member('c').state).toEqual(cluster.member('a').state);
    fill(cluster, 'a', 3, 'after');
    expect(cluster.member('c').state).toEqual(cluster.member('a').state);
  });

  it('sends one chunk at a time and resumes after a lost chunk', () => {
    const cluster = laggingFollower();
    cluster.heal();
    cluster.tick('a');
    cluster.flush();
    // Step by step: never more than one chunk to c in flight; drop the third one once.
    let sent = 0;
    let dropped = false;
    for (let round = 0; round < 400 && cluster.member('c').snapshotsInstalled === 0; round++) {
      cluster.flush();
      const chunks = cluster.take((m) => m.type === 'snapshot') as SnapshotChunk[];
      expect(chunks.length).toBeLessThanOrEqual(1);
      for (const chunk of chunks) {
        sent++;
        if (sent === 3 && !dropped) {
          dropped = true;
          continue;
        }
        cluster.deliver(chunk);
      }
      for (const message of cluster.take(() => true)) cluster.deliver(message);
      if (chunks.length === 0) cluster.tick('a');
    }
    expect(dropped).toBe(true);
    expect(cluster.member('c').snapshotsInstalled).toBe(1);
    cluster.stabilize();
    expect(cluster.member('c').state).toEqual(cluster.member('a').state);
  });

  it('a new member joins through a snapshot when the log it needs is gone', () => {
    const cluster = new TestCluster(['a', 'b', 'c'], compactOften);
    cluster.elect('a');
    fill(cluster, 'a', 60);
    cluster.addEmptyMember('d');
    cluster.node('a').proposeConfChange({ type: 'addLearner', member: 'd' });
    cluster.stabilize();
    cluster.tickAll(3);
    expect(cluster.member('d').snapshotsInstalled).toBe(1);
    expect(cluster.member('d').state).toEqual(cluster.member('a').state);
    expect(cluster.node('d').status().config.learners).toEqual(['d']);
  });

  it('plans no local snapshot once a newer one from the leader is installed', () => {
    const cluster = laggingFollower();
    cluster.heal();
    cluster.tickAll(3);
    const c = cluster.node('c').inspect();
    expect(c.snapshotIndex).toBeGreaterThan(0);
    expect(cluster.node('c').planSnapshot(c.snapshotIndex)).toBeNull();
    expect(cluster.node('c').planSnapshot(c.snapshotIndex - 10)).toBeNull();
  });

  it('a duplicated answer does not start a second stream of chunks', () => {
    const cluster = laggingFollower();
    cluster.heal();
    cluster.tick('a');
    let duplicated = false;
    for (let round = 0; round < 400 && cluster.member('c').snapshotsInstalled === 0; round++) {
      cluster.flush();
      const chunks = cluster.take((m) => m.type === 'snapshot');
      expect(chunks.length).toBeLessThanOrEqual(1);
      for (const chunk of chunks) cluster.deliver(chunk);
      cluster.flush();
      for (const message of cluster.take(() => true)) {
        cluster.deliver(message);
        if (message.type === 'snapshotResponse' && !duplicated) {
          duplicated = true;
          cluster.deliver(message);
        }
      }
      if (chunks.length === 0) cluster.tick('a');
    }
    expect(duplicated).toBe(true);
    expect(cluster.member('c').snapshotsInstalled).toBe(1);
  });

  it('never persists a commit index that covers a snapshot install in the same write', () => {
    const cluster = laggingFollower();
    const durableCommit = cluster.member('c').hardState.commit;
    cluster.heal();
    cluster.tick('a');
    for (let round = 0; round < 400; round++) {
      cluster.flush();
      const toC = cluster.take((m) => m.to === 'c');
      for (const message of cluster.take(() => true)) cluster.deliver(message);
      for (const message of toC) cluster.deliver(message);
      if (cluster.node('c').inspect().snapshotIndex > 0) break;
      cluster.tick('a');
    }
    const ready = cluster.node('c').ready();
    expect(ready.snapshot).not.toBeNull();
    expect(ready.hardState?.commit ?? durableCommit).toBeLessThanOrEqual(durableCommit);
    cluster.node('c').advance(ready);
    expect(cluster.node('c').ready().hardState?.commit).toBe(ready.snapshot!.meta.index);
  });
});
