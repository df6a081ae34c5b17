/**
 * The appending half of the file storage (file.ts): writes go to the last journal file in the
 * order they were planned, every batch waiting at one moment in one write and one fdatasync
 * (group commit), and a write resolves only once its batch is durable. If one fails, the writer
 * fails as a whole — that write and every later one reject with the same typed error — since a
 * batch landing after a lost one would leave a hole, and a member that cannot persist must not
 * acknowledge.
 *
 * A journal file past its size limit is closed and the next one starts with a copy of the meta
 * records; then the oldest files go as long as no live segment record is in them.
 */
import { open, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeBatch } from './file-journal.js';
import type { JournalMirror, JournalOp } from './file-journal.js';
import { journalName } from './file-recovery.js';
import { fileSystemError, fsyncDirectory } from './file-system.js';

/** One batch to append, with what must happen around it. */
export interface JournalWrite {
  readonly ops: readonly JournalOp[];
  /** Runs before the batch is appended (a snapshot file that must be durable first). */
  readonly before?: () => Promise<void>;
  /** Runs once the batch is durable (deleting the snapshot file it replaced). */
  readonly after?: () => Promise<void>;
}

interface QueuedWrite extends JournalWrite {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Batches appended with one fsync at most; the rest wait for the next. */
const GROUP_BATCHES_MAX = 256;

export class JournalWriter {
  private journal: FileHandle | null = null;
  private journalBytes = 0;
  private readonly queue: QueuedWrite[] = [];
  private writing: Promise<void> | null = null;
  private failed: Error | null = null;

  private constructor(
    private readonly directory: string,
    /** What the journal holds, kept up to date as batches become durable. */
    private readonly mirror: JournalMirror,
    /** The journal files, oldest first; the last is appended to. */
    private readonly files: number[],
    private readonly fileBytesMax: number,
  ) {}

  /** Opens the last of `files` for appending (creating the first journal file if none). */
  static async open(
    directory: string,
    mirror: JournalMirror,
    files: readonly number[],
    fileBytesMax: number,
  ): Promise<JournalWriter> {
    const writer = new JournalWriter(directory, mirror, [...files], fileBytesMax);
    await writer.openLast();
    return writer;
  }

  get fileCount(): number {
    return this.files.length;
  }

  /** Why writes fail, once one has. */
  get failure(): Error | null {
    return this.failed;
  }

  /** Appends `write` after every write before it; resolves once it is durable. */
  write(write: JournalWrite): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ...write, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  /** Waits for the writes issued so far, then closes the journal file. */
  async close(): Promise<void> {
    await this.writing;
    await this.journal?.close().catch(() => undefined);
    this.journal = null;
  }

  /** Resolves once every write issued so far is done (durable or failed). */
  async idle(): Promise<void> {
    await this.writing;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, GROUP_BATCHES_MAX);
      try {
        if (this.failed !== null) throw this.failed;
        await this.append(group);
      } catch (error) {
        this.failed ??= fileSystemError(this.directory, error);
        for (const write of group) write.reject(this.failed);
        continue;
      }
      for (const write of group) write.resolve();
    }
    this.writing = null;
  }

  private async append(group: readonly QueuedWrite[]): Promise<void> {
    if (this.journalBytes >= this.fileBytesMax) await this.rotate();
    for (const write of group) await write.before?.();
    const file = this.files.at(-1)!;
    const frames = group
      .filter((write) => write.ops.length > 0)
      .map((write) => encodeBatch(journalName(file), write.ops));
    if (frames.length > 0) await this.appendDurably(Buffer.concat(frames));
    for (const write of group) for (const op of write.ops) this.mirror.apply(op, file);
    for (const write of group) await write.after?.();
  }

  private async appendDurably(bytes: Uint8Array): Promise<void> {
    await this.journal!.write(bytes);
    await this.journal!.datasync();
    this.journalBytes += bytes.length;
  }

  /**
   * Starts the next journal file with the live meta records, then deletes the oldest files as
   * long as no live segment record is in them: always a prefix, so replaying what is left gives
   * the same records (a delete in a remaining file never needs a record of a deleted one).
   */
  private async rotate(): Promise<void> {
    await this.journal?.close();
    this.journal = null;
    const next = (this.files.at(-1) ?? 0) + 1;
    this.files.push(next);
    await this.openLast();
    const metaOps = [...this.mirror.meta].map(([name, record]): JournalOp => ({
      op: 'putMeta',
      name,
      record,
    }));
    if (metaOps.length > 0) await this.appendDurably(encodeBatch(journalName(next), metaOps));
    const oldestInUse = this.mirror.oldestFileInUse() ?? next;
    let deleted = 0;
    for (const file of this.files) {
      if (file >= oldestInUse || file === next) break;
      await unlink(join(this.directory, journalName(file)));
      deleted++;
    }
    this.files.splice(0, deleted);
    if (deleted > 0) await fsyncDirectory(this.directory);
  }

  /** Opens the last journal file for appending, creating the first one. */
  private async openLast(): Promise<void> {
    if (this.files.length === 0) this.files.push(1);
    const path = join(this.directory, journalName(this.files.at(-1)!));
    const existed = await stat(path).then(
      () => true,
      () => false,
    );
    this.journal = await open(path, 'a');
    this.journalBytes = (await this.journal.stat()).size;
    if (!existed) await fsyncDirectory(this.directory);
  }
}
