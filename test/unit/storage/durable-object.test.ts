/**
 * DurableObjectStorage on the in-memory Durable Object storage (same transactions and limits as
 * workerd's): the shared conformance suite, then what only this medium has — values over the
 * size limit stored in parts, writes of more than 128 keys in one transaction, a failed commit
 * that changes nothing, damage found on load, the member's identity beside the room's own keys,
 * and what one write costs in transactions and keys.
 */
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/core/types.js';
import { DO_VALUE_BYTES_MAX } from '../../../src/storage/durable-object-api.js';
import { MemoryDurableObjectStorage } from '../../../src/storage/durable-object-memory.js';
import { DurableObjectStorage } from '../../../src/storage/durable-object.js';
import type { DurableObjectStorageOptions } from '../../../src/storage/durable-object.js';
import {
  StorageCorruptError,
  StorageLostError,
  StorageQuotaError,
  StorageUnavailableError,
} from '../../../src/storage/errors.js';
import { entries, runStorageConformance, snapshot } from './conformance.js';
import { plain } from './fixtures.js';

let members = 0;

async function created(
  options: DurableObjectStorageOptions = {},
  medium = new MemoryDurableObjectStorage(),
): Promise<{ storage: DurableObjectStorage; medium: MemoryDurableObjectStorage }> {
  const storage = await DurableObjectStorage.create(medium, `edge-${++members}`, options);
  return { storage, medium };
}

async function reopened(
  storage: DurableObjectStorage,
  medium: MemoryDurableObjectStorage,
  options: DurableObjectStorageOptions = {},
): Promise<DurableObjectStorage> {
  await storage.close();
  return DurableObjectStorage.open(medium, options);
}

runStorageConformance('DurableObjectStorage (in-memory Durable Object)', async () => {
  const { storage, medium } = await created();
  return { storage, reopen: async () => reopened(storage, medium) };
});

const TINY: DurableObjectStorageOptions = {
  segmentMergeBytes: 40,
  segmentBytesMax: 60,
  snapshotChunkBytes: 3,
  valuePartBytes: 16,
};

runStorageConformance('DurableObjectStorage (tiny segments, chunks and value parts)', async () => {
  const { storage, medium } = await created(TINY);
  return { storage, reopen: async () => reopened(storage, medium, TINY) };
});

/** An entry of `bytes` bytes whose content names its index. */
function bigEntry(index: number, term: number, bytes: number): Entry {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index * 31 + i) & 0xff;
  return { index, term, kind: 'normal', data };
}

describe('DurableObjectStorage: the limits of the medium', () => {
  it('stores an entry larger than a Durable Object value in parts, and reads it back whole', async () => {
    const { storage, medium } = await created();
    const written = [bigEntry(1, 1, 3 * DO_VALUE_BYTES_MAX + 17), bigEntry(2, 1, 10)];
    await storage.persist({ hardState: null, snapshot: null, entries: written });
    expect(medium.keys().filter((key) => key.startsWith('raft/part/'))).toHaveLength(4);
    const again = await reopened(storage, medium);
    expect(plain((await again.load()).entries)).toEqual(plain(written));
    // Replacing it drops its parts.
    await again.persist({ hardState: null, snapshot: null, entries: entries(1, 1, 2) });
    expect(medium.keys().filter((key) => key.startsWith('raft/part/'))).toEqual([]);
  });

  it('writes a snapshot of many chunks in one transaction, in calls of at most 128 keys', async () => {
    const options = { snapshotChunkBytes: 1, valuePartBytes: 1 };
    const { storage, medium } = await created(options);
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 5, 1) });
    const big = { ...snapshot(5, 1), data: new Uint8Array(300).fill(7) };
    const before = medium.commits;
    await storage.compact(big, 5);
    expect(medium.commits - before).toBe(1);
    const loaded = await (await reopened(storage, medium, options)).load();
    expect(Array.from(loaded.snapshot!.data)).toEqual(Array.from(big.data));
    expect(loaded.entries).toEqual([]);
  });

  it('refuses options that would store a value over the limit', async () => {
    await expect(created({ valuePartBytes: DO_VALUE_BYTES_MAX })).rejects.toThrow(RangeError);
    await expect(created({ snapshotChunkBytes: 200 * 1024 })).rejects.toThrow(RangeError);
  });
});

describe('DurableObjectStorage: failed writes', () => {
  it('a commit that fails changes nothing, rejects typed, and stops later writes', async () => {
    const { storage, medium } = await created();
    await storage.persist({
      hardState: { term: 1, vote: 'a', commit: 0 },
      snapshot: null,
      entries: entries(1, 3, 1),
    });
    medium.failCommits = new Error('Exceeded allowed storage in Durable Object.');
    const full = storage.persist({ hardState: null, snapshot: null, entries: entries(4, 4, 1) });
    await expect(full).rejects.toBeInstanceOf(StorageQuotaError);
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: entries(5, 5, 1) }),
    ).rejects.toBeInstanceOf(StorageQuotaError);
    expect(storage.info().failure?.code).toBe('STORAGE_QUOTA');
    medium.failCommits = null;
    const loaded = await (await reopened(storage, medium)).load();
    expect(loaded.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(loaded.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
  });

  it('any other failure is StorageUnavailableError', async () => {
    const { storage, medium } = await created();
    medium.failCommits = new Error('Durable Object reset because its code was updated.');
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: entries(1, 1, 1) }),
    ).rejects.toBeInstanceOf(StorageUnavailableError);
  });
});

