/**
 * Storage in a Durable Object's transactional storage (workerd, Cloudflare): the log of an edge
 * member (issue 13). It keeps the records the other storages keep (records.ts), planned by the
 * same planner (plan.ts) and verified by the same recovery (recovery.ts), under keys of its own
 * in the object's storage (`<prefix>meta/…`, `<prefix>seg/<first>`, `<prefix>chunk/<index>/<n>`),
 * so the room's other keys (signaling's) live beside them.
 *
 * Every `persist`, `compact` and `releaseVotes` is one storage transaction, and resolves after
 * `storage.sync()` (durable on disk, not only in the object's write buffer). A transaction is
 * atomic, which simplifies what IndexedDB and the file journal must do: the snapshot's chunks and
 * the record naming them, entries and hard state, a fold's deletes and put all land together or
 * not at all, so there is no journal, no ordering of fsyncs, no atomic rename. A crash cannot
 * tear a write; a bad last segment can only be damage. Recovery still treats it as the others do
 * (cut, and withhold votes until caught up), so that all storages mean the same by a bad tail.
 *
 * Limits: Durable Object values are at most 128 KiB (KV-backed objects), so snapshot chunks and
 * segments are kept below that, and a segment larger than one value (one entry over the limit) is
 * stored as a head record and parts (`<prefix>part/<first>/<n>`), reassembled and checked by its
 * one checksum on load. One call names at most 128 keys; a write of more makes several calls in
 * its one transaction.
 *
 * The object's storage has no range delete, so the storage knows its segment keys (listed at
 * load, then kept as it writes) and deletes them by name. A failed transaction fails the storage
 * as a whole, as IndexedDB's does: later writes reject with the same typed error.
 */
import type { MemberId } from '../core/types.js';
import {
  StorageCorruptError,
  StorageLostError,
  StorageQuotaError,
  StorageUnavailableError,
} from './errors.js';
import { DO_KEYS_PER_CALL_MAX, DO_VALUE_BYTES_MAX } from './durable-object-api.js';
import type {
  DurableObjectStorageLike,
  DurableObjectTransactionLike,
} from './durable-object-api.js';
import { definedOnly } from './options.js';
import type { StorageChange } from './plan.js';
import {
  encodeRepair,
  encodeSnapshotRecord,
  FORMAT_VERSION,
  metaKeyTag,
  seal,
  sealIdentity,
  segmentKeyTag,
  unsealIdentity,
} from './records.js';
import type { SealedRecord } from './records.js';
import { persistedStateOf, recover } from './recovery.js';
import { layoutLimitsOf, SegmentLayout } from './segment-layout.js';
import type { SegmentWrite } from './segment-layout.js';
import type { PersistedState, SegmentedLogInfo, StorageInfo } from './storage.js';
import { TransactionalStorage } from './transactional-storage.js';

export type { DurableObjectStorageLike } from './durable-object-api.js';

export interface DurableObjectStorageOptions {
  /** Prefix of every key this storage writes. Default `raft/`. */
  readonly prefix?: string;
  /** Small appends are records of their own until a run has this many bytes or records. */
  readonly segmentMergeBytes?: number;
  readonly segmentRunRecordsMax?: number;
  /** A batch of entries larger than this is split into several segments. Default 96 KiB. */
  readonly segmentBytesMax?: number;
  /** Snapshot chunk size; at most the value part size. Default 120 KiB. */
  readonly snapshotChunkBytes?: number;
  /** Bytes of a stored value part (below the 128 KiB value limit). Default 120 KiB. */
  readonly valuePartBytes?: number;
  /**
   * 'sync' (default): a write resolves once `storage.sync()` says it is on disk. 'outputGate':
   * once the transaction commits to the object's write buffer; workerd then holds every outgoing
   * message until the write is on disk, so no vote or ack escapes early, but code in the object
   * that is not a network message (an in-process peer) could act on it sooner.
   */
  readonly confirm?: 'sync' | 'outputGate';
}

/** What status shows about a Durable Object storage. */
export interface DurableObjectStorageInfo extends StorageInfo, SegmentedLogInfo {
  readonly kind: 'durable-object';
  readonly memberId: MemberId;
  /** Since open: transactions committed, keys put, keys deleted (what the platform bills). */
  readonly transactions: number;
  readonly keysWritten: number;
  readonly keysDeleted: number;
}

type ResolvedOptions = Required<DurableObjectStorageOptions>;

const DEFAULTS: ResolvedOptions = {
  prefix: 'raft/',
  segmentMergeBytes: 8 * 1024,
  segmentRunRecordsMax: 32,
  segmentBytesMax: 96 * 1024,
  snapshotChunkBytes: 120 * 1024,
  valuePartBytes: 120 * 1024,
  confirm: 'sync',
};

