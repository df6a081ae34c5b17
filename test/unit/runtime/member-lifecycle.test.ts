/**
 * What a tab's lifecycle asks of a member: a late bootstrap (an arbiter decided after the member
 * started), a leadership hand-off before the tab is frozen or closed, and noticing a pause (a
 * frozen tab's clock jumps) — a paused leader steps down instead of trusting its lease.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../../src/runtime/local-cluster.js';
import type { KvMember } from '../../../src/runtime/local-cluster.js';
import { realScheduler } from '../../../src/runtime/scheduler.js';
import type { Scheduler } from '../../../src/runtime/scheduler.js';
import { MemoryNetwork } from '../../../src/transport/memory.js';
import type { Transport } from '../../../src/transport/transport.js';
import type { PersistedState, PersistUpdate, Storage } from '../../../src/storage/storage.js';
import type { Snapshot } from '../../../src/core/types.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until<T>(probe: () => T | null | undefined, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const value = probe();
    if (value !== null && value !== undefined) return value;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Real timers, but a clock that can jump ahead, as a frozen tab's does when it resumes. */
function jumpingScheduler(): Scheduler & { jump(ms: number): void } {
  let offset = 0;
  return {
    now: () => realScheduler.now() + offset,
    setTimeout: realScheduler.setTimeout,
    clearTimeout: realScheduler.clearTimeout,
    jump: (ms) => void (offset += ms),
  };
}

let cluster: LocalCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe('a late bootstrap', () => {
  it('starts a cluster from a member that started without one, once', async () => {
    cluster = await LocalCluster.start({ size: 1, tickMs: 5 });
    const fresh = await cluster.join('fresh');
    expect(fresh.bootstrap({ voters: ['fresh'], learners: [] })).toBe(true);
    expect(fresh.bootstrap({ voters: ['fresh'], learners: [] })).toBe(false);
    await until(() => (fresh.status().role === 'leader' ? true : null), 'fresh to lead');
    expect(fresh.status().voters).toEqual(['fresh']);
  });

  it('is refused by a member that heard from a cluster, even with an empty log', async () => {
    cluster = await LocalCluster.start({ size: 1, tickMs: 5 });
    const leader = await until(() => cluster!.leader(), 'a leader');
    const joiner = await cluster.join('joiner');
    await leader.changeMembership({ type: 'addLearner', member: 'joiner' });
    await until(() => (joiner.status().term > 0 ? true : null), 'the joiner to hear the leader');
    expect(joiner.bootstrap({ voters: ['joiner'], learners: [] })).toBe(false);
  });
});

describe('handing leadership off', () => {
  it('moves leadership to a caught-up voter, and does nothing on a follower', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5 });
    const leader = await until(() => cluster!.leader(), 'a leader');
    const follower = cluster.ids.map((id) => cluster!.member(id)).find((m) => m !== leader)!;
    expect(follower.handOffLeadership()).toBeNull();
    await sleep(30); // Heartbeats answered: every voter counts as heard from.
    const successor = leader.handOffLeadership();
    expect(successor).not.toBeNull();
    const next = await until(() => {
      const current = cluster!.leader();
      return current !== null && current !== leader ? current : null;
    }, 'the successor to lead');
    expect(next.status().id).toBe(successor);
  });
});

/** A storage whose writes wait while `held` (a disk that is slow just as the tab closes). */
class HeldStorage implements Storage {
  held = false;
  writesWaiting = 0;
  private release: () => void = () => undefined;
  private gate: Promise<void> = Promise.resolve();

  constructor(private readonly inner: Storage) {}

  hold(): void {
    this.held = true;
    this.gate = new Promise<void>((resolve) => (this.release = resolve));
  }

  let(): void {
    this.held = false;
    this.release();
  }

  load(): Promise<PersistedState> {
    return this.inner.load();
  }

  async persist(update: PersistUpdate): Promise<void> {
    if (this.held) {
      this.writesWaiting++;
      await this.gate;
      this.writesWaiting--;
    }
    return this.inner.persist(update);
  }

