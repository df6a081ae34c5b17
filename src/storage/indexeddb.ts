/**
 * Storage in IndexedDB (decision 5): one database per member, the log in checksummed segments,
 * hard state, compaction point and snapshot (in chunks) in records of their own. Each database is
 * in a Storage Bucket of its own where the browser has them: see buckets.ts.
 *
 * Durability: every write is one readwrite transaction with `durability: 'strict'`, and `persist`
 * resolves only on the transaction's `complete`. Raft acts on a resolved write at once (it votes,
 * it acknowledges entries a leader counts towards commit), so a write must survive a power loss
 * or an OS crash, not only a tab crash: 'relaxed' (Chromium's default) completes before the data
 * is flushed and could lose an acknowledged entry or a vote (TESTING.md 14-15). 'relaxed' is an
 * option for tests and demos that accept that.
 *
 * Writes run one after another in the order they were issued. If one fails (quota, a closed
 * database) the storage fails as a whole: that write and every later one reject with the same
 * typed error, and nothing more is written until the member reopens it — a later write landing
 * after a failed one would leave a hole, and a member that cannot persist must not acknowledge.
 */
import { unwrap, wrap } from 'idb';
import type { IDBPDatabase } from 'idb';
import { deleteDatabase, homeOf } from './buckets.js';
import type { DatabaseHome } from './buckets.js';
import {
  StorageCorruptError,
  StorageLostError,
  StorageQuotaError,
  StorageUnavailableError,
} from './errors.js';
import {
  encodeRepair,
  encodeSnapshotRecord,
  metaKeyTag,
  seal,
  sealIdentity,
  segmentKeyTag,
  unsealIdentity,
} from './records.js';
import type { StorageChange } from './plan.js';
import { persistedStateOf, recover } from './recovery.js';
import { definedOnly } from './options.js';
import { layoutLimitsOf, SegmentLayout } from './segment-layout.js';
import type { SegmentWrite } from './segment-layout.js';
import type { PersistedState, SegmentedLogInfo, StorageInfo } from './storage.js';
import { TransactionalStorage } from './transactional-storage.js';

const SCHEMA_VERSION = 1;
const META = 'meta';
const SEGMENTS = 'segments';
const CHUNKS = 'chunks';
const STORES = [META, SEGMENTS, CHUNKS];

export type Durability = 'strict' | 'relaxed';

/** What `navigator.storage.persist()` answered: whether the browser may evict this origin's data. */
export type PersistencePermission = 'granted' | 'denied' | 'unsupported';

export interface IndexedDbStorageOptions {
  /** Groups databases (a room, an app); one database per member within it. Default 'default'. */
  readonly namespace?: string;
  /** Default 'strict'; see the module comment for why. */
  readonly durability?: Durability;
  /**
   * Small appends are separate records (one small put each) until this many bytes or
   * `segmentRunRecordsMax` records, then folded into one segment. Default 8 KiB and 32.
   */
  readonly segmentMergeBytes?: number;
  readonly segmentRunRecordsMax?: number;
  /** A batch larger than this is split into several segments. Default 1 MiB. */
  readonly segmentBytesMax?: number;
  /** Snapshots are stored in chunks of this size. Default 256 KiB. */
  readonly snapshotChunkBytes?: number;
  /**
   * Ask the browser not to evict the member's storage: its bucket's (`StorageBucket.persist()`),
   * else the origin's (`navigator.storage.persist()`, on pages only). Default true.
   */
  readonly requestPersistence?: boolean;
  /**
   * A new member's database goes in a Storage Bucket of its own where the browser has them
   * (Chromium 122+), so the tabs of one browser flush their writes side by side: see buckets.ts.
   * Default true; false puts it in the origin's default bucket. Either way an existing database
   * is opened where it is.
   */
  readonly buckets?: boolean;
}

/** What status shows about a member's storage. */
export interface IndexedDbStorageInfo extends StorageInfo, SegmentedLogInfo {
  readonly kind: 'indexeddb';
  readonly database: string;
  /** The Storage Bucket the database is in; null for the origin's default bucket. */
  readonly bucket: string | null;
  readonly durability: Durability;
  readonly persistence: PersistencePermission;
}