/** A closed storage with ten segments of three entries each (terms 1..10), and its medium. */
async function withTenSegments(): Promise<MemoryDurableObjectStorage> {
  const { storage, medium } = await created({ segmentMergeBytes: 0 });
  for (let batch = 0; batch < 10; batch++) {
    const first = batch * 3 + 1;
    await storage.persist({
      hardState: { term: batch + 1, vote: 'm1', commit: first - 1 },
      snapshot: null,
      entries: entries(first, first + 2, batch + 1),
    });
  }
  await storage.close();
  return medium;
}

const segmentKeys = (medium: MemoryDurableObjectStorage): string[] =>
  medium.keys().filter((key) => key.startsWith('raft/seg/'));

describe('DurableObjectStorage: damage found on load', () => {
  it('a bad last segment is cut, votes are withheld, and releasing them is durable', async () => {
    const medium = await withTenSegments();
    const last = segmentKeys(medium).at(-1)!;
    const record = medium.peek(last) as { body: Uint8Array };
    record.body[20] = record.body[20]! ^ 0x40;
    medium.damage(last, record);
    const storage = await DurableObjectStorage.open(medium);
    const loaded = await storage.load();
    expect(loaded.entries.at(-1)?.index).toBe(27);
    expect(loaded.votesWithheld).toBe(true);
    expect(medium.peek(last)).toBeUndefined();
    const again = await reopened(storage, medium);
    expect(again.info()).toMatchObject({ votesWithheld: true, repair: { truncatedAfter: 27 } });
    await again.releaseVotes();
    const released = await reopened(again, medium);
    expect(released.info()).toMatchObject({ votesWithheld: false, repair: null });
  });

  it('a bad segment with good ones after it is StorageCorruptError', async () => {
    const medium = await withTenSegments();
    const third = segmentKeys(medium)[2]!;
    medium.damage(third, { v: 1, body: new Uint8Array([1, 2, 3]), crc: 0 });
    await expect(DurableObjectStorage.open(medium)).rejects.toBeInstanceOf(StorageCorruptError);
  });

  it('a missing part of a parted segment fails its checksum: cut when last, corrupt before', async () => {
    const { storage, medium } = await created({ valuePartBytes: 8, segmentMergeBytes: 0 });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 3, 1) });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(4, 6, 1) });
    await storage.close();
    const parts = medium.keys().filter((key) => key.startsWith('raft/part/'));
    const lastPart = parts.at(-1)!;
    medium.damage(lastPart, undefined);
    const cut = await DurableObjectStorage.open(medium, { valuePartBytes: 8 });
    expect((await cut.load()).entries.map((e) => e.index)).toEqual([1, 2, 3]);
    await cut.persist({ hardState: null, snapshot: null, entries: entries(4, 6, 1) });
    await cut.close();
    medium.damage(parts[0]!, undefined);
    await expect(DurableObjectStorage.open(medium)).rejects.toBeInstanceOf(StorageCorruptError);
  });

  it('a missing snapshot chunk is StorageCorruptError', async () => {
    const { storage, medium } = await created({ snapshotChunkBytes: 2 });
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 4, 1) });
    await storage.compact(snapshot(4, 1), 4);
    await storage.close();
    medium.damage(
      medium.keys().find((key) => key.startsWith('raft/chunk/'))!,
      undefined,
    );
    await expect(DurableObjectStorage.open(medium)).rejects.toBeInstanceOf(StorageCorruptError);
  });
});

describe('DurableObjectStorage: the member in the object', () => {
  it('keeps its identity under its prefix, beside the room keys of the same object', async () => {
    const medium = new MemoryDurableObjectStorage();
    await medium.transaction(async (txn) => txn.put({ occupied: true }));
    expect(await DurableObjectStorage.memberIdIn(medium)).toBeNull();
    const { storage } = await created({}, medium);
    expect(await DurableObjectStorage.memberIdIn(medium)).toBe(storage.memberId);
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 2, 1) });
    expect(medium.keys().filter((key) => !key.startsWith('raft/'))).toEqual(['occupied']);
    await expect(DurableObjectStorage.create(medium, 'again')).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
    await expect(
      DurableObjectStorage.open(medium, { expectedMemberId: 'someone-else' }),
    ).rejects.toBeInstanceOf(StorageCorruptError);
  });

  it('finds wiped storage lost: its vote is gone with it', async () => {
    const { storage, medium } = await created();
    await storage.persist({
      hardState: { term: 3, vote: 'm9', commit: 0 },
      snapshot: null,
      entries: [],
    });
    await storage.close();
    medium.damage('raft/meta/identity', undefined);
    await expect(DurableObjectStorage.open(medium)).rejects.toBeInstanceOf(StorageLostError);
  });

  it('costs one transaction and two keys per small append with its hard state', async () => {
    const { storage } = await created();
    const appends = 64;
    for (let index = 1; index <= appends; index++) {
      await storage.persist({
        hardState: { term: 1, vote: 'a', commit: index - 1 },
        snapshot: null,
        entries: entries(index, index, 1),
      });
    }
    const { transactions, keysWritten, keysDeleted } = storage.info();
    expect(transactions).toBe(appends);
    // A segment and the hard state each time; the 33rd append folds the run of 32 records it
    // ends into one segment (31 deletes), and the next run starts.
    expect(keysWritten).toBe(2 * appends);
    expect(keysDeleted).toBe(31);
  });
});