  compact(snapshot: Snapshot, compactThrough: number): Promise<void> {
    return this.inner.compact(snapshot, compactThrough);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('handing leadership off during a write', () => {
  it('sends TimeoutNow at once, not after the write: a closing tab may not outlive it', async () => {
    const storages = new Map<string, HeldStorage>();
    cluster = await LocalCluster.start({
      size: 3,
      tickMs: 5,
      storageOf: (id, storage) => {
        const held = new HeldStorage(storage);
        storages.set(id, held);
        return held;
      },
    });
    const leader = await until(() => cluster!.leader(), 'a leader');
    await sleep(30); // Heartbeats answered: every voter counts as heard from.
    const disk = storages.get(leader.status().id)!;
    disk.hold();
    const write = leader.propose(new TextEncoder().encode('x')).catch(() => undefined);
    await until(() => (disk.writesWaiting > 0 ? true : null), 'the leader to be mid-write');
    const successor = leader.handOffLeadership();
    expect(successor).not.toBeNull();
    // Its write never ends while the successor takes over (heartbeats keep the others from an
    // election of their own: only TimeoutNow makes it campaign).
    const next = await until(() => {
      const current = cluster!.member(successor!);
      return current.status().role === 'leader' ? current : null;
    }, 'the successor to lead');
    expect(next.status().id).toBe(successor);
    expect(disk.writesWaiting).toBe(1);
    disk.let();
    await write;
  });
});

describe('pauses', () => {
  it('a leader whose clock jumped past its lease records the pause and steps down', async () => {
    const clocks = new Map<string, ReturnType<typeof jumpingScheduler>>();
    cluster = await LocalCluster.start({
      size: 3,
      tickMs: 5,
      schedulerOf: (id) => {
        const clock = jumpingScheduler();
        clocks.set(id, clock);
        return clock;
      },
    });
    const leader: KvMember = await until(() => cluster!.leader(), 'a leader');
    expect(leader.status().pauses).toEqual({ count: 0, last: null, longestMs: 0 });
    clocks.get(leader.status().id)!.jump(1000); // 200 ticks missed: far past the lease.
    const pauses = await until(
      () => (leader.status().pauses.count > 0 ? leader.status().pauses : null),
      'the pause to be noticed',
    );
    expect(pauses.last!.durationMs).toBeGreaterThanOrEqual(1000);
    expect(pauses.longestMs).toBe(pauses.last!.durationMs);
    // Its lease ran out while it was away; the ticks it caught up on step it down before
    // anything else runs, whatever the others did meanwhile.
    expect(leader.status().role).not.toBe('leader');
  });
});

describe('forwarded proposals across a leader change', () => {
  it('settle within an election, not the proposal timeout: applied, or LEADER_CHANGED to retry', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5 });
    const leader = await until(() => cluster!.leader(), 'a leader');
    const follower = cluster.ids.map((id) => cluster!.member(id)).find((m) => m !== leader)!;
    await until(() => follower.status().leaderId, 'the follower to know the leader');
    await cluster.crash(leader.status().id); // Before or after it saw the forward.
    const started = Date.now();
    const outcome = await follower
      .propose(new TextEncoder().encode('forwarded'), { forward: true })
      .then(
        () => 'applied',
        (error: unknown) => (error as { code?: string }).code,
      );
    expect(['applied', 'LEADER_CHANGED', 'NOT_LEADER']).toContain(outcome);
    expect(Date.now() - started).toBeLessThan(2000); // The proposal timeout is 5 s.
  });
});

describe('reads across a restart', () => {
  it('a restarted member asks with read contexts its earlier life never used', async () => {
    // A leader may answer a read of a member's earlier life late (it was queued while the
    // leader confirmed its leadership); a context used again would take that older answer.
    const network = new MemoryNetwork();
    const contexts: string[] = [];
    const tapped = (id: string): Transport => {
      const transport = network.connect(id);
      return {
        send: (messages) => {
          for (const message of messages) {
            if (message.type === 'readIndex') contexts.push(message.context);
          }
          transport.send(messages);
        },
        onMessage: (handler) => transport.onMessage(handler),
        close: () => transport.close(),
      };
    };
    cluster = await LocalCluster.start({ size: 3, tickMs: 5, transportOf: tapped });
    const leader = await until(() => cluster!.leader(), 'a leader');
    const followerId = cluster.ids.find((id) => id !== leader.status().id)!;
    const readTwice = async () => {
      const follower = await until(() => {
        const member = cluster!.member(followerId);
        return member.status().leaderId !== null ? member : null;
      }, 'the follower to know its leader');
      for (let i = 0; i < 2; i++) await follower.read({ type: 'get', key: 'k' });
    };
    await readTwice();
    await cluster.crash(followerId);
    await cluster.startMember(followerId);
    await readTwice();
    expect(contexts).toHaveLength(4);
    expect(new Set(contexts).size).toBe(4);
  });
});