/** Room a sealed record takes besides its body (the object around it, as V8 serializes it). */
const RECORD_OVERHEAD_BYTES = 64;
/** Digits of an index in a key: every safe integer, so keys sort as their indexes do. */
const INDEX_DIGITS = 16;
const pad = (n: number, digits = INDEX_DIGITS): string => String(n).padStart(digits, '0');

/** A segment stored in parts: the head names how many, and the one checksum covers the whole. */
interface PartedHead {
  readonly v: number;
  readonly crc: number;
  readonly parts: number;
  readonly byteLength: number;
}

/** Values to put (a value) or delete (null), by key, in the order they were decided. */
type Changes = Map<string, unknown>;

export class DurableObjectStorage extends TransactionalStorage<Changes> {
  /** Stored segment records: first index -> number of parts (0: stored whole). */
  private readonly segments = new Map<number, number>();
  private readonly counts = { transactions: 0, keysWritten: 0, keysDeleted: 0 };

  private constructor(
    private readonly storage: DurableObjectStorageLike,
    readonly memberId: MemberId,
    private readonly options: ResolvedOptions,
  ) {
    super(layoutLimitsOf(options), options.snapshotChunkBytes);
  }

  /** The member id this object's storage holds, or null when it holds none (new or wiped). */
  static async memberIdIn(
    storage: DurableObjectStorageLike,
    prefix = DEFAULTS.prefix,
  ): Promise<MemberId | null> {
    const raw = await storage.transaction((txn) => txn.get(`${prefix}meta/identity`));
    if (raw === undefined) return null;
    const identity = unsealIdentity(raw);
    if (identity === null) throw new StorageCorruptError(prefix, 'the identity record is damaged');
    return identity.memberId;
  }

  /**
   * Makes this object's storage the storage of new member `memberId` and opens it. Refused with
   * StorageUnavailableError if it already holds a member.
   */
  static async create(
    storage: DurableObjectStorageLike,
    memberId: MemberId,
    options: DurableObjectStorageOptions = {},
  ): Promise<DurableObjectStorage> {
    const resolved = resolveOptions(options);
    const key = `${resolved.prefix}meta/identity`;
    const identity = sealIdentity(memberId);
    await storage
      .transaction(async (txn) => {
        if ((await txn.get(key)) !== undefined) {
          throw new StorageUnavailableError(resolved.prefix, 'it already holds a member');
        }
        await txn.put({ [key]: identity });
      })
      .catch((error: unknown) => {
        throw mapError(resolved.prefix, error);
      });
    return DurableObjectStorage.start(storage, memberId, resolved);
  }

  /**
   * Opens the storage of an existing member. One holding no identity (wiped) fails with
   * StorageLostError; one naming another member than `expectedMemberId` with StorageCorruptError.
   */
  static async open(
    storage: DurableObjectStorageLike,
    options: DurableObjectStorageOptions & { readonly expectedMemberId?: MemberId } = {},
  ): Promise<DurableObjectStorage> {
    const resolved = resolveOptions(options);
    const memberId = await DurableObjectStorage.memberIdIn(storage, resolved.prefix).catch(
      (error: unknown) => {
        throw mapError(resolved.prefix, error);
      },
    );
    const expected = options.expectedMemberId;
    if (memberId === null) throw new StorageLostError(expected ?? resolved.prefix);
    if (expected !== undefined && expected !== memberId) {
      throw new StorageCorruptError(
        resolved.prefix,
        `it holds member ${memberId}, not ${expected}`,
      );
    }
    return DurableObjectStorage.start(storage, memberId, resolved);
  }

  private static async start(
    storage: DurableObjectStorageLike,
    memberId: MemberId,
    options: ResolvedOptions,
  ): Promise<DurableObjectStorage> {
    const opened = new DurableObjectStorage(storage, memberId, options);
    opened.opened = await opened.loadLayout();
    return opened;
  }

  protected releaseWrite(): Changes {
    return new Map([[this.metaKey('repair'), null]]);
  }

  protected closeMedium(): void {
    // Nothing to let go of: the object owns its storage; transactions issued still complete.
  }

  info(): DurableObjectStorageInfo {
    return {
      kind: 'durable-object',
      memberId: this.memberId,
      persistence: 'unsupported',
      ...this.figures(),
      ...this.counts,
    };
  }

  private metaKey(name: string): string {
    return `${this.options.prefix}meta/${name}`;
  }

  private segmentKey(first: number): string {
    return `${this.options.prefix}seg/${pad(first)}`;
  }

  private partKey(first: number, part: number): string {
    return `${this.options.prefix}part/${pad(first)}/${pad(part, 6)}`;
  }

  private chunkKey(index: number, chunk: number): string {
    return `${this.options.prefix}chunk/${pad(index)}/${pad(chunk, 8)}`;
  }

