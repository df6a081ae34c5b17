/**
 * The member's log as the core sees it: the latest snapshot's position and every entry after the
 * compaction point, held in memory (storage is asynchronous and the core never awaits). Four marks
 * only move forward except where Raft allows: `stable` (durable), `committed`, `applying` (handed
 * to the driver to apply) and the snapshot. A follower's conflicting suffix may be replaced;
 * nothing at or below `committed` ever is. The configuration in force is the newest one in the
 * log, committed or not (Raft thesis §4.1), so the log also keeps the history of configurations.
 */
import { assert } from './errors.js';
import { decodeConfig } from './membership.js';
import type { ClusterConfig, Entry, SnapshotMeta } from './types.js';
import { EMPTY_CONFIG } from './types.js';

interface ConfigAt {
  readonly index: number;
  readonly config: ClusterConfig;
}

const EMPTY_SNAPSHOT: SnapshotMeta = Object.freeze({ index: 0, term: 0, config: EMPTY_CONFIG });

export class RaftLog {
  /** entries[i] has index offset + i + 1. */
  private entries: Entry[] = [];
  /** Index of the last entry compacted away (or 0). At or below the snapshot index. */
  private offset: number;
  private snapshotMeta: SnapshotMeta;
  /** The snapshot's configuration, then every config entry after the snapshot, in log order. */
  private configs: ConfigAt[];
  /** Highest index known durable in storage. */
  private stableIndex: number;
  /** Highest index handed to the driver for persisting (durable or in flight). */
  private persistingIndex: number;
  private committedIndex: number;
  /** Highest index handed to the driver for applying. */
  private applyingIndex: number;
  /** Bytes of entry data after the snapshot, to decide when to compact. */
  private bytesSinceSnapshot = 0;

  constructor(snapshot: SnapshotMeta | null, persisted: readonly Entry[], committed: number) {
    this.snapshotMeta = snapshot ?? EMPTY_SNAPSHOT;
    this.offset = persisted.length > 0 ? (persisted[0]?.index ?? 1) - 1 : this.snapshotMeta.index;
    assert(this.offset <= this.snapshotMeta.index, 'persisted log starts after the snapshot');
    this.configs = [{ index: this.snapshotMeta.index, config: this.snapshotMeta.config }];
    for (const entry of persisted) this.push(entry);
    assert(this.lastIndex() >= this.snapshotMeta.index, 'persisted log ends before the snapshot');
    const atSnapshot = this.entry(this.snapshotMeta.index);
    assert(
      atSnapshot === undefined || atSnapshot.term === this.snapshotMeta.term,
      'persisted log disagrees with the snapshot',
    );
    this.stableIndex = this.lastIndex();
    this.persistingIndex = this.lastIndex();
    this.applyingIndex = this.snapshotMeta.index;
    // A torn write may keep the hard state's commit but lose entries it covered; those entries
    // are on a quorum, so committing only what we hold is safe (TESTING.md 17).
    this.committedIndex = Math.max(this.snapshotMeta.index, Math.min(committed, this.lastIndex()));
  }

  get committed(): number {
    return this.committedIndex;
  }

  get applying(): number {
    return this.applyingIndex;
  }

  get stable(): number {
    return this.stableIndex;
  }

  /** The highest index handed to the driver to persist (durable or on its way). */
  get persisting(): number {
    return this.persistingIndex;
  }

  get snapshot(): SnapshotMeta {
    return this.snapshotMeta;
  }