const DEFAULTS = {
  namespace: 'default',
  durability: 'strict' as Durability,
  segmentMergeBytes: 8 * 1024,
  segmentRunRecordsMax: 32,
  segmentBytesMax: 1024 * 1024,
  snapshotChunkBytes: 256 * 1024,
  requestPersistence: true,
  buckets: true,
};

type ResolvedOptions = typeof DEFAULTS;

/** A write of the IndexedDB storage: segment writes and records, in one transaction. */
interface IndexedDbWrite {
  readonly writes: readonly SegmentWrite[];
  readonly records: readonly RecordWrite[];
}

export class IndexedDbStorage extends TransactionalStorage<IndexedDbWrite> {
  private persistence: PersistencePermission = 'unsupported';

  private constructor(
    private readonly db: IDBPDatabase,
    readonly memberId: string,
    readonly database: string,
    private readonly home: DatabaseHome,
    private readonly options: ResolvedOptions,
  ) {
    super(layoutLimitsOf(options), options.snapshotChunkBytes);
    // The browser closed the connection (site data cleared, storage evicted, disk error).
    unwrap(db).addEventListener('close', () =>
      this.fail(new StorageUnavailableError(database, 'the browser closed the database')),
    );
  }

  /** The database name of a member: `webraft/<namespace>/<memberId>`. */
  static databaseName(memberId: string, namespace = DEFAULTS.namespace): string {
    return `webraft/${namespace}/${memberId}`;
  }

  /**
   * Creates the database of a new member, with its identity, and opens it. A member id is used
   * once: creating one whose database exists fails with StorageUnavailableError.
   */
  static async create(
    memberId: string,
    options: IndexedDbStorageOptions = {},
  ): Promise<IndexedDbStorage> {
    return IndexedDbStorage.connect(memberId, options, 'create');
  }

  /**
   * Opens the database of an existing member. A database that is missing or lost its identity
   * (site data cleared) fails with StorageLostError: that member must rejoin under a new id.
   */
  static async open(
    memberId: string,
    options: IndexedDbStorageOptions = {},
  ): Promise<IndexedDbStorage> {
    return IndexedDbStorage.connect(memberId, options, 'open');
  }

  /** Deletes a member's database, and its bucket (it left the cluster for good). */
  static async destroy(memberId: string, namespace = DEFAULTS.namespace): Promise<void> {
    const name = IndexedDbStorage.databaseName(memberId, namespace);
    try {
      await deleteDatabase(name);
    } catch (error) {
      throw mapError(name, error);
    }
  }

  private static async connect(
    memberId: string,
    partial: IndexedDbStorageOptions,
    mode: 'create' | 'open',
  ): Promise<IndexedDbStorage> {
    const options: ResolvedOptions = { ...DEFAULTS, ...definedOnly(partial) };
    const name = IndexedDbStorage.databaseName(memberId, options.namespace);
    let existed = true;
    let db: IDBPDatabase;
    let gaveUp = false;
    let onBlocked: () => void = () => undefined;
    const blocked = new Promise<never>((_resolve, reject) => {
      onBlocked = () =>
        reject(new StorageUnavailableError(name, 'blocked by another connection that stays open'));
    });
    let home: DatabaseHome;
    try {
      home = await homeOf(name, { ...options, create: mode === 'create' });
    } catch (error) {
      throw mapError(name, error);
    }
    try {
      const request = home.factory.open(name, SCHEMA_VERSION);
      request.onupgradeneeded = (event) => {
        existed = event.oldVersion !== 0;
        if (existed) return; // Only one schema version so far.
        const transaction = request.transaction!;
        if (mode === 'open') {
          transaction.abort(); // Leaves no empty database behind.
          return;
        }
        const database = request.result;
        database.createObjectStore(META);
        database.createObjectStore(SEGMENTS);
        database.createObjectStore(CHUNKS);
        transaction.objectStore(META).put(sealIdentity(memberId), 'identity');
      };
      // Another tab holds an older schema open and does not let go: fail now, typed, rather
      // than hang the member's start (a late success is closed at once).
      request.onblocked = () => onBlocked();
      const opening = wrap(request) as Promise<IDBPDatabase>;
      opening.then(
        (late) => gaveUp && late.close(),
        () => undefined,
      );
      db = await Promise.race([opening, blocked]).catch((error: unknown) => {
        gaveUp = true;
        throw error;
      });
    } catch (error) {
      if (mode === 'open' && !existed) throw new StorageLostError(memberId);
      if ((error as { name?: unknown } | null)?.name === 'VersionError') {
        // Other code upgraded the database past our schema: its log is no longer ours to trust.
        throw new StorageLostError(memberId, 'its database was upgraded by other code');
      }
      throw mapError(name, error);
    }
    if (mode === 'create' && existed) {
      db.close();
      throw new StorageUnavailableError(name, `member ${memberId} already exists`);
    }
    await checkIdentity(db, name, memberId);
    const storage = new IndexedDbStorage(db, memberId, name, home, options);
    db.addEventListener('versionchange', () => {
      // Another connection deletes or upgrades this database: let it, and take no more writes.
      storage.fail(new StorageUnavailableError(name, 'the database is being deleted or upgraded'));
      db.close();
    });
    storage.opened = await storage.loadLayout();
    if (options.requestPersistence) storage.persistence = await requestPersistentStorage(home);
    return storage;
  }

