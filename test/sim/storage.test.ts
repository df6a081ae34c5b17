/**
 * Simulated disks: a write is durable only once its latency has passed; a crash loses, keeps or
 * tears what was in flight, never what was acknowledged; a crashed incarnation's promises never
 * settle; crashes can be aimed right before or right after a write.
 */
import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '../../src/core/random.js';
import type { Entry, Snapshot } from '../../src/core/types.js';
import type { StorageOptions } from './options.js';
import { SimDisk } from './storage.js';
import type { DiskObserver } from './storage.js';
import { drainMicrotasks, VirtualTime } from './virtual-time.js';

const OPTIONS: StorageOptions = {
  backend: 'memory',
  writeLatencyMinMs: 1,
  writeLatencyMeanMs: 2,
  tornProbability: 0,
  inflightSurvivalProbability: 0,
  tornHardStateAlone: true,
};

function entries(first: number, last: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = first; index <= last; index++)
    out.push({ index, term, kind: 'normal', data: new Uint8Array([index]) });
  return out;
}

function snapshotAt(index: number, term: number): Snapshot {
  return {
    meta: { index, term, config: { voters: ['m1'], learners: [] } },
    data: new Uint8Array([index]),
  };
}

function setup(options: Partial<StorageOptions> = {}, observer: DiskObserver = {}) {
  const time = new VirtualTime();
  const disk = new SimDisk('m1', time, createSeededRandom(1), { ...OPTIONS, ...options }, observer);
  const run = async (): Promise<void> => {
    while (time.nextTime() !== undefined) {
      time.step();
      await drainMicrotasks();
    }
  };
  return { time, disk, run };
}