  /** Reads and verifies everything in one transaction, deletes a torn tail, rebuilds the layout. */
  protected async loadLayout(): Promise<PersistedState> {
    const { prefix } = this.options;
    let recovery;
    try {
      recovery = await this.storage.transaction(async (txn) => {
        const meta = await txn.list({ prefix: `${prefix}meta/` });
        const stored = await this.readSegments(txn);
        return recover(prefix, {
          hardState: meta.get(this.metaKey('hardState')),
          snapshot: meta.get(this.metaKey('snapshot')),
          compaction: meta.get(this.metaKey('compaction')),
          repair: meta.get(this.metaKey('repair')),
          segmentKeys: stored.keys,
          segmentValues: stored.values,
          readChunks: async (index) => {
            const listed = await txn.list({ prefix: `${prefix}chunk/${pad(index)}/` });
            // By chunk number, sparse where one is missing (recovery refuses that).
            const chunks: unknown[] = [];
            for (const [key, value] of listed) {
              const chunk = chunkNumber(key);
              if (key === this.chunkKey(index, chunk)) chunks[chunk] = value;
            }
            return chunks;
          },
        });
      });
    } catch (error) {
      if (error instanceof StorageCorruptError) throw error;
      throw this.fail(mapError(prefix, error));
    }
    if (recovery.tornSegmentKeys.length > 0 && recovery.repair !== null) {
      // The torn record goes, and a mark stays until the member caught up (releaseVotes).
      const changes: Changes = new Map();
      for (const first of recovery.tornSegmentKeys) {
        this.applySegmentWrite({ op: 'deleteSegmentsFrom', first }, changes);
      }
      changes.set(
        this.metaKey('repair'),
        seal(metaKeyTag('repair'), encodeRepair(recovery.repair)),
      );
      await this.commit(changes);
    }
    this.repair = recovery.repair;
    this.votesWithheld = recovery.votesWithheld;
    this.layout = SegmentLayout.recovered(this.layoutLimits, recovery.log);
    return persistedStateOf(recovery);
  }

  /** Every stored segment record, ascending, parted ones reassembled; notes their keys. */
  private async readSegments(
    txn: DurableObjectTransactionLike,
  ): Promise<{ keys: number[]; values: unknown[] }> {
    const { prefix } = this.options;
    const listed = await txn.list({ prefix: `${prefix}seg/` });
    const keys: number[] = [];
    const values: unknown[] = [];
    this.segments.clear();
    let parts: Map<string, unknown> | null = null;
    for (const [key, value] of listed) {
      const first = Number(key.slice(prefix.length + 4));
      // A key that is no index goes to recovery as such: it refuses the log (never skips it).
      keys.push(Number.isSafeInteger(first) && key === this.segmentKey(first) ? first : NaN);
      const head = partedHead(value);
      if (head === null) {
        values.push(value);
        this.segments.set(first, 0);
        continue;
      }
      parts ??= await txn.list({ prefix: `${prefix}part/` });
      values.push(this.reassemble(first, head, parts));
      this.segments.set(first, head.parts);
    }
    return { keys, values };
  }

  /** A parted segment as one sealed record; missing or wrong parts fail its checksum on unseal. */
  private reassemble(
    first: number,
    head: PartedHead,
    parts: ReadonlyMap<string, unknown>,
  ): SealedRecord | null {
    const body = new Uint8Array(head.byteLength);
    let offset = 0;
    for (let part = 0; part < head.parts; part++) {
      const bytes = parts.get(this.partKey(first, part));
      if (!(bytes instanceof Uint8Array) || offset + bytes.length > body.length) return null;
      body.set(bytes, offset);
      offset += bytes.length;
    }
    if (offset !== body.length) return null;
    return { v: head.v, body, crc: head.crc };
  }

  /** Puts and deletes `changes` in one transaction, in calls of at most 128 keys. */
  protected async commit(changes: Changes): Promise<void> {
    this.throwIfUnusable();
    if (changes.size === 0) return;
    const deletes: string[] = [];
    const puts: [string, unknown][] = [];
    for (const [key, value] of changes) {
      if (value === null) deletes.push(key);
      else puts.push([key, value]);
    }
    try {
      await this.storage.transaction(async (txn) => {
        for (let at = 0; at < deletes.length; at += DO_KEYS_PER_CALL_MAX) {
          await txn.delete(deletes.slice(at, at + DO_KEYS_PER_CALL_MAX));
        }
        for (let at = 0; at < puts.length; at += DO_KEYS_PER_CALL_MAX) {
          await txn.put(Object.fromEntries(puts.slice(at, at + DO_KEYS_PER_CALL_MAX)));
        }
      });
      if (this.options.confirm === 'sync') await this.storage.sync();
    } catch (error) {
      throw this.fail(mapError(this.options.prefix, error));
    }
    this.counts.transactions++;
    this.counts.keysWritten += puts.length;
    this.counts.keysDeleted += deletes.length;
  }

