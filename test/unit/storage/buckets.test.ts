/**
 * IndexedDbStorage with Storage Buckets: a new member's database in a bucket of its own, an old
 * one found where it was created, nothing made by opening a missing member, nothing left when a
 * member is destroyed. The buckets are a stand-in over fake-indexeddb: one IDBFactory each.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IndexedDbStorage } from '../../../src/storage/indexeddb.js';
import { bucketNameOf, databaseNames } from '../../../src/storage/buckets.js';
import type {
  StorageBucketHandle,
  StorageBucketManagerHandle,
} from '../../../src/storage/buckets.js';
import { StorageLostError, StorageUnavailableError } from '../../../src/storage/errors.js';
import { entries } from './conformance.js';
import { summary } from './fixtures.js';

/** Storage Buckets as Chromium has them, over fake-indexeddb, counting what it is asked. */
class FakeBuckets implements StorageBucketManagerHandle {
  readonly buckets = new Map<string, StorageBucketHandle & { durability: string | undefined }>();
  persistAnswer = true;

  open(name: string, options?: { durability?: 'strict' | 'relaxed' }) {
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(name)) {
      return Promise.reject(new TypeError(`invalid bucket name ${name}`));
    }
    let bucket = this.buckets.get(name);
    if (bucket === undefined) {
      bucket = {
        indexedDB: new IDBFactory(),
        durability: options?.durability,
        persist: () => Promise.resolve(this.persistAnswer),
      };
      this.buckets.set(name, bucket);
    }
    return Promise.resolve(bucket);
  }

  keys(): Promise<string[]> {
    return Promise.resolve([...this.buckets.keys()]);
  }

  delete(name: string): Promise<void> {
    this.buckets.delete(name);
    return Promise.resolve();
  }
}

let nextMember = 0;
const freshId = (): string => `bucketed-${++nextMember}`;
const open: IndexedDbStorage[] = [];
let buckets: FakeBuckets;

beforeEach(() => {
  buckets = new FakeBuckets();
  vi.stubGlobal('navigator', { storageBuckets: buckets });
});

afterEach(async () => {
  for (const storage of open.splice(0)) await storage.close();
  vi.unstubAllGlobals();
});

async function kept(storage: Promise<IndexedDbStorage>): Promise<IndexedDbStorage> {
  open.push(await storage);
  return storage;
}

const namesIn = async (factory: IDBFactory): Promise<string[]> =>
  (await factory.databases()).map((d) => d.name ?? '');

