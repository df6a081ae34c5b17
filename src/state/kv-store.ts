/**
 * The versioned, ordered map under the KV state machine: each key holds a frozen entry (value,
 * version, index of its last change) and a sorted key array serves prefix ranges without sorting
 * per query. It knows nothing of commands, sessions or limits.
 */
import { assert } from '../core/errors.js';
import { jsonEquals } from './json.js';
import { SortedKeys } from './sorted-keys.js';
import type { JsonValue, KvChange, KvEntry, KvRangeResult } from './kv-types.js';

export class KvStore {
  private readonly entries = new Map<string, KvEntry>();
  /** The keys of `entries`, in ascending order. */
  private sortedKeys = new SortedKeys();

  /**
   * A store holding `entries` as they are (versions and modIndexes kept), for restoring a snapshot.
   * The entries must be in strictly ascending key order, with versions and modIndexes >= 1.
   */
  static fromEntries(entries: Iterable<KvEntry>): KvStore {
    const store = new KvStore();
    let last: string | undefined;
    for (const entry of entries) {
      assert(last === undefined || last < entry.key, 'restored keys are strictly ascending');
      assert(entry.version >= 1 && entry.modIndex >= 1, 'restored versions and indexes are >= 1');
      store.entries.set(entry.key, Object.isFrozen(entry) ? entry : Object.freeze({ ...entry }));
      last = entry.key;
    }
    store.sortedKeys = SortedKeys.fromSorted(store.entries.keys());
    assert(store.sortedKeys.size === store.entries.size, 'sorted keys mirror the entries');
    return store;
  }

  /** Number of keys stored. */
  get size(): number {
    return this.entries.size;
  }

  /** The entry of `key`, or null if absent. The entry is frozen and shared; do not copy it to mutate. */
  get(key: string): KvEntry | null {
    return this.entries.get(key) ?? null;
  }

  /** Sets `key` (version + 1, or 1 if new) at log index `index`; returns the new entry. */
  set(key: string, value: JsonValue, index: number): KvEntry {
    const previous = this.entries.get(key);
    assert(previous === undefined || previous.modIndex <= index, 'a key changes in log order');
    const entry: KvEntry = Object.freeze({
      key,
      value,
      version: (previous?.version ?? 0) + 1,
      modIndex: index,
    });
    this.entries.set(key, entry);
    if (previous === undefined) this.sortedKeys.insert(key);
    assert(this.sortedKeys.size === this.entries.size, 'sorted keys mirror the entries');
    return entry;
  }

  /** Removes `key`; returns the version it had (0 if it was absent). */
  remove(key: string): number {
    const previous = this.entries.get(key);
    if (previous === undefined) return 0;
    this.entries.delete(key);
    assert(this.sortedKeys.remove(key), 'a stored key is in the sorted keys');
    assert(this.sortedKeys.size === this.entries.size, 'sorted keys mirror the entries');
    return previous.version;
  }

  /** Up to `limit` entries in key order whose key starts with `prefix` and is above `after`. */
  range(prefix: string, after: string | undefined, limit: number): KvRangeResult {
    assert(Number.isInteger(limit) && limit >= 0, 'range limit is a non-negative integer');
    const start = after !== undefined && after >= prefix ? after : prefix;
    const entries: KvEntry[] = [];
    for (const key of this.sortedKeys.from(start, start === after)) {
      if (!key.startsWith(prefix)) return { entries, more: false };
      if (entries.length === limit) return { entries, more: true };
      entries.push(this.entries.get(key) as KvEntry);
    }
    return { entries, more: false };
  }

  /** Every entry in key order (for digests and snapshots). */
  *inKeyOrder(): IterableIterator<KvEntry> {
    for (const key of this.sortedKeys) yield this.entries.get(key) as KvEntry;
  }
}

/**
 * The changes that turn `before` into `after`, in key order: a key that is new or whose entry
 * differs reports its entry in `after` (`index` = its modIndex); a key that is gone reports a
 * deletion (`value: null`, `version: 0`) at `deletedAt`. Equal stores give no changes.
 */
export function diffStores(before: KvStore, after: KvStore, deletedAt: number): KvChange[] {
  const changes: KvChange[] = [];
  for (const entry of after.inKeyOrder()) {
    const old = before.get(entry.key);
    const same =
      old !== null &&
      old.version === entry.version &&
      old.modIndex === entry.modIndex &&
      jsonEquals(old.value, entry.value);
    if (same) continue;
    const { key, value, version, modIndex } = entry;
    changes.push(Object.freeze({ key, value, version, index: modIndex }));
  }
  for (const entry of before.inKeyOrder()) {
    if (after.get(entry.key) !== null) continue;
    changes.push(Object.freeze({ key: entry.key, value: null, version: 0, index: deletedAt }));
  }
  return changes.sort((a, b) => (a.key < b.key ? -1 : 1));
}
