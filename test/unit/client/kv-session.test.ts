/**
 * The client session's window and the pool of sessions: however many writes a tab has in flight,
 * no session has more unanswered seqs than the state machine caches responses for, so no
 * response it waits for is forgotten and no fresh seq is refused as discarded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KvSession, KvSessionPool } from '../../../src/client/kv-session.js';
import { LeadershipTransferError, OverloadedError } from '../../../src/core/errors.js';
import { LeaderChangedError, ProposalDroppedError } from '../../../src/runtime/errors.js';
import { LocalCluster } from '../../../src/runtime/local-cluster.js';
import { decodeKvCommand } from '../../../src/state/kv-codec.js';
import type { KvResult } from '../../../src/state/kv-types.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let cluster: LocalCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function startCluster(): Promise<LocalCluster> {
  cluster = await LocalCluster.start({ size: 3, tickMs: 5 });
  while (cluster.leader() === null) await sleep(5);
  return cluster;
}

/** A submit that records, per session, the widest span of unanswered seqs it ever carried. */
function spying(c: LocalCluster) {
  const inFlight = new Map<number, Set<number>>();
  const widest = new Map<number, number>();
  const submit = async (command: Uint8Array): Promise<KvResult> => {
    const decoded = decodeKvCommand(command);
    if (!decoded.ok || decoded.command.type !== 'op') return c.submit(command);
    const { session, seq, lowestUnacked } = decoded.command.header;
    const seqs = inFlight.get(session) ?? new Set<number>();
    inFlight.set(session, seqs);
    seqs.add(seq);
    widest.set(session, Math.max(widest.get(session) ?? 0, seq - lowestUnacked + 1));
    try {
      return await c.submit(command);
    } finally {
      seqs.delete(seq);
    }
  };
  return { submit, widest };
}

describe('KvSession window', () => {
  it('keeps at most windowMax seqs unanswered and answers every write', async () => {
    const c = await startCluster();
    const { submit, widest } = spying(c);
    const session = await KvSession.open({ submit, sleep, windowMax: 8 });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => session.put(`k${i}`, i)),
    );
    expect(results.every((result) => result.type === 'put')).toBe(true);
    expect(widest.get(session.id)).toBeLessThanOrEqual(8);
    expect(session.load).toBe(0);
  });

  it('within the default window, 1,000 concurrent writes get no SEQ_DISCARDED', async () => {
    const c = await startCluster();
    const session = await KvSession.open({ submit: (command) => c.submit(command), sleep });
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => session.put(`k${i % 50}`, i)),
    );
    expect(results.filter((result) => result.type !== 'put')).toEqual([]);
  });

  it('refuses a command with OverloadedError when too many wait for the window', async () => {
    const c = await startCluster();
    const session = await KvSession.open({
      submit: (command) => c.submit(command),
      sleep,
      windowMax: 4,
      waitingMax: 10,
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => session.put(`k${i}`, i)),
    );
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(refused).toHaveLength(6); // 4 in flight, 10 waiting, the rest refused.
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(OverloadedError);
  });
});

describe('KvSessionPool', () => {
  it('opens sessions as writes outgrow one window, up to sessionsMax, then queues', async () => {
    const c = await startCluster();
    const { submit, widest } = spying(c);
    const pool = new KvSessionPool({ submit, sleep, windowMax: 16, sessionsMax: 3 });
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => pool.put(`k${i}`, i)));
    expect(results).toHaveLength(400);
    expect(widest.size).toBe(3);
    for (const span of widest.values()) expect(span).toBeLessThanOrEqual(16);
    const applied = await c.read({ type: 'range', prefix: 'k', limit: 1000 });
    expect((applied as { entries: readonly unknown[] }).entries).toHaveLength(400);
  });

  it('uses one session while one is enough', async () => {
    const c = await startCluster();
    const { submit, widest } = spying(c);
    const pool = new KvSessionPool({ submit, sleep });
    for (let i = 0; i < 20; i++) await pool.put(`k${i}`, i);
    await pool.delete('k0');
    expect(widest.size).toBe(1);
  });
});

describe('retries', () => {
  it('after the leader went, wait for a known leader; after other refusals, the delay', async () => {
    const refusals = [
      new LeaderChangedError(null),
      new LeadershipTransferError('b'),
      new ProposalDroppedError(7),
      new OverloadedError('proposals', 1),
    ];
    const waits: string[] = [];
    const session = await KvSession.open({
      submit: async () => {
        const refusal = refusals.shift();
        if (refusal !== undefined) throw refusal;
        return { type: 'registerSession', ok: true, index: 1, session: 1 } as const;
      },
      sleep: async (ms) => void waits.push(`sleep ${ms}`),
      leaderKnown: async (ms) => void waits.push(`leader ${ms}`),
      retryDelayMs: 40,
    });
    expect(session.id).toBe(1);
    expect(waits).toEqual(['leader 40', 'sleep 40', 'leader 40', 'sleep 40']);
  });

  it('a member tells when it knows a leader: on election, at once, or at the deadline', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5 });
    const member = cluster.member(cluster.ids[0]!);
    const started = Date.now();
    await member.leaderKnown(10_000); // Resolves on the first election, long before 10 s.
    expect(member.status().leaderId).not.toBeNull();
    expect(Date.now() - started).toBeLessThan(5_000);
    await member.leaderKnown(10_000); // Known: at once.
    await cluster.stop();

    // Slow ticks, so no election has happened yet; with two of three gone, none can.
    cluster = await LocalCluster.start({ size: 3, tickMs: 100 });
    const [alone, ...others] = cluster.ids as [string, ...string[]];
    for (const id of others) await cluster.crash(id);
    expect(cluster.member(alone).status().leaderId).toBeNull();
    const waitedFrom = Date.now();
    await cluster.member(alone).leaderKnown(200);
    expect(Date.now() - waitedFrom).toBeGreaterThanOrEqual(150);
  });
});
