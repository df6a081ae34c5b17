/**
 * A storage that can be told to fail, around any other (the storage twin of FaultyTransport):
 * while a fault is set, every write is refused with the error a real browser gives — a full disk
 * (`StorageQuotaError`) or a database taken away (`StorageUnavailableError`) — and nothing
 * reaches the storage underneath. For fault injection in browser tests, the chaos runner and
 * the demo, where filling a real disk is not an option (Chromium's CDP quota override does not
 * hold IndexedDB writes back).
 */
import type { Snapshot } from '../core/types.js';
import { StorageQuotaError, StorageUnavailableError } from './errors.js';
import type { PersistedState, PersistUpdate, Storage, StorageInfo } from './storage.js';

export type StorageFault = 'quota' | 'unavailable';

export class FaultyStorage implements Storage {
  private fault: StorageFault | null = null;

  constructor(
    private readonly inner: Storage,
    /** Named in the errors, as the real storage names its database. */
    private readonly database: string,
  ) {}

  /** Fails every write from now on with `fault`'s error, or (null) lets them through again. */
  setFault(fault: StorageFault | null): void {
    this.fault = fault;
  }

  load(): Promise<PersistedState> {
    return this.inner.load();
  }

  persist(update: PersistUpdate): Promise<void> {
    return this.write(() => this.inner.persist(update));
  }

  compact(snapshot: Snapshot, compactThrough: number): Promise<void> {
    return this.write(() => this.inner.compact(snapshot, compactThrough));
  }

  releaseVotes(): Promise<void> {
    return this.write(() => this.inner.releaseVotes?.() ?? Promise.resolve());
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  info(): StorageInfo {
    return this.inner.info?.() ?? { kind: 'unknown', persistence: 'unsupported', failure: null };
  }

  private write(run: () => Promise<void>): Promise<void> {
    if (this.fault === 'quota') return Promise.reject(new StorageQuotaError(this.database));
    if (this.fault === 'unavailable') {
      return Promise.reject(new StorageUnavailableError(this.database, 'fault injected'));
    }
    return run();
  }
}