describe('IndexedDbStorage in Storage Buckets', () => {
  it('puts a new member in a bucket of its own, strict, and finds it there again', async () => {
    const a = await kept(IndexedDbStorage.create(freshId(), { namespace: 'room 1/ü' }));
    const b = await kept(IndexedDbStorage.create(freshId(), { namespace: 'room 1/ü' }));
    expect(a.info().bucket).toBe(bucketNameOf(a.database));
    expect(b.info().bucket).not.toBe(a.info().bucket);
    expect(a.info().bucket).toMatch(/^webraft-[0-9a-f]{16}$/);
    const bucket = buckets.buckets.get(a.info().bucket!)!;
    expect(bucket.durability).toBe('strict');
    expect(await namesIn(bucket.indexedDB)).toEqual([a.database]);
    expect(await namesIn(indexedDB)).not.toContain(a.database);

    await a.persist({ hardState: { term: 3, vote: 'x', commit: 0 }, snapshot: null, entries: [] });
    await a.persist({ hardState: null, snapshot: null, entries: entries(1, 2, 3) });
    await a.close();
    const again = await kept(IndexedDbStorage.open(a.memberId, { namespace: 'room 1/ü' }));
    const loaded = await again.load();
    expect(loaded.hardState).toMatchObject({ term: 3, vote: 'x' });
    expect(summary(loaded).entries).toEqual([
      [1, 3],
      [2, 3],
    ]);
  });

  it('asks its bucket, not the origin, to persist, and says what it answered', async () => {
    buckets.persistAnswer = false;
    const storage = await kept(IndexedDbStorage.create(freshId()));
    expect(storage.info().persistence).toBe('denied');
    const quiet = await kept(IndexedDbStorage.create(freshId(), { requestPersistence: false }));
    expect(quiet.info().persistence).toBe('unsupported');
  });

  it('opens a member created in the default bucket where it is, and makes no bucket for it', async () => {
    const legacy = await IndexedDbStorage.create(freshId(), { buckets: false });
    await legacy.persist({ hardState: null, snapshot: null, entries: entries(1, 3, 2) });
    expect(legacy.info().bucket).toBeNull();
    await legacy.close();
    const again = await kept(IndexedDbStorage.open(legacy.memberId));
    expect(again.info().bucket).toBeNull();
    expect(summary(await again.load()).entries).toHaveLength(3);
    expect(await buckets.keys()).toEqual([]);
    // Its id is taken there: creating it again in a bucket is refused.
    await again.close();
    await expect(IndexedDbStorage.create(legacy.memberId)).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
  });

  it('opening a missing member fails as lost and leaves no bucket or database behind', async () => {
    await expect(IndexedDbStorage.open('nobody')).rejects.toBeInstanceOf(StorageLostError);
    expect(await buckets.keys()).toEqual([]);
    expect(await namesIn(indexedDB)).not.toContain(IndexedDbStorage.databaseName('nobody'));
  });

  it('a member whose bucket was deleted comes back lost', async () => {
    const storage = await IndexedDbStorage.create(freshId());
    await storage.close();
    await buckets.delete(storage.info().bucket!);
    await expect(IndexedDbStorage.open(storage.memberId)).rejects.toBeInstanceOf(StorageLostError);
  });

  it('lists the databases of every bucket and of the default one, and destroy removes bucket and all', async () => {
    const bucketed = await IndexedDbStorage.create(freshId(), { namespace: 'listed' });
    const legacy = await IndexedDbStorage.create(freshId(), {
      namespace: 'listed',
      buckets: false,
    });
    await bucketed.close();
    await legacy.close();
    const foreign = await buckets.open('other-app'); // Not ours: never opened, never listed.
    foreign.indexedDB.open('theirs');
    const names = await databaseNames();
    expect(names).toContain(bucketed.database);
    expect(names).toContain(legacy.database);
    expect(names).not.toContain('theirs');

    await IndexedDbStorage.destroy(bucketed.memberId, 'listed');
    await IndexedDbStorage.destroy(legacy.memberId, 'listed');
    expect(await buckets.keys()).toEqual(['other-app']);
    const after = await databaseNames();
    expect(after).not.toContain(bucketed.database);
    expect(after).not.toContain(legacy.database);
    await expect(
      IndexedDbStorage.open(bucketed.memberId, { namespace: 'listed' }),
    ).rejects.toBeInstanceOf(StorageLostError);
  });

  it('destroying a member keeps its bucket while another database shares it', async () => {
    const a = await IndexedDbStorage.create(freshId());
    await a.close();
    // As if another member's name hashed alike: a second database in the same bucket.
    const shared = buckets.buckets.get(a.info().bucket!)!;
    await new Promise((resolve) => (shared.indexedDB.open('collider').onsuccess = resolve));
    await IndexedDbStorage.destroy(a.memberId);
    expect(await namesIn(shared.indexedDB)).toEqual(['collider']);
    expect(await buckets.keys()).toEqual([a.info().bucket]);
  });

  it('puts a new member in the default bucket when no bucket can be made', async () => {
    buckets.open = () => Promise.reject(new DOMException('too many buckets', 'QuotaExceededError'));
    const storage = await kept(IndexedDbStorage.create(freshId()));
    expect(storage.info().bucket).toBeNull();
    expect(await namesIn(indexedDB)).toContain(storage.database);
  });

  it('falls back to the default bucket where the browser has no Storage Buckets', async () => {
    vi.stubGlobal('navigator', {});
    const storage = await kept(IndexedDbStorage.create(freshId()));
    expect(storage.info().bucket).toBeNull();
    expect(await namesIn(indexedDB)).toContain(storage.database);
  });
});
