/**
 * The IndexedDB storage under the simulator (issue 5): every write that becomes durable on a
 * member's simulated disk is also made on a real IndexedDbStorage over fake-indexeddb, and every
 * restart loads through IndexedDB's recovery, which must find exactly what the simulated disk
 * holds. The simulated disk still decides what a crash keeps (lost, torn, survived writes); the
 * mirror checks that the IndexedDB layout stores and recovers every such history.
 *
 * fake-indexeddb settles its requests with setImmediate, outside virtual time, so the simulation
 * waits for every mirror to be idle after each event: runs stay deterministic.
 */
import 'fake-indexeddb/auto';
import type { PersistedState } from '../../src/storage/storage.js';
import { IndexedDbStorage } from '../../src/storage/indexeddb.js';
import type { DiskWrite } from './storage.js';

/** Tiny segments and chunks, so merges, folds, splits and chunked snapshots happen often. */
const OPTIONS = {
  namespace: 'sim',
  requestPersistence: false,
  segmentMergeBytes: 512,
  segmentRunRecordsMax: 4,
  segmentBytesMax: 2048,
  snapshotChunkBytes: 1024,
};

export class IdbMirror {
  private storage: Promise<IndexedDbStorage>;
  private chain: Promise<void>;
  private pending = 0;
  /** The first thing IndexedDB refused or got wrong, or null; reported once. */
  failure: string | null = null;
  reported = false;
  /** Writes made and recoveries checked, for the run's counters. */
  writes = 0;
  recoveries = 0;

  constructor(readonly memberId: string) {
    this.storage = IndexedDbStorage.create(memberId, OPTIONS);
    this.chain = this.storage.then(
      () => undefined,
      (error: unknown) => this.fail('create', error),
    );
  }

  get busy(): boolean {
    return this.pending > 0;
  }

  /** Resolves once every write and load started so far is done. */
  whenIdle(): Promise<void> {
    return this.chain;
  }

  /** Makes `write` on IndexedDB too, after the ones before it. */
  apply(write: DiskWrite): void {
    void this.track('write', async () => {
      const storage = await this.storage;
      this.writes++;
      if (write.kind === 'persist') await storage.persist(write.update);
      else await storage.compact(write.snapshot, write.compactThrough);
    });
  }

  /** Closes and reopens the database (a restarted tab) and loads what recovery finds. */
  reopenAndLoad(): Promise<PersistedState | null> {
    return this.track('load', async () => {
      const old = await this.storage;
      await old.close();
      this.storage = IndexedDbStorage.open(this.memberId, OPTIONS);
      this.recoveries++;
      return (await this.storage).load();
    });
  }

  /** Deletes the database (the end of a seed). */
  async destroy(): Promise<void> {
    await this.chain;
    await (await this.storage.catch(() => null))?.close();
    await IndexedDbStorage.destroy(this.memberId, OPTIONS.namespace);
  }

  private track<T>(what: string, work: () => Promise<T>): Promise<T | null> {
    this.pending++;
    const run = this.chain.then(work).then(
      (value) => value,
      (error: unknown) => {
        this.fail(what, error);
        return null;
      },
    );
    this.chain = run.then(() => {
      this.pending--;
    });
    return run;
  }

  private fail(what: string, error: unknown): void {
    this.failure ??= `IndexedDB ${what} failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Whether two loads found the same hard state, snapshot and entries, bytes included. */
export function samePersistedState(a: PersistedState, b: PersistedState): boolean {
  const view = (state: PersistedState): string =>
    JSON.stringify({
      hardState: state.hardState,
      snapshot:
        state.snapshot === null
          ? null
          : { meta: state.snapshot.meta, data: Array.from(state.snapshot.data) },
      entries: state.entries.map((e) => [e.index, e.term, e.kind, Array.from(e.data)]),
    });
  return view(a) === view(b);
}