  /** The first index whose entry is still held. */
  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at `index`; 0 for index 0; undefined where compacted away or past the end. */
  term(index: number): number | undefined {
    if (index === this.snapshotMeta.index) return this.snapshotMeta.term;
    if (index === 0) return 0;
    if (index <= this.offset) return undefined;
    return this.entries[index - this.offset - 1]?.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offset) return undefined;
    return this.entries[index - this.offset - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** The configuration in force: the newest in the log, committed or not. */
  config(): ClusterConfig {
    return this.latestConfig().config;
  }

  /** Index of the entry that set the configuration in force (the snapshot index if none since). */
  configIndex(): number {
    return this.latestConfig().index;
  }

  /** The configuration in force at `index` (for a snapshot taken there). */
  configAt(index: number): ClusterConfig {
    let found = this.configs[0];
    for (const at of this.configs) if (at.index <= index) found = at;
    assert(found !== undefined && found.index <= index, () => `no configuration known at ${index}`);
    return found.config;
  }

  private latestConfig(): ConfigAt {
    const latest = this.configs[this.configs.length - 1];
    assert(latest !== undefined, 'configuration history is empty');
    return latest;
  }

  private push(entry: Entry): void {
    assert(
      entry.index === this.lastIndex() + 1,
      () => `entry ${entry.index} does not extend log ending at ${this.lastIndex()}`,
    );
    assert(
      entry.term >= this.lastTerm() || entry.index <= this.snapshotMeta.index,
      'entry terms decrease',
    );
    this.entries.push(entry);
    if (entry.index <= this.snapshotMeta.index) return;
    this.bytesSinceSnapshot += entry.data.length;
    if (entry.kind !== 'config') return;
    const config = decodeConfig(entry.data);
    assert(config !== null, () => `config entry ${entry.index} does not decode`);
    this.configs.push({ index: entry.index, config });
  }

  /** The leader appends its own new entries; a leader's log only ever grows. */
  appendAsLeader(entry: Entry): void {
    assert(entry.term >= this.lastTerm(), 'leader append must not lower the term');
    this.push(entry);
  }

  /**
   * A follower appends what the leader sent after (prevIndex, prevTerm). Returns the last index the
   * request covered, or null when prevIndex does not match. Entries already present with the same
   * term are kept (a late, duplicate append must not truncate anything: TESTING.md 24).
   */
  appendFromLeader(prevIndex: number, prevTerm: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = entries.find(
      (entry) => entry.index > this.offset && this.term(entry.index) !== entry.term,
    );
    if (conflict === undefined) return lastNew;
    assert(
      conflict.index > this.committedIndex,
      () =>
        `conflict at ${conflict.index} would replace committed entry (commit ${this.committedIndex})`,
    );
    this.truncateFrom(conflict.index);
    for (const entry of entries) {
      if (entry.index >= conflict.index) this.push(entry);
    }
    assert(this.lastIndex() === lastNew, 'follower append left a hole');
    return lastNew;
  }

  private truncateFrom(index: number): void {
    assert(index > this.snapshotMeta.index && index > this.offset, 'truncation below the snapshot');
    for (const entry of this.entries.slice(index - this.offset - 1))
      this.bytesSinceSnapshot -= entry.data.length;
    this.entries.length = index - this.offset - 1;
    this.configs = this.configs.filter((at) => at.index < index);
    this.stableIndex = Math.min(this.stableIndex, index - 1);
    this.persistingIndex = Math.min(this.persistingIndex, index - 1);
  }

  /**
   * Fast backtracking (etcd's findConflictByTerm): the largest index at or below `index` whose
   * term is at most `term`; everything above it cannot match a log whose entry there has `term`.
   * Where the log is compacted, answers the compaction point (conservative: it is committed).
   */
  lastIndexWithTermAtMost(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.offset && (this.term(i) ?? 0) > term) i--;
    return Math.max(i, this.offset);
  }

  commitTo(index: number): boolean {
    if (index <= this.committedIndex) return false;
    assert(index <= this.lastIndex(), () => `commit ${index} past last index ${this.lastIndex()}`);
    this.committedIndex = index;
    return true;
  }

  /** Entries [from, to] (inclusive), at most `countMax` of them and about `bytesMax` bytes (at least one). */
  slice(from: number, to: number, countMax: number, bytesMax: number): Entry[] {
    assert(from > this.offset, () => `slice from ${from} is compacted (offset ${this.offset})`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = from; i <= to && out.length < countMax; i++) {
      const entry = this.entry(i);
      assert(entry !== undefined, () => `slice past the log at ${i}`);
      bytes += entry.data.length + 24;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(entry);
    }
    return out;
  }

  hasUnpersisted(): boolean {
    return this.persistingIndex < this.lastIndex();
  }

  /** Hands out the entries not yet given to the driver for persisting. */
  takeUnpersisted(): Entry[] {
    const out = this.entries.slice(this.persistingIndex - this.offset);
    this.persistingIndex = this.lastIndex();
    return out;
  }