  /** The keys to put and delete that carry out `changes`, and the segment keys after them. */
  protected writeOf(changes: readonly StorageChange[]): Changes {
    const out: Changes = new Map();
    for (const change of changes) {
      if (change.kind === 'segment') {
        this.applySegmentWrite(change.write, out);
      } else if (change.kind === 'meta') {
        out.set(this.metaKey(change.name), seal(metaKeyTag(change.name), change.body));
      } else {
        const { record, chunks, previous } = change;
        if (previous !== null) {
          for (let chunk = 0; chunk < previous.chunkCount; chunk++) {
            out.set(this.chunkKey(previous.index, chunk), null);
          }
        }
        chunks.forEach((value, chunk) => out.set(this.chunkKey(record.index, chunk), value));
        out.set(
          this.metaKey('snapshot'),
          seal(metaKeyTag('snapshot'), encodeSnapshotRecord(record)),
        );
      }
    }
    return out;
  }

  private applySegmentWrite(write: SegmentWrite, out: Changes): void {
    const stored = [...this.segments.keys()];
    switch (write.op) {
      case 'putSegment':
        this.dropSegment(write.first, out);
        this.putSegment(write.first, write.body, out);
        break;
      case 'deleteSegmentsFrom':
        for (const first of stored) if (first >= write.first) this.dropSegment(first, out);
        break;
      case 'deleteSegmentsBelow':
        for (const first of stored) if (first < write.first) this.dropSegment(first, out);
        break;
      case 'clearSegments':
        for (const first of stored) this.dropSegment(first, out);
        break;
    }
  }

  private dropSegment(first: number, out: Changes): void {
    const parts = this.segments.get(first);
    if (parts === undefined) return;
    out.set(this.segmentKey(first), null);
    for (let part = 0; part < parts; part++) out.set(this.partKey(first, part), null);
    this.segments.delete(first);
  }

  private putSegment(first: number, body: Uint8Array, out: Changes): void {
    const sealed = seal(segmentKeyTag(first), body);
    const partBytes = this.options.valuePartBytes;
    if (body.length <= partBytes) {
      out.set(this.segmentKey(first), sealed);
      this.segments.set(first, 0);
      return;
    }
    const parts = Math.ceil(body.length / partBytes);
    for (let part = 0; part < parts; part++) {
      out.set(this.partKey(first, part), body.slice(part * partBytes, (part + 1) * partBytes));
    }
    const head: PartedHead = { v: sealed.v, crc: sealed.crc, parts, byteLength: body.length };
    out.set(this.segmentKey(first), head);
    this.segments.set(first, parts);
  }
}

function resolveOptions(options: DurableObjectStorageOptions): ResolvedOptions {
  const given = definedOnly(options);
  const resolved = { ...DEFAULTS, ...given };
  // Smaller parts bring smaller chunks with them, unless chunks were set too.
  if (given.snapshotChunkBytes === undefined) {
    resolved.snapshotChunkBytes = Math.min(resolved.snapshotChunkBytes, resolved.valuePartBytes);
  }
  const valueMax = DO_VALUE_BYTES_MAX - RECORD_OVERHEAD_BYTES;
  if (resolved.valuePartBytes < 1 || resolved.valuePartBytes > valueMax) {
    throw new RangeError(`valuePartBytes must be 1..${valueMax}`);
  }
  // A chunk is stored whole: it must fit one value.
  if (resolved.snapshotChunkBytes > resolved.valuePartBytes) {
    throw new RangeError('snapshotChunkBytes must be at most valuePartBytes');
  }
  return resolved;
}

function partedHead(value: unknown): PartedHead | null {
  if (typeof value !== 'object' || value === null || !('parts' in value)) return null;
  const head = value as Partial<PartedHead>;
  const ok =
    head.v === FORMAT_VERSION &&
    typeof head.crc === 'number' &&
    Number.isSafeInteger(head.parts) &&
    Number.isSafeInteger(head.byteLength);
  return ok ? (head as PartedHead) : null;
}

function chunkNumber(key: string): number {
  return Number(key.slice(key.lastIndexOf('/') + 1));
}

/** Anything the object's storage threw, as one of the storage's typed errors. */
function mapError(database: string, error: unknown): Error {
  if (
    error instanceof StorageUnavailableError ||
    error instanceof StorageQuotaError ||
    error instanceof StorageCorruptError ||
    error instanceof StorageLostError
  ) {
    return error;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  // Cloudflare: "Exceeded allowed storage in Durable Object" (10 GB); SQLite: SQLITE_FULL.
  if (/exceeded allowed storage|SQLITE_FULL|quota/i.test(message)) {
    return new StorageQuotaError(database, `the object's storage refused a write (${message})`);
  }
  return new StorageUnavailableError(database, message);
}
