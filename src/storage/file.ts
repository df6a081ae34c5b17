/**
 * Storage in files, for a member that runs in Node (a server-side replica, a CLI, CI): one data
 * directory per member. Node only (node:fs/promises); the browser bundle never imports it.
 *
 * It keeps the records the IndexedDB storage keeps (records.ts), planned by the same segment
 * layout and verified by the same recovery (recovery.ts), in a journal (file-journal.ts): every
 * `persist` or `compact` is one checksummed batch appended to `journal-<n>.wal`, and resolves
 * only after fdatasync (file-writer.ts, which also group-commits and rotates journal files). Hard
 * state travels in the batch of the entries it came with, so "entries, then hard state" is
 * atomic without a second file and a second fsync per write.
 *
 * Files written whole — the identity and each snapshot (`snapshot-<index>.snap`, sealed chunks)
 * — are replaced atomically: temporary file, fsync, rename, fsync of the directory. A snapshot
 * file is durable before the batch that names it.
 *
 * Recovery (file-recovery.ts): a bad batch at the end of the last journal file is a torn tail,
 * cut, and the member withholds its vote until it caught up (PersistedState.votesWithheld), as
 * with the other storages; damage anywhere else is a StorageCorruptError. A LOCK file keeps a
 * second process out (StorageLockedError); a full disk is a StorageQuotaError; any other failed
 * write stops the storage with StorageUnavailableError, and nothing acknowledged is lost.
 */
import { mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../core/errors.js';
import type { MemberId, Snapshot } from '../core/types.js';
import { StorageClosedError } from './checks.js';
import { StorageCorruptError, StorageLostError, StorageUnavailableError } from './errors.js';
import { decodeSealedRecords, encodeSealedRecords, journalOp } from './file-journal.js';
import type { JournalOp } from './file-journal.js';
import { errorCode, fileSystemError, lockDirectory, writeFileAtomically } from './file-system.js';
import {
  encodeRepair,
  encodeSnapshotRecord,
  metaKeyTag,
  seal,
  sealIdentity,
  unsealIdentity,
} from './records.js';
import type { MetaName } from './records.js';
import { JOURNAL_PATTERN, readDisk, snapshotName } from './file-recovery.js';
import { JournalWriter } from './file-writer.js';
import type { JournalWrite } from './file-writer.js';
import type { DiskState } from './file-recovery.js';
import type { RecoveryReport } from './recovery.js';
import { definedOnly } from './options.js';
import { planCompaction, planPersist } from './plan.js';
import type { StorageChange } from './plan.js';
import { layoutLimitsOf } from './segment-layout.js';
import type { SegmentLayout } from './segment-layout.js';
import type {
  PersistedState,
  PersistUpdate,
  SegmentedLogInfo,
  Storage,
  StorageInfo,
} from './storage.js';

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
export interface FileStorageInfo extends StorageInfo, SegmentedLogInfo {
  readonly kind: 'file';
  readonly directory: string;
  readonly memberId: MemberId;
  readonly journalFiles: number;
}

const DEFAULTS: Required<FileStorageOptions> = {
  segmentMergeBytes: 8 * 1024,
  segmentRunRecordsMax: 32,
  segmentBytesMax: 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
  journalFileBytesMax: 16 * 1024 * 1024,
};

const IDENTITY_FILE = 'identity';

export class FileStorage implements Storage {
  private layout: SegmentLayout;
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
    private readonly writer: JournalWriter,
    disk: DiskState,
  ) {
    this.layout = disk.layout;
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
    const identity = unsealIdentity(raw);
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
      const record = sealIdentity(memberId);
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
      const disk = await readDisk(directory, layoutLimitsOf(options));
      const { mirror, journalFiles } = disk;
      const writer = await JournalWriter.open(
        directory,
        mirror,
        journalFiles,
        options.journalFileBytesMax,
      );
      const storage = new FileStorage(directory, memberId, options, unlock, writer, disk);
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
    await this.writer.idle();
    const disk = await readDisk(this.directory, layoutLimitsOf(this.options));
    this.layout = disk.layout;
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
    await this.writer.close(); // Writes already issued complete, as on IndexedDB.
    await this.unlock();
  }

  info(): FileStorageInfo {
    return {
      kind: 'file',
      directory: this.directory,
      memberId: this.memberId,
      persistence: 'unsupported',
      journalFiles: this.writer.fileCount,
      ...this.layout.figures(),
      repair: this.repair,
      votesWithheld: this.votesWithheld,
      failure: this.writer.failure === null ? null : describeError(this.writer.failure),
    };
  }

  /**
   * The journal batch that carries out `changes`; a snapshot's chunks go to a file of their own,
   * durable before the batch that names it, and the file it replaces goes once that batch is.
   */
  private batchOf(changes: readonly StorageChange[]): JournalWrite {
    const ops: JournalOp[] = [];
    let snapshotFile: Pick<JournalWrite, 'before' | 'after'> = {};
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
    await this.writer.write({ ops });
  }

  /**
   * Plans a write synchronously (so the checks see every earlier write) and hands it to the
   * writer, which appends in planning order.
   */
  private enqueue(plan: () => JournalWrite): Promise<void> {
    this.opened = null;
    try {
      this.throwIfUnusable();
      return this.writer.write(plan());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private throwIfUnusable(): void {
    if (this.closed) throw new StorageClosedError();
    if (this.writer.failure !== null) throw this.writer.failure;
  }
}

function metaOp(name: MetaName, body: Uint8Array): JournalOp {
  return { op: 'putMeta', name, record: seal(metaKeyTag(name), body) };
}