  protected releaseWrite(): IndexedDbWrite {
    return { writes: [], records: [{ store: META, key: IDBKeyRange.only('repair'), value: null }] };
  }

  protected closeMedium(): void {
    this.db.close(); // Transactions already issued still complete.
  }

  info(): IndexedDbStorageInfo {
    return {
      kind: 'indexeddb',
      database: this.database,
      bucket: this.home.bucket,
      durability: this.options.durability,
      persistence: this.persistence,
      ...this.figures(),
    };
  }

  /** Reads and verifies everything, deletes a torn tail, and rebuilds the layout from it. */
  protected async loadLayout(): Promise<PersistedState> {
    const tx = this.db.transaction(STORES, 'readonly');
    const meta = tx.objectStore(META);
    const segments = tx.objectStore(SEGMENTS);
    const chunks = tx.objectStore(CHUNKS);
    let recovery;
    try {
      const [hardState, snapshot, compaction, repair, segmentKeys, segmentValues] =
        await Promise.all([
          meta.get('hardState'),
          meta.get('snapshot'),
          meta.get('compaction'),
          meta.get('repair'),
          segments.getAllKeys(),
          segments.getAll(),
        ]);
      recovery = await recover(this.database, {
        hardState,
        snapshot,
        compaction,
        repair,
        segmentKeys,
        segmentValues,
        readChunks: (index) => chunks.getAll(IDBKeyRange.bound([index, 0], [index, Infinity])),
      });
      await tx.done;
    } catch (error) {
      if (error instanceof StorageCorruptError) throw error;
      throw this.fail(mapError(this.database, error));
    }
    if (recovery.tornSegmentKeys.length > 0 && recovery.repair !== null) {
      // The torn record goes, and a mark stays until the member caught up (releaseVotes): a
      // crash before then must not forget that this log was cut.
      const records: RecordWrite[] = [metaRecord('repair', encodeRepair(recovery.repair))];
      const writes = recovery.tornSegmentKeys.map((first): SegmentWrite => ({
        op: 'deleteSegmentsFrom',
        first,
      }));
      await this.commit({ writes, records });
    }
    this.repair = recovery.repair;
    this.votesWithheld = recovery.votesWithheld;
    this.layout = SegmentLayout.recovered(this.layoutLimits, recovery.log);
    return persistedStateOf(recovery);
  }

