/**
 * What the storages that carry out every write as one transaction of their medium share —
 * IndexedDB (indexeddb.ts) and a Durable Object's storage (durable-object.ts): a segment layout
 * kept in step with what was written, each write planned synchronously on it (plan.ts, so the
 * write rules see every earlier write) and committed after the ones before it, the state read at
 * open handed to the first `load`, and a failed write stopping the storage as a whole — that
 * write and every later one reject with the same typed error, since a write landing after a
 * failed one would leave a hole, and a member that cannot persist must not acknowledge.
 * (The file storage appends to a journal with group commit instead: file-writer.ts.)
 */
import { describeError } from '../core/errors.js';
import type { Snapshot } from '../core/types.js';
import { StorageClosedError } from './checks.js';
import { planCompaction, planPersist } from './plan.js';
import type { StorageChange } from './plan.js';
import type { RecoveryReport } from './recovery.js';
import { SegmentLayout } from './segment-layout.js';
import type { LayoutLimits } from './segment-layout.js';
import type {
  PersistedState,
  PersistUpdate,
  SegmentedLogInfo,
  Storage,
  StorageInfo,
} from './storage.js';

/** What every transactional storage's `info()` shows of its log and its health. */
type TransactionalStorageFigures = SegmentedLogInfo & Pick<StorageInfo, 'failure'>;

/** `Write`: one transaction's worth of the medium's puts and deletes. */
export abstract class TransactionalStorage<Write> implements Storage {
  protected layout: SegmentLayout;
  protected repair: RecoveryReport | null = null;
  protected votesWithheld = false;
  /** What open read, handed to the first `load` if nothing was written in between. */
  protected opened: PersistedState | null = null;
  /** The last write issued; the next one starts when it is done. */
  private queue: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;

  protected constructor(
    protected readonly layoutLimits: LayoutLimits,
    private readonly snapshotChunkBytes: number,
  ) {
    this.layout = new SegmentLayout(layoutLimits);
  }

  /** Reads and verifies the medium, deletes a torn tail, and rebuilds `layout` from it. */
  protected abstract loadLayout(): Promise<PersistedState>;
  /** The medium's write that carries out `changes`. */
  protected abstract writeOf(changes: readonly StorageChange[]): Write;
  /** The medium's write that deletes the mark a repair left (see `releaseVotes`). */
  protected abstract releaseWrite(): Write;
  /** Carries out `write` in one transaction; rejects with `this.fail(typed error)` if it failed. */
  protected abstract commit(write: Write): Promise<void>;
  /** Lets go of the medium (writes already issued still complete). */
  protected abstract closeMedium(): void;

  async load(): Promise<PersistedState> {
    this.throwIfUnusable();
    const opened = this.opened;
    this.opened = null;
    if (opened !== null) return opened; // Read at open and nothing written since: no second read.
    await this.queue;
    return this.loadLayout();
  }

  persist(update: PersistUpdate): Promise<void> {
    return this.enqueue(() =>
      this.writeOf(planPersist(this.layout, update, this.snapshotChunkBytes)),
    );
  }

  compact(snapshot: Snapshot, compactThrough: number): Promise<void> {
    return this.enqueue(() =>
      this.writeOf(planCompaction(this.layout, snapshot, compactThrough, this.snapshotChunkBytes)),
    );
  }

  releaseVotes(): Promise<void> {
    return this.enqueue(() => {
      this.votesWithheld = false;
      return this.releaseWrite();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeMedium();
  }

  /** The log and health figures of `info()`. */
  protected figures(): TransactionalStorageFigures {
    return {
      ...this.layout.figures(),
      repair: this.repair,
      votesWithheld: this.votesWithheld,
      failure: this.failure === null ? null : describeError(this.failure),
    };
  }

  /** Plans a write synchronously and commits it after the ones before it. */
  private enqueue(plan: () => Write): Promise<void> {
    let write: Write;
    this.opened = null;
    try {
      this.throwIfUnusable();
      write = plan();
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.queue.then(() => this.commit(write));
    this.queue = run.catch(() => undefined);
    return run;
  }

  protected throwIfUnusable(): void {
    if (this.closed) throw new StorageClosedError();
    if (this.failure !== null) throw this.failure;
  }

  failed(): Error | null {
    return this.failure;
  }

  /** From now on every write fails with `error` (the first failure wins). */
  protected fail(error: Error): Error {
    this.failure ??= error;
    return this.failure;
  }
}
