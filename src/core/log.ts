/**
 * The member's log as the core sees it: every entry since the start, held in memory (storage is
 * asynchronous and the core never awaits), with three marks that only move forward except where
 * Raft allows: `stable` (durable), `committed` and `applying` (handed to the driver to apply).
 * A follower's conflicting suffix may be replaced; nothing at or below `committed` ever is.
 */
import { assert } from './errors.js';
import type { Entry } from './types.js';

export class RaftLog {
  /** entries[i] has index i + 1 (compaction arrives with snapshots). */
  private readonly entries: Entry[] = [];
  /** Highest index known durable in storage. */
  private stableIndex: number;
  /** Highest index handed to the driver for persisting (durable or in flight). */
  private persistingIndex: number;
  private committedIndex: number;
  /** Highest index handed to the driver for applying. */
  private applyingIndex = 0;

  constructor(persisted: readonly Entry[], committed: number) {
    persisted.forEach((entry, i) => {
      assert(entry.index === i + 1, () => `persisted entry ${i} has index ${entry.index}`);
      assert(i === 0 || entry.term >= (persisted[i - 1]?.term ?? 0), 'persisted terms decrease');
      this.entries.push(entry);
    });
    this.stableIndex = this.entries.length;
    this.persistingIndex = this.entries.length;
    // A torn write may keep the hard state's commit but lose entries it covered; those entries
    // are on a quorum, so committing only what we hold is safe (TESTING.md 17).
    this.committedIndex = Math.min(committed, this.entries.length);
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

  lastIndex(): number {
    return this.entries.length;
  }

  lastTerm(): number {
    return this.entries[this.entries.length - 1]?.term ?? 0;
  }

  /** Term of the entry at `index`; 0 for index 0; undefined past the end. */
  term(index: number): number | undefined {
    if (index === 0) return 0;
    return this.entries[index - 1]?.term;
  }

  entry(index: number): Entry | undefined {
    return this.entries[index - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** The leader appends its own new entries; a leader's log only ever grows. */
  appendAsLeader(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, 'leader append must extend the log');
    assert(entry.term >= this.lastTerm(), 'leader append must not lower the term');
    this.entries.push(entry);
  }

  /**
   * A follower appends what the leader sent after (prevIndex, prevTerm). Returns the last index the
   * request covered, or null when prevIndex does not match. Entries already present with the same
   * term are kept (a late, duplicate append must not truncate anything: TESTING.md 24).
   */
  appendFromLeader(prevIndex: number, prevTerm: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = entries.find((entry) => this.term(entry.index) !== entry.term);
    if (conflict === undefined) return lastNew;
    assert(
      conflict.index > this.committedIndex,
      () =>
        `conflict at ${conflict.index} would replace committed entry (commit ${this.committedIndex})`,
    );
    this.truncateFrom(conflict.index);
    for (const entry of entries) {
      if (entry.index >= conflict.index) this.entries.push(entry);
    }
    assert(this.lastIndex() === lastNew, 'follower append left a hole');
    return lastNew;
  }

  private truncateFrom(index: number): void {
    this.entries.length = index - 1;
    this.stableIndex = Math.min(this.stableIndex, index - 1);
    this.persistingIndex = Math.min(this.persistingIndex, index - 1);
  }

  /**
   * Fast backtracking (etcd's findConflictByTerm): the largest index at or below `index` whose
   * term is at most `term`; everything above it cannot match a log whose entry there has `term`.
   */
  lastIndexWithTermAtMost(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > 0 && (this.term(i) ?? 0) > term) i--;
    return i;
  }

  commitTo(index: number): boolean {
    if (index <= this.committedIndex) return false;
    assert(index <= this.lastIndex(), () => `commit ${index} past last index ${this.lastIndex()}`);
    this.committedIndex = index;
    return true;
  }

  /** Entries [from, to] (inclusive), at most `countMax` of them and about `bytesMax` bytes (at least one). */
  slice(from: number, to: number, countMax: number, bytesMax: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = from; i <= to && out.length < countMax; i++) {
      const entry = this.entries[i - 1];
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
    const out = this.entries.slice(this.persistingIndex);
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

  /** Hands out committed entries not yet given to the driver for applying, at most `countMax`. */
  takeUnapplied(countMax: number): Entry[] {
    const to = Math.min(this.committedIndex, this.applyingIndex + countMax);
    const out = this.entries.slice(this.applyingIndex, to);
    this.applyingIndex = to;
    assert(this.applyingIndex <= this.committedIndex, 'applying past commit');
    return out;
  }

  /** A read-only view of every entry; do not hold it across steps. */
  view(): readonly Entry[] {
    return this.entries;
  }
}