describe('SimDisk', () => {
  it('makes a write durable only when its promise resolves', async () => {
    const { disk, run } = setup();
    const storage = disk.open();
    let resolved = false;
    void storage
      .persist({
        hardState: { term: 1, vote: 'm1', commit: 0 },
        snapshot: null,
        entries: entries(1, 2, 1),
      })
      .then(() => (resolved = true));
    expect(disk.durable.lastIndex).toBe(0);
    await run();
    expect(resolved).toBe(true);
    expect(disk.durable.lastIndex).toBe(2);
    expect(disk.durable.hardState).toEqual({ term: 1, vote: 'm1', commit: 0 });
  });

  it('loses in-flight writes at a crash, and their promises never settle', async () => {
    const { disk, run } = setup();
    const storage = disk.open();
    let settled = false;
    const acked = storage.persist({ hardState: null, snapshot: null, entries: entries(1, 2, 1) });
    await run();
    await acked;
    const pending = storage.persist({ hardState: null, snapshot: null, entries: entries(3, 4, 1) });
    void pending.finally(() => (settled = true));
    disk.crash();
    storage.kill();
    await run();
    expect(settled).toBe(false);
    expect(disk.durable.lastIndex).toBe(2);
    expect(disk.stats.lostWrites).toBe(1);
  });

  it('keeps in-flight writes that survive the crash', async () => {
    const { disk } = setup({ inflightSurvivalProbability: 1 });
    void disk.open().persist({ hardState: null, snapshot: null, entries: entries(1, 3, 1) });
    disk.crash();
    expect(disk.durable.lastIndex).toBe(3);
  });

  it('tears a write: a prefix of its entries survives, never more, never a hole', () => {
    for (let seed = 0; seed < 30; seed++) {
      const time = new VirtualTime();
      const disk = new SimDisk('m1', time, createSeededRandom(seed), {
        ...OPTIONS,
        tornProbability: 1,
      });
      void disk.open().persist({
        hardState: { term: 2, vote: null, commit: 0 },
        snapshot: null,
        entries: entries(1, 5, 2),
      });
      disk.crash();
      const state = disk.durable.read();
      expect(state.entries.map((e) => e.index)).toEqual(
        entries(1, state.entries.length, 2).map((e) => e.index),
      );
      expect(state.entries.length).toBeLessThanOrEqual(5);
      expect([0, 2]).toContain(state.hardState.term);
    }
  });

  it("keeps a torn write's hard state only with all its entries when writes are ordered", () => {
    let hardStateAlone = 0;
    for (let seed = 0; seed < 60; seed++) {
      const time = new VirtualTime();
      const options = { ...OPTIONS, tornProbability: 1, tornHardStateAlone: false };
      const disk = new SimDisk('m1', time, createSeededRandom(seed), options);
      void disk.open().persist({
        hardState: { term: 2, vote: null, commit: 5 },
        snapshot: null,
        entries: entries(1, 5, 2),
      });
      disk.crash();
      if (disk.durable.hardState.term === 2 && disk.durable.lastIndex < 5) hardStateAlone++;
    }
    expect(hardStateAlone).toBe(0);
  });

  it('crashes right before a write is durable when armed beforeWrite', async () => {
    const { disk, run, time } = setup();
    let crashedAt = -1;
    disk.armCrash('beforeWrite', () => {
      crashedAt = time.now;
      disk.crash();
    });
    void disk.open().persist({ hardState: null, snapshot: null, entries: entries(1, 1, 1) });
    await run();
    expect(crashedAt).toBe(0);
    expect(disk.durable.lastIndex).toBe(0);
  });

  it('crashes right after a write is durable, before it is acknowledged, when armed afterWrite', async () => {
    const { disk, run } = setup();
    let crashed = false;
    let acked = false;
    disk.armCrash('afterWrite', () => {
      crashed = true;
      disk.crash();
    });
    void disk
      .open()
      .persist({ hardState: null, snapshot: null, entries: entries(1, 1, 1) })
      .then(() => (acked = true));
    await run();
    expect(crashed).toBe(true);
    expect(acked).toBe(false);
    expect(disk.durable.lastIndex).toBe(1);
  });

  it('reports and rejects an update that would leave a hole', async () => {
    const refused: string[] = [];
    const { disk, run } = setup({}, { onRefused: (_member, error) => refused.push(error.message) });
    const failing = disk
      .open()
      .persist({ hardState: null, snapshot: null, entries: entries(3, 3, 1) });
    const outcome = failing.then(
      () => 'resolved',
      () => 'rejected',
    );
    await run();
    expect(await outcome).toBe('rejected');
    expect(refused[0]).toMatch(/gap/);
  });

  it('reports every durable hard state with the one it replaced', async () => {
    const seen: string[] = [];
    const { disk, run } = setup(
      {},
      { onDurable: (_m, before, update) => seen.push(`${before.vote}->${update.hardState?.vote}`) },
    );
    const storage = disk.open();
    void storage.persist({
      hardState: { term: 1, vote: 'a', commit: 0 },
      snapshot: null,
      entries: [],
    });
    void storage.persist({
      hardState: { term: 1, vote: 'b', commit: 0 },
      snapshot: null,
      entries: [],
    });
    await run();
    expect(seen).toEqual(['null->a', 'a->b']);
  });

  it('makes a compaction durable only when its promise resolves, and never tears it', async () => {
    const { disk, run } = setup();
    const storage = disk.open();
    void storage.persist({ hardState: null, snapshot: null, entries: entries(1, 6, 1) });
    await run();
    let resolved = false;
    void storage.compact(snapshotAt(5, 1), 3).then(() => (resolved = true));
    expect(disk.durable.snapshotIndex).toBe(0);
    await run();
    expect(resolved).toBe(true);
    expect(disk.durable.snapshotIndex).toBe(5);
    expect(disk.durable.firstIndex).toBe(4);
    expect(disk.stats.compactions).toBe(1);
  });

  it('keeps the old state or the new one when a crash hits a compaction in flight', () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const time = new VirtualTime();
      const options = { ...OPTIONS, tornProbability: 1, inflightSurvivalProbability: 0.5 };
      const disk = new SimDisk('m1', time, createSeededRandom(seed), options);
      disk.durable.write({ hardState: null, snapshot: null, entries: entries(1, 6, 1) });
      void disk.open().compact(snapshotAt(5, 1), 5);
      disk.crash();
      const { snapshotIndex, firstIndex, lastIndex } = disk.durable;
      outcomes.add(`${snapshotIndex}/${firstIndex}/${lastIndex}`);
    }
    expect([...outcomes].sort()).toEqual(['0/1/6', '5/6/6']);
  });

  it('tears a snapshot install all or nothing: the snapshot stays with all its entries or neither', () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 60; seed++) {
      const time = new VirtualTime();
      const options = { ...OPTIONS, tornProbability: 1, tornHardStateAlone: true };
      const disk = new SimDisk('m1', time, createSeededRandom(seed), options);
      disk.durable.write({ hardState: null, snapshot: null, entries: entries(1, 2, 1) });
      void disk.open().persist({
        hardState: { term: 3, vote: null, commit: 10 },
        snapshot: snapshotAt(10, 2),
        entries: entries(11, 13, 3),
      });
      disk.crash();
      const { snapshotIndex, lastIndex, hardState } = disk.durable;
      outcomes.add(`${snapshotIndex}/${lastIndex}/${hardState.term}`);
    }
    // Entries 11..13 never survive without the snapshot, nor the snapshot without them.
    expect([...outcomes].every((o) => o.startsWith('10/13/') || o.startsWith('0/2/'))).toBe(true);
    expect([...outcomes].some((o) => o.startsWith('10/13/'))).toBe(true);
    expect([...outcomes].some((o) => o.startsWith('0/2/'))).toBe(true);
  });

  it('aims an armed crash at the next snapshot write, skipping other writes', async () => {
    const { disk, run } = setup();
    let crashed = false;
    disk.armCrash(
      'beforeWrite',
      () => {
        crashed = true;
        disk.crash();
      },
      'snapshot',
    );
    const storage = disk.open();
    void storage.persist({ hardState: null, snapshot: null, entries: entries(1, 6, 1) });
    await run();
    expect(crashed).toBe(false);
    void storage.compact(snapshotAt(5, 1), 5);
    await run();
    expect(crashed).toBe(true);
    expect(disk.durable.snapshotIndex).toBe(0);
  });
});