  /**
   * The driver made `persisted` durable. Entries since replaced by a newer leader's are not ours
   * any more; the highest persisted entry still in the log marks the stable prefix.
   */
  markStable(persisted: readonly Entry[]): void {
    for (let i = persisted.length - 1; i >= 0; i--) {
      const entry = persisted[i];
      if (entry !== undefined && this.matchTerm(entry.index, entry.term)) {
        this.stableIndex = Math.max(this.stableIndex, entry.index);
        return;
      }
    }
  }

  hasUnapplied(): boolean {
    return this.applyingIndex < this.committedIndex;
  }

  /**
   * Hands out committed entries not yet given to the driver for applying, at most `countMax`,
   * none past `indexMax`.
   */
  takeUnapplied(countMax: number, indexMax = Infinity): Entry[] {
    const to = Math.max(
      this.applyingIndex,
      Math.min(this.committedIndex, this.applyingIndex + countMax, indexMax),
    );
    const out = this.entries.slice(this.applyingIndex - this.offset, to - this.offset);
    this.applyingIndex = to;
    assert(this.applyingIndex <= this.committedIndex, 'applying past commit');
    return out;
  }

  /** Entries applied since the snapshot, and their bytes: what compaction would free. */
  sinceSnapshot(): { entries: number; bytes: number } {
    return {
      entries: this.applyingIndex - this.snapshotMeta.index,
      bytes: this.bytesSinceSnapshot,
    };
  }

  /**
   * A snapshot of the applied state at `meta.index` is durable: drop entries at or below
   * `compactThrough` (a tail below the snapshot may stay for slow followers).
   */
  compact(meta: SnapshotMeta, compactThrough: number): void {
    assert(meta.index <= this.applyingIndex, 'snapshot of entries not yet applied');
    assert(compactThrough <= meta.index, 'compaction past the snapshot');
    assert(this.term(meta.index) === meta.term, 'snapshot term disagrees with the log');
    if (meta.index <= this.snapshotMeta.index) return;
    for (const entry of this.entries) {
      if (entry.index > this.snapshotMeta.index && entry.index <= meta.index)
        this.bytesSinceSnapshot -= entry.data.length;
    }
    this.snapshotMeta = meta;
    this.configs = [
      { index: meta.index, config: meta.config },
      ...this.configs.filter((at) => at.index > meta.index),
    ];
    const drop = Math.max(0, compactThrough - this.offset);
    this.entries = this.entries.slice(drop);
    this.offset += drop;
  }

  /**
   * Installs a snapshot from the leader (Raft figure 13): keep the entries after it when our log
   * has its last entry, else start over empty after it. Everything kept is rewritten to storage
   * with the snapshot, so storage never has to decide what to keep.
   */
  restore(meta: SnapshotMeta): void {
    assert(meta.index > this.committedIndex, 'restoring a snapshot we already have committed');
    const keep = this.matchTerm(meta.index, meta.term)
      ? this.entries.slice(meta.index - this.offset)
      : [];
    // Until the install is durable only what was durable and committed before is trusted: a torn
    // install may leave the old log on disk, so the persisted commit must not cover the snapshot.
    const durableBefore = Math.min(this.stableIndex, this.committedIndex);
    this.entries = [];
    this.offset = meta.index;
    this.snapshotMeta = meta;
    this.configs = [{ index: meta.index, config: meta.config }];
    this.bytesSinceSnapshot = 0;
    for (const entry of keep) this.push(entry);
    this.committedIndex = meta.index;
    this.applyingIndex = meta.index;
    this.stableIndex = durableBefore;
    this.persistingIndex = meta.index;
  }

  /** The driver made the installed snapshot durable: everything up to it is stable. */
  markSnapshotStable(meta: SnapshotMeta): void {
    if (this.snapshotMeta.index === meta.index && this.snapshotMeta.term === meta.term) {
      this.stableIndex = Math.max(this.stableIndex, meta.index);
    }
  }

  /** A read-only view of the held entries (from `firstIndex()`); do not hold it across steps. */
  view(): readonly Entry[] {
    return this.entries;
  }
}
