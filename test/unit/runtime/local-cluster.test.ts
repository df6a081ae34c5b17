import { afterEach, describe, expect, it } from 'vitest';
import { KvSession } from '../../../src/client/kv-session.js';
import { NotLeaderError } from '../../../src/core/errors.js';
import { LocalCluster } from '../../../src/runtime/local-cluster.js';
import { leaderOf, sleep } from './cluster-wait.js';

/** A client session on `c`, retrying through elections. */
function openSession(c: LocalCluster, attemptsMax = 20): Promise<KvSession> {
  return KvSession.open({ submit: (command) => c.submit(command), sleep, attemptsMax });
}

let cluster: LocalCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe('a cluster in one process (the README example)', () => {
  it('replicates session writes to every member, with identical state', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5 });
    const c = cluster;
    await leaderOf(c);
    const session = await openSession(c);
    await session.put('counter', 1);
    expect((await session.cas('counter', 1, 2)).ok).toBe(true);
    expect((await session.cas('counter', 1, 3)).ok).toBe(false);
    const txn = await session.txn(
      [{ key: 'counter', version: 2 }],
      [{ type: 'put', key: 'done', value: true }],
    );
    expect(txn.ok).toBe(true);
    expect(await c.read({ type: 'get', key: 'counter' })).toMatchObject({ value: 2, version: 2 });
    await sleep(50);
    const digests = new Set(c.ids.map((id) => c.stateMachine(id).digest()));
    expect(digests.size).toBe(1);
  });

  it('a follower refuses a proposal with the leader hint', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5 });
    const leader = await leaderOf(cluster);
    const follower = cluster.ids.map((id) => cluster!.member(id)).find((m) => m !== leader)!;
    for (let i = 0; i < 200 && follower.status().leaderId === null; i++) await sleep(5);
    const refusal = follower.propose(new Uint8Array([1])).catch((error: unknown) => error);
    const error = await refusal;
    expect(error).toBeInstanceOf(NotLeaderError);
    expect((error as NotLeaderError).leaderId).toBe(leader.status().id);
  });

  it('serves linearizable, lease and local reads', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5 });
    const c = cluster;
    const leader = await leaderOf(c);
    const session = await openSession(c);
    await session.put('k', 'v');
    await sleep(30);
    for (const consistency of ['linearizable', 'lease', 'local'] as const) {
      expect(await leader.read({ type: 'get', key: 'k' }, consistency)).toMatchObject({
        value: 'v',
      });
    }
    const follower = c.ids.map((id) => c.member(id)).find((m) => m !== leader)!;
    expect(await follower.read({ type: 'get', key: 'k' }, 'linearizable')).toMatchObject({
      value: 'v',
    });
  });

  it('keeps acknowledged writes across a leader crash and a restart from disk', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5 });
    const c = cluster;
    const first = await leaderOf(c);
    const session = await openSession(c, 100);
    for (let i = 0; i < 20; i++) await session.put(`k${i}`, i);
    const crashed = first.status().id;
    await c.crash(crashed);
    for (let i = 20; i < 40; i++) await session.put(`k${i}`, i);
    await c.startMember(crashed);
    await sleep(200);
    for (const id of c.ids) {
      for (let i = 0; i < 40; i++) expect(c.stateMachine(id).get(`k${i}`)?.value).toBe(i);
    }
  });
});

describe('membership and compaction through the driver', () => {
  it('adds a member that catches up through a snapshot, promotes it, and removes the old leader', async () => {
    cluster = await LocalCluster.start({
      size: 3,
      tickMs: 5,
      raft: { snapshotEntriesThreshold: 50, compactionTailEntries: 10, snapshotChunkBytes: 512 },
    });
    const c = cluster;
    const first = await leaderOf(c);
    const session = await openSession(c, 100);
    for (let i = 0; i < 200; i++) await session.put(`k${i % 20}`, i);
    expect(first.status().snapshotIndex).toBeGreaterThan(100);

    await c.join('m4');
    await first.changeMembership({ type: 'addLearner', member: 'm4' });
    await first.changeMembership({ type: 'promote', member: 'm4' });
    for (
      let i = 0;
      i < 100 && c.member('m4').status().appliedIndex < first.status().commitIndex;
      i++
    )
      await sleep(5);
    expect(c.member('m4').status().snapshotIndex).toBeGreaterThan(0);
    expect(c.stateMachine('m4').digest()).toBe(c.stateMachine(first.status().id).digest());

    const oldLeader = first.status().id;
    await first.changeMembership({ type: 'remove', member: oldLeader });
    const next = await leaderOf(c);
    expect(next.status().id).not.toBe(oldLeader);
    expect(next.status().voters).not.toContain(oldLeader);
    await session.put('after', true);
    expect(await c.read({ type: 'get', key: 'after' })).toMatchObject({ value: true });
  });
});
