/**
 * Where a member's IndexedDB database lives: in a Storage Bucket of its own where the browser has
 * Storage Buckets (Chromium 122+), else in the origin's default bucket.
 *
 * Why a bucket each: every bucket is an IndexedDB backend of its own (its own files, its own
 * thread in the browser). In the origin's one default bucket the tabs of one browser queue their
 * writes one behind another, each with its flush to disk, and a commit needs two members' writes:
 * it waited for both in turn. In buckets of their own the writes are flushed side by side, though
 * on one disk still (three tabs each putting at once: 1.5–2.0 → 1.3–1.4 ms a put; a 3-tab room
 * with 256 writes in flight: +8 %; README "Performance").
 *
 * A database that a member created in the default bucket (before buckets, or with `buckets:
 * false`) stays there and is found there: a member's log never moves.
 */
import type { Durability } from './indexeddb.js';

/** The part of the Storage Buckets API we use (not yet in TypeScript's DOM types). */
export interface StorageBucketHandle {
  readonly indexedDB: IDBFactory;
  persist?(): Promise<boolean>;
}

export interface StorageBucketManagerHandle {
  open(name: string, options?: { readonly durability?: Durability }): Promise<StorageBucketHandle>;
  keys(): Promise<string[]>;
  delete(name: string): Promise<void>;
}

/** Where one database lives: the factory to open it with, and its bucket if not the default. */
export interface DatabaseHome {
  readonly factory: IDBFactory;
  /** The bucket's name; null for the origin's default bucket. */
  readonly bucket: string | null;
  readonly handle: StorageBucketHandle | null;
}

const BUCKET_PREFIX = 'webraft-';

/** `navigator.storageBuckets` where the browser has it. */
export function storageBuckets(): StorageBucketManagerHandle | null {
  const navigator = globalThis.navigator as
    { storageBuckets?: StorageBucketManagerHandle } | undefined;
  return navigator?.storageBuckets ?? null;
}

/**
 * The bucket of database `database`: `webraft-` and a 64-bit hash of its name, since bucket names
 * allow only `[a-z0-9_-]` and 64 characters and a room or member id may hold anything. Two names
 * that hash alike share a bucket, which costs only the parallel flushes between those two.
 */
export function bucketNameOf(database: string): string {
  return `${BUCKET_PREFIX}${fnv1a(database, 0x811c9dc5)}${fnv1a(database, 0x050c5d1f)}`;
}

function fnv1a(text: string, seed: number): string {
  let hash = seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

async function databaseNamesIn(factory: IDBFactory): Promise<string[]> {
  return (await factory.databases()).map((info) => info.name ?? '');
}

const defaultHome = (): DatabaseHome => ({ factory: indexedDB, bucket: null, handle: null });

/**
 * Where database `name` lives, or, to create it, where it will live. Opening an existing member
 * makes no bucket: a name found in no bucket is looked for in the default one, where its open then
 * fails as a missing database does.
 */
export async function homeOf(
  name: string,
  { buckets, durability, create }: { buckets: boolean; durability: Durability; create: boolean },
): Promise<DatabaseHome> {
  const manager = buckets ? storageBuckets() : null;
  if (manager === null) return defaultHome();
  if ((await databaseNamesIn(indexedDB)).includes(name)) return defaultHome();
  const bucket = bucketNameOf(name);
  const opened = async (): Promise<DatabaseHome> => {
    const handle = await manager.open(bucket, { durability });
    return { factory: handle.indexedDB, bucket, handle };
  };
  if (!create) return (await manager.keys()).includes(bucket) ? opened() : defaultHome();
  // No bucket to be had (a browser's limit, a policy): the default bucket serves as before.
  return opened().catch(defaultHome);
}

/** The names of this origin's databases: the default bucket's and those in our buckets. */
export async function databaseNames(): Promise<string[]> {
  const names = await databaseNamesIn(indexedDB);
  const manager = storageBuckets();
  if (manager === null) return names;
  for (const bucket of await manager.keys()) {
    if (!bucket.startsWith(BUCKET_PREFIX)) continue;
    names.push(...(await databaseNamesIn((await manager.open(bucket)).indexedDB)));
  }
  return [...new Set(names)];
}

/**
 * Deletes database `name` wherever it lives, and its bucket once that holds no database: a left
 * member leaves nothing behind. Resolves once deleted (connections still open delay it).
 */
export async function deleteDatabase(name: string): Promise<void> {
  const remove = (factory: IDBFactory): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const request = factory.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
      request.onblocked = () => undefined; // Completes once the other connections close.
    });
  await remove(indexedDB);
  const manager = storageBuckets();
  const bucket = bucketNameOf(name);
  if (manager === null || !(await manager.keys()).includes(bucket)) return;
  const { indexedDB: factory } = await manager.open(bucket);
  await remove(factory);
  if ((await databaseNamesIn(factory)).length === 0) await manager.delete(bucket);
}
