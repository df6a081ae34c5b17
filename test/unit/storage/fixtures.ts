/**
 * Builders and views shared by the storage conformance suite: entries and snapshots whose bytes
 * name their index and term (so mix-ups show in failures), and plain views for comparisons.
 */
import type { ClusterConfig, Entry, Snapshot } from '../../../src/core/types.js';
import type { PersistedState, Storage } from '../../../src/storage/storage.js';

/** A fresh, empty storage, and a way to open a new Storage over the same durable data. */
export interface StorageUnderTest {
  readonly storage: Storage;
  /** Opens a new Storage over the same durable data (the old one is closed first by the suite). */
  readonly reopen: () => Promise<Storage>;
}

/** Builds an entry whose data names its index and term, so mix-ups show in failures. */
export function entry(index: number, term: number, kind: Entry['kind'] = 'normal'): Entry {
  const data = kind === 'noop' ? new Uint8Array(0) : new TextEncoder().encode(`e${index}t${term}`);
  return { index, term, kind, data };
}

/** Consecutive entries from `first` to `last` inclusive, all of `term`. */
export function entries(first: number, last: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = first; index <= last; index++) out.push(entry(index, term));
  return out;
}

const CONFIG: ClusterConfig = { voters: ['m1', 'm2', 'm3'], learners: ['m4'] };

/** Builds a snapshot at `index` whose data names its index and term. */
export function snapshot(index: number, term: number, config: ClusterConfig = CONFIG): Snapshot {
  return { meta: { index, term, config }, data: new TextEncoder().encode(`s${index}t${term}`) };
}

/** Entries as plain data, bytes included, for deep comparison. */
export const plain = (list: readonly Entry[]): unknown[] =>
  list.map((e) => ({ index: e.index, term: e.term, kind: e.kind, data: Array.from(e.data) }));

/** A snapshot as plain data, bytes included, for deep comparison. */
export const plainSnapshot = (value: Snapshot | null): unknown =>
  value === null ? null : { meta: value.meta, data: Array.from(value.data) };

/** What a load found, as `{ snapshot: [index, term] | null, entries: [[index, term], ...] }`. */
export function summary(loaded: PersistedState): {
  snapshot: [number, number] | null;
  entries: [number, number][];
} {
  const meta = loaded.snapshot?.meta ?? null;
  return {
    snapshot: meta === null ? null : [meta.index, meta.term],
    entries: loaded.entries.map((e) => [e.index, e.term]),
  };
}