  protected async commit({ writes, records }: IndexedDbWrite): Promise<void> {
    this.throwIfUnusable();
    if (writes.length === 0 && records.length === 0) return; // Nothing to make durable.
    let tx: IDBTransaction;
    try {
      // Only the stores this write touches: a transaction locks its whole scope.
      const scope = new Set<string>(records.map((record) => record.store));
      if (writes.length > 0) scope.add(SEGMENTS);
      tx = unwrap(this.db).transaction([...scope], 'readwrite', {
        durability: this.options.durability,
      });
    } catch (error) {
      throw this.fail(mapError(this.database, error));
    }
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(this.fail(mapError(this.database, tx.error)));
    });
    try {
      issueWrites(tx, writes, records);
    } catch (error) {
      // A request refused at once (a value too large, a quota the browser checks up front).
      tx.onabort = null;
      tx.abort();
      throw this.fail(mapError(this.database, error));
    }
    await done;
  }

  /** The segment writes and records that carry out `changes` in one transaction. */
  protected writeOf(changes: readonly StorageChange[]): IndexedDbWrite {
    const writes: SegmentWrite[] = [];
    const records: RecordWrite[] = [];
    for (const change of changes) {
      if (change.kind === 'segment') {
        writes.push(change.write);
      } else if (change.kind === 'meta') {
        records.push(metaRecord(change.name, change.body));
      } else {
        const { record, chunks, previous } = change;
        if (previous !== null) {
          const stored = IDBKeyRange.bound([previous.index, 0], [previous.index, Infinity]);
          records.push({ store: CHUNKS, key: stored, value: null });
        }
        chunks.forEach((value, chunk) => {
          records.push({ store: CHUNKS, key: [record.index, chunk], value });
        });
        records.push(metaRecord('snapshot', encodeSnapshotRecord(record)));
      }
    }
    return { writes, records };
  }
}

type RecordWrite =
  | { readonly store: string; readonly key: IDBValidKey; readonly value: unknown }
  | { readonly store: string; readonly key: IDBKeyRange; readonly value: null };

/** Issues every put and delete of one write on `tx` (requests only: no awaits in between). */
function issueWrites(
  tx: IDBTransaction,
  writes: readonly SegmentWrite[],
  records: readonly RecordWrite[],
): void {
  const segments = writes.length > 0 ? tx.objectStore(SEGMENTS) : null;
  for (const write of writes) {
    if (segments === null) break;
    switch (write.op) {
      case 'putSegment':
        segments.put(seal(segmentKeyTag(write.first), write.body), write.first);
        break;
      case 'deleteSegmentsFrom':
        segments.delete(IDBKeyRange.lowerBound(write.first));
        break;
      case 'deleteSegmentsBelow':
        segments.delete(IDBKeyRange.upperBound(write.first, true));
        break;
      case 'clearSegments':
        segments.clear();
        break;
    }
  }
  for (const record of records) {
    const store = tx.objectStore(record.store);
    if (record.key instanceof IDBKeyRange) store.delete(record.key);
    else store.put(record.value, record.key);
  }
}

function metaRecord(name: string, body: Uint8Array): RecordWrite {
  return { store: META, key: name, value: seal(metaKeyTag(name), body) };
}

async function checkIdentity(db: IDBPDatabase, name: string, memberId: string): Promise<void> {
  let raw: unknown;
  try {
    raw = await db.get(META, 'identity');
  } catch (error) {
    db.close();
    throw mapError(name, error);
  }
  if (raw === undefined) {
    db.close();
    throw new StorageLostError(memberId);
  }
  const identity = unsealIdentity(raw);
  if (identity?.memberId !== memberId) {
    db.close();
    throw new StorageCorruptError(name, `the identity record does not name member ${memberId}`);
  }
}

/** A DOMException (or anything thrown by IndexedDB) as one of the storage's typed errors. */
function mapError(database: string, error: unknown): Error {
  if (error instanceof StorageUnavailableError || error instanceof StorageQuotaError) return error;
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'QuotaExceededError') return new StorageQuotaError(database);
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new StorageUnavailableError(database, message);
}

/**
 * Asks the browser to keep a bucket's storage under pressure (`home`'s, else the origin's default
 * bucket); 'unsupported' where it cannot be asked (the default bucket from a worker).
 */
export async function requestPersistentStorage(
  home: DatabaseHome | null = null,
): Promise<PersistencePermission> {
  const origin = (globalThis.navigator as Navigator | undefined)?.storage;
  const persist = home?.handle?.persist?.bind(home.handle) ?? origin?.persist?.bind(origin);
  if (persist === undefined) return 'unsupported';
  try {
    return (await persist()) ? 'granted' : 'denied';
  } catch {
    return 'denied';
  }
}
