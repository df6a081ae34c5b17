/**
 * Storage in files, for a member that runs in Node (a server-side replica, a CLI, CI): one data
 * directory per member. Node only (node:fs/promises); the browser bundle never imports it.
 *
 * It keeps the records the IndexedDB storage keeps (records.ts), planned by the same segment
 * layout and verified by the same recovery (recovery.ts), in a journal (file-journal.ts): every
 * `persist` or `compact` is one checksummed batch appended to `journal-<n>.wal`, and resolves
 * only after fdatasync. Hard state travels in the batch of the entries it came with, so "entries,
 * then hard state" is atomic without a second file and a second fsync per write. Concurrent
 * writes are group-committed: one fsync for every batch waiting at that moment, in order.
 *
 * Files written whole — the identity and each snapshot (`snapshot-<index>.snap`, sealed chunks)
 * — are replaced atomically: temporary file, fsync, rename, fsync of the directory. A snapshot
 * file is durable before the batch that names it.
 *
 * A journal file past `journalFileBytesMax` is closed and the next starts with a copy of the meta
 * records; the oldest files are then deleted as long as no live segment record is in them.
 *
 * Recovery: a bad batch at the end of the last journal file is a torn tail (a crash during an
 * append that was never acknowledged): it is cut, and the member withholds its vote until it
 * caught up (PersistedState.votesWithheld), as the other storages do. A bad batch followed by a
 * good one, or in an older file, is a StorageCorruptError. A LOCK file keeps a second process
 * out (StorageLockedError); a full disk is a StorageQuotaError; any other failed write stops the
 * storage with StorageUnavailableError, and nothing acknowledged is lost.
 */
import { mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../core/errors.js';
import type { MemberId, Snapshot } from '../core/types.js';
import { StorageClosedError } from './checks.js';
import { StorageCorruptError, StorageLostError, StorageUnavailableError } from './errors.js';
import {
  decodeSealedRecords,
  encodeBatch,
  encodeSealedRecords,
  journalOp,
} from './file-journal.js';
import type { JournalMirror, JournalOp } from './file-journal.js';
import {
  errorCode,
  fileSystemError,
  fsyncDirectory,
  lockDirectory,
  writeFileAtomically,
} from './file-system.js';
import {
  decodeIdentity,
  encodeIdentity,
  encodeRepair,
  encodeSnapshotRecord,
  metaKeyTag,
  seal,
  unseal,
} from './records.js';
import type { MetaName } from './records.js';
import { journalName, JOURNAL_PATTERN, readDisk, snapshotName } from './file-recovery.js';
import type { DiskState } from './file-recovery.js';
import type { RecoveryReport } from './recovery.js';
import { definedOnly } from './options.js';
import { planCompaction, planPersist } from './plan.js';
import type { StorageChange } from './plan.js';
import type { SegmentLayout } from './segment-layout.js';
import type { LayoutLimits } from './segment-layout.js';
import type { PersistedState, PersistUpdate, Storage, StorageInfo } from './storage.js';

export interface FileStorageOptions {
  /** Small appends are records of their own until a run has this many bytes or records. */
  readonly segmentMergeBytes?: number;
  readonly segmentRunRecordsMax?: number;
  /** A batch of entries larger than this is split into several segment records. */
  readonly segmentBytesMax?: number;
  /** Snapshots are stored in sealed chunks of this size. */
  readonly snapshotChunkBytes?: number;
  /** A journal file past this size is closed and the next one started. */
  readonly journalFileBytesMax?: number;
}

/** What status shows about a file storage. */
export interface FileStorageInfo extends StorageInfo {
  readonly kind: 'file';
  readonly directory: string;
  readonly memberId: MemberId;
  readonly journalFiles: number;
  readonly segments: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** What recovery cut from the log (on this start or an earlier one), or null. */
  readonly repair: RecoveryReport | null;
  readonly votesWithheld: boolean;
}

const DEFAULTS: Required<FileStorageOptions> = {
  segmentMergeBytes: 8 * 1024,
  segmentRunRecordsMax: 32,
  segmentBytesMax: 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
  journalFileBytesMax: 16 * 1024 * 1024,
};

/** Batches written with one fsync at most; the rest wait for the next. */
const GROUP_BATCHES_MAX = 256;
const IDENTITY_FILE = 'identity';
interface PlannedWrite {
  readonly ops: JournalOp[];
  /** Runs before the batch is appended (a snapshot file that must be durable first). */
  readonly before?: () => Promise<void>;
  /** Runs once the batch is durable (deleting the snapshot file it replaced). */
  readonly after?: () => Promise<void>;
}

interface QueuedWrite extends PlannedWrite {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class FileStorage implements Storage {
  private layout: SegmentLayout;
  private mirror: JournalMirror;
  private journalFiles: number[];
  private journal: FileHandle | null = null;
  private journalBytes = 0;
  private readonly queue: QueuedWrite[] = [];
  private writing: Promise<void> | null = null;
  private failure: Error | null = null;
  private closed = false;
  private repair: RecoveryReport | null;
  private votesWithheld: boolean;
  /** What open read, handed to the first `load` if nothing was written in between. */
  private opened: PersistedState | null;

  private constructor(
    readonly directory: string,
    readonly memberId: MemberId,
    private readonly options: Required<FileStorageOptions>,
    private readonly unlock: () => Promise<void>,
    disk: DiskState,
  ) {
    this.layout = disk.layout;
    this.mirror = disk.mirror;
    this.journalFiles = disk.journalFiles;
    this.repair = disk.repair;
    this.votesWithheld = disk.state.votesWithheld === true;
    this.opened = disk.state;
  }

  /** The member id a data directory holds, or null when it holds none (new or wiped). */
  static async memberIdIn(directory: string): Promise<MemberId | null> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(directory, IDENTITY_FILE));
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return null;
      throw fileSystemError(directory, error);
    }
    const [raw] = decodeSealedRecords(bytes);
    const body = unseal(metaKeyTag('identity'), raw);
    const identity = typeof body === 'string' ? null : decodeIdentity(body);
    if (identity === null) throw new StorageCorruptError(directory, 'the identity file is damaged');
    return identity.memberId;
  }

  /**
   * Makes `directory` (and its parents) the data directory of new member `memberId` and opens it.
   * Refused with StorageUnavailableError if it already holds a member.
   */
  static async create(
    directory: string,
    memberId: MemberId,
    options: FileStorageOptions = {},
  ): Promise<FileStorage> {
    await mkdir(directory, { recursive: true }).catch((error: unknown) => {
      throw fileSystemError(directory, error);
    });
    const unlock = await lockDirectory(directory);
    try {
      const existing = await readdir(directory);
      if (existing.includes(IDENTITY_FILE) || existing.some((name) => JOURNAL_PATTERN.test(name)))
        throw new StorageUnavailableError(directory, 'it already holds a member');
      const identity = encodeIdentity({ memberId, createdAtMs: Date.now() });
      const record = seal(metaKeyTag('identity'), identity);
      await writeFileAtomically(directory, IDENTITY_FILE, encodeSealedRecords([record]));
    } catch (error) {
      await unlock();
      throw fileSystemError(directory, error);
    }
    return FileStorage.start(directory, memberId, options, unlock);
  }

  /**
   * Opens the data directory of an existing member. A directory that is gone, or holds no
   * identity, fails with StorageLostError (the member must rejoin under a new id); one naming
   * another member than `expectedMemberId` with StorageCorruptError.
   */
  static async open(
    directory: string,
    options: FileStorageOptions & { readonly expectedMemberId?: MemberId } = {},
  ): Promise<FileStorage> {
    const lost = (): StorageLostError =>
      new StorageLostError(options.expectedMemberId ?? directory, `no member data in ${directory}`);
    try {
      if (!(await stat(directory)).isDirectory()) throw lost();
    } catch (error) {
      if (errorCode(error) === 'ENOENT') throw lost();
      throw fileSystemError(directory, error);
    }
    const unlock = await lockDirectory(directory);
    let memberId: MemberId | null;
    try {
      memberId = await FileStorage.memberIdIn(directory);
      if (memberId === null) throw lost();
      const expected = options.expectedMemberId;
      if (expected !== undefined && expected !== memberId)
        throw new StorageCorruptError(directory, `it holds member ${memberId}, not ${expected}`);
    } catch (error) {
      await unlock();
      throw error;
    }
    return FileStorage.start(directory, memberId, options, unlock);
  }

  private static async start(
    directory: string,
    memberId: MemberId,
    partial: FileStorageOptions,
    unlock: () => Promise<void>,
  ): Promise<FileStorage> {
    const options = { ...DEFAULTS, ...definedOnly(partial) };
    try {
      const disk = await readDisk(directory, limitsOf(options));
      const storage = new FileStorage(directory, memberId, options, unlock, disk);
      await storage.openJournal();
      await storage.recordRepair(disk);
      return storage;
    } catch (error) {
      await unlock();
      if (error instanceof StorageCorruptError || error instanceof StorageLostError) throw error;
      throw fileSystemError(directory, error);
    }
  }

  async load(): Promise<PersistedState> {
    this.throwIfUnusable();
    const opened = this.opened;
    this.opened = null;
    if (opened !== null) return opened; // Read at open and nothing written since.
    await this.writing;
    const disk = await readDisk(this.directory, limitsOf(this.options));
    this.layout = disk.layout;
    this.mirror = disk.mirror;
    return disk.state;
  }

  persist(update: PersistUpdate): Promise<void> {
    return this.enqueue(() =>
      this.batchOf(planPersist(this.layout, update, this.options.snapshotChunkBytes)),
    );
  }

  compact(snapshot: Snapshot, compactThrough: number): Promise<void> {
    return this.enqueue(() =>
      this.batchOf(
        planCompaction(this.layout, snapshot, compactThrough, this.options.snapshotChunkBytes),
      ),
    );
  }

  releaseVotes(): Promise<void> {
    return this.enqueue(() => {
      this.votesWithheld = false;
      return { ops: [{ op: 'deleteMeta', name: 'repair' }] };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writing; // Writes already issued complete, as on IndexedDB.
    await this.journal?.close().catch(() => undefined);
    this.journal = null;
    await this.unlock();
  }

  info(): FileStorageInfo {
    return {
      kind: 'file',
      directory: this.directory,
      memberId: this.memberId,
      persistence: 'unsupported',
      journalFiles: this.journalFiles.length,
      segments: this.layout.segmentCount,
      firstIndex: this.layout.point.index + 1,
      lastIndex: this.layout.lastIndex,
      snapshotIndex: this.layout.snapshotIndex,
      repair: this.repair,
      votesWithheld: this.votesWithheld,
      failure: this.failure === null ? null : describeError(this.failure),
    };
  }

  /**
   * The journal batch that carries out `changes`; a snapshot's chunks go to a file of their own,
   * durable before the batch that names it, and the file it replaces goes once that batch is.
   */
  private batchOf(changes: readonly StorageChange[]): PlannedWrite {
    const ops: JournalOp[] = [];
    let snapshotFile: Pick<PlannedWrite, 'before' | 'after'> = {};
    const directory = this.directory;
    for (const change of changes) {
      if (change.kind === 'segment') {
        ops.push(journalOp(change.write));
      } else if (change.kind === 'meta') {
        ops.push(metaOp(change.name, change.body));
      } else {
        const { record, chunks, previous } = change;
        ops.push(metaOp('snapshot', encodeSnapshotRecord(record)));
        snapshotFile = {
          before: () =>
            writeFileAtomically(directory, snapshotName(record.index), encodeSealedRecords(chunks)),
          after: async () => {
            if (previous === null || previous.index === record.index) return;
            await unlink(join(directory, snapshotName(previous.index))).catch(() => undefined);
          },
        };
      }
    }
    return { ops, ...snapshotFile };
  }

  /**
   * Plans a write synchronously (so the checks see every earlier write) and queues it; the
   * writer appends what is queued in order, one fsync per group.
   */
  private enqueue(plan: () => PlannedWrite): Promise<void> {
    let planned: PlannedWrite;
    this.opened = null;
    try {
      this.throwIfUnusable();
      planned = plan();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ...planned, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, GROUP_BATCHES_MAX);
      try {
        if (this.failure !== null) throw this.failure;
        await this.append(group);
      } catch (error) {
        const failure = this.fail(fileSystemError(this.directory, error));
        for (const write of group) write.reject(failure);
        continue;
      }
      for (const write of group) write.resolve();
    }
    this.writing = null;
  }

  private async append(group: readonly QueuedWrite[]): Promise<void> {
    if (this.journalBytes >= this.options.journalFileBytesMax) await this.rotate();
    for (const write of group) await write.before?.();
    const file = this.journalFiles.at(-1)!;
    const frames = group
      .filter((write) => write.ops.length > 0)
      .map((write) => encodeBatch(journalName(file), write.ops));
    if (frames.length > 0) {
      const bytes = Buffer.concat(frames);
      await this.journal!.write(bytes);
      await this.journal!.datasync();
      this.journalBytes += bytes.length;
    }
    for (const write of group) for (const op of write.ops) this.mirror.apply(op, file);
    for (const write of group) await write.after?.();
  }

  /**
   * Starts the next journal file with the live meta records, then deletes the oldest files as
   * long as no live segment record is in them: always a prefix, so replaying what is left gives
   * the same records (a delete in a remaining file never needs a record of a deleted one).
   */
  private async rotate(): Promise<void> {
    await this.journal?.close();
    this.journal = null;
    const next = (this.journalFiles.at(-1) ?? 0) + 1;
    this.journalFiles.push(next);
    await this.openJournal();
    const metaOps = [...this.mirror.meta].map(([name, record]): JournalOp => ({
      op: 'putMeta',
      name,
      record,
    }));
    if (metaOps.length > 0) {
      const frame = encodeBatch(journalName(next), metaOps);
      await this.journal!.write(frame);
      await this.journal!.datasync();
      this.journalBytes += frame.length;
    }
    const oldestInUse = this.mirror.oldestFileInUse() ?? next;
    let deleted = 0;
    for (const file of this.journalFiles) {
      if (file >= oldestInUse || file === next) break;
      await unlink(join(this.directory, journalName(file)));
      deleted++;
    }
    this.journalFiles.splice(0, deleted);
    if (deleted > 0) await fsyncDirectory(this.directory);
  }

  /** Opens the last journal file for appending, creating the first one. */
  private async openJournal(): Promise<void> {
    if (this.journalFiles.length === 0) this.journalFiles.push(1);
    const path = join(this.directory, journalName(this.journalFiles.at(-1)!));
    const existed = await stat(path).then(
      () => true,
      () => false,
    );
    this.journal = await open(path, 'a');
    this.journalBytes = (await this.journal.stat()).size;
    if (!existed) await fsyncDirectory(this.directory);
  }

  /**
   * A cut log is marked before anything else is written, so a crash before the member caught up
   * does not forget it; torn segment records recovery found are deleted in the same batch.
   */
  private async recordRepair(disk: DiskState): Promise<void> {
    if (disk.torn === null && disk.tornSegmentKeys.length === 0) return;
    const repair = disk.repair!;
    const ops: JournalOp[] = disk.tornSegmentKeys.map((first) => ({
      op: 'deleteSegmentsFrom',
      first,
    }));
    ops.push(metaOp('repair', encodeRepair(repair)));
    await this.append([{ ops, resolve: () => undefined, reject: () => undefined }]);
  }

  private throwIfUnusable(): void {
    if (this.closed) throw new StorageClosedError();
    if (this.failure !== null) throw this.failure;
  }

  /** From now on every write fails with `error` (the first failure wins). */
  private fail(error: Error): Error {
    this.failure ??= error;
    return this.failure;
  }
}

function metaOp(name: MetaName, body: Uint8Array): JournalOp {
  return { op: 'putMeta', name, record: seal(metaKeyTag(name), body) };
}

function limitsOf(options: Required<FileStorageOptions>): LayoutLimits {
  return {
    mergeBytes: options.segmentMergeBytes,
    runRecordsMax: options.segmentRunRecordsMax,
    segmentBytesMax: options.segmentBytesMax,
  };
}
