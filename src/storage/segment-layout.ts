/**
 * What the IndexedDB storage knows of its log without reading IndexedDB: where each segment
 * starts and ends, the term of every stored index (as runs, since terms change rarely), the
 * compaction point, the snapshot and hard state, and the encoded entries of the open run (the
 * tail cache).
 *
 * Small appends (a member appending one proposal at a time) each write one small record, as
 * cheap as a raw put; they form an open run at the end of the log. When the run has
 * `runRecordsMax` records or `mergeBytes` bytes, the next write folds it into one segment (from
 * the cached bytes, without a read): records stay few and no append rewrites more than a run. It answers the write rules in
 * checks.ts and plans every write as a list of record puts and deletes.
 *
 * Segments are keyed by their first index. A segment's stored entries may run past the next
 * segment's first index: a truncated suffix is never rewritten, a newer segment simply starts
 * there, and on load a segment ends where the next one starts (decision 5: truncate by deleting
 * whole segments, never rewrite the world).
 */
import type { Entry, HardState, Snapshot } from '../core/types.js';
import { EMPTY_HARD_STATE } from '../core/types.js';
import type { StoredLogView } from './checks.js';
import type { CompactionPoint, SnapshotRecord } from './records.js';
import { encodedEntryBytes, encodeEntries, segmentBody } from './records.js';

/** A segment as it counts: from its key to its last entry before the next segment. */
export interface SegmentSpan {
  readonly first: number;
  last: number;
}

interface TermRun {
  readonly first: number;
  readonly term: number;
}

/** One change to stored records, planned synchronously and carried out in one transaction. */
export type SegmentWrite =
  | { readonly op: 'putSegment'; readonly first: number; readonly body: Uint8Array }
  | { readonly op: 'deleteSegmentsFrom'; readonly first: number }
  | { readonly op: 'deleteSegmentsBelow'; readonly first: number }
  | { readonly op: 'clearSegments' };

export interface LayoutLimits {
  /** An open run of small records is folded into one segment before it passes this many bytes. */
  readonly mergeBytes: number;
  /** ... or this many records. */
  readonly runRecordsMax: number;
  /** A segment written in one go holds at most this many bytes (more become several segments). */
  readonly segmentBytesMax: number;
}

/** The layout limits a storage's options set (every segmented storage names them alike). */
export function layoutLimitsOf(options: {
  readonly segmentMergeBytes: number;
  readonly segmentRunRecordsMax: number;
  readonly segmentBytesMax: number;
}): LayoutLimits {
  return {
    mergeBytes: options.segmentMergeBytes,
    runRecordsMax: options.segmentRunRecordsMax,
    segmentBytesMax: options.segmentBytesMax,
  };
}

/** What recovery found on disk, ready to build a layout from. */
export interface RecoveredLog {
  readonly hardState: HardState;
  readonly snapshot: SnapshotRecord | null;
  readonly point: CompactionPoint;
  /** Effective spans, consecutive, the first covering `point.index + 1`. */
  readonly spans: readonly SegmentSpan[];
  /** The entries after the compaction point, to the last span's last. */
  readonly entries: readonly Entry[];
}

export class SegmentLayout implements StoredLogView {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: SnapshotRecord | null = null;
  point: CompactionPoint = { index: 0, term: 0 };
  private spans: SegmentSpan[] = [];
  private runs: TermRun[] = [];
  /**
   * The open run: the spans from `firstSpan` to the end, their entries encoded back to back and
   * where each starts. Null when there is none (after a fold, an install, or when the entries of
   * the last span are not at hand); the next small append opens one.
   */
  private tail: { firstSpan: number; bytes: Uint8Array; offsets: number[] } | null = null;

  constructor(private readonly limits: LayoutLimits) {}

  static recovered(limits: LayoutLimits, log: RecoveredLog): SegmentLayout {
    const layout = new SegmentLayout(limits);
    layout.hardState = log.hardState;
    layout.snapshot = log.snapshot;
    layout.point = log.point;
    layout.spans = log.spans.map((span) => ({ ...span }));
    for (const entry of log.entries) layout.noteTerm(entry);
    const lastSpan = layout.spans.at(-1);
    if (lastSpan !== undefined) {
      const tail = log.entries.filter((e) => e.index >= lastSpan.first);
      // A last segment across the compaction point has entries we no longer hold: no merges.
      if (tail[0]?.index === lastSpan.first) {
        const encoded = encodeEntries(tail);
        const firstSpan = layout.spans.length - 1;
        layout.tail = { firstSpan, bytes: encoded.bytes, offsets: [...encoded.offsets] };
      }
    }
    return layout;
  }

  get snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  get lastIndex(): number {
    return this.spans.at(-1)?.last ?? this.point.index;
  }

  get segmentCount(): number {
    return this.spans.length;
  }

  /** Where the log stands, as a storage's `info()` shows it. */
  figures(): { segments: number; firstIndex: number; lastIndex: number; snapshotIndex: number } {
    return {
      segments: this.segmentCount,
      firstIndex: this.point.index + 1,
      lastIndex: this.lastIndex,
      snapshotIndex: this.snapshotIndex,
    };
  }

  termAt(index: number): number {
    if (index === this.point.index) return this.point.term;
    if (index === this.snapshotIndex) return this.snapshot?.term ?? 0;
    if (index <= this.point.index || index > this.lastIndex) return 0;
    let low = 0;
    let high = this.runs.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.runs[middle]!.first <= index) low = middle;
      else high = middle - 1;
    }
    return this.runs[low]?.term ?? 0;
  }

  /** Entries already checked by the write rules: replace the suffix from the first, then append. */
  planEntries(entries: readonly Entry[]): SegmentWrite[] {
    const first = entries[0];
    if (first === undefined) return [];
    const writes: SegmentWrite[] = [];
    if (first.index <= this.lastIndex) this.truncateFrom(first.index, writes);
    for (const entry of entries) this.noteTerm(entry);
    const added = encodeEntries(entries);
    const tail = this.tail;
    if (tail !== null && tail.bytes.length + added.bytes.length <= this.limits.mergeBytes) {
      const runFirst = this.spans[tail.firstSpan]!.first;
      const bytes = concat(tail.bytes, added.bytes);
      const offsets = [...tail.offsets, ...added.offsets.map((o) => o + tail.bytes.length)];
      if (this.spans.length - tail.firstSpan < this.limits.runRecordsMax) {
        // One more small record in the run: as cheap as a raw put.
        writes.push(this.newSpan(first.index, entries.length, added.bytes));
        this.tail = { firstSpan: tail.firstSpan, bytes, offsets };
      } else {
        this.fold(tail.firstSpan, runFirst, offsets.length, [bytes], writes);
        this.tail = null;
      }
      return writes;
    }
    if (tail !== null && this.spans.length - tail.firstSpan > 1) {
      this.fold(
        tail.firstSpan,
        this.spans[tail.firstSpan]!.first,
        tail.offsets.length,
        [tail.bytes],
        writes,
      );
    }
    this.tail = null;
    const groups = splitBySize(entries, this.limits.segmentBytesMax);
    for (const group of groups) {
      const encoded = group.length === entries.length ? added : encodeEntries(group);
      writes.push(this.newSpan(group[0]!.index, group.length, encoded.bytes));
      if (group === groups.at(-1) && encoded.bytes.length < this.limits.mergeBytes) {
        // A small write opens a run the next small appends join.
        this.tail = {
          firstSpan: this.spans.length - 1,
          bytes: encoded.bytes,
          offsets: [...encoded.offsets],
        };
      }
    }
    return writes;
  }

  /** A new record of `count` entries from `first`, as the last span. */
  private newSpan(first: number, count: number, bytes: Uint8Array): SegmentWrite {
    this.spans.push({ first, last: first + count - 1 });
    return { op: 'putSegment', first, body: segmentBody(first, count, [bytes]) };
  }

  /** Replaces the spans from `firstSpan` on with one segment of `count` entries from `first`. */
  private fold(
    firstSpan: number,
    first: number,
    count: number,
    parts: readonly Uint8Array[],
    writes: SegmentWrite[],
  ): void {
    writes.push({ op: 'deleteSegmentsFrom', first: first + 1 });
    writes.push({ op: 'putSegment', first, body: segmentBody(first, count, parts) });
    this.spans.splice(firstSpan, this.spans.length - firstSpan, {
      first,
      last: first + count - 1,
    });
  }

  /** A snapshot from the leader: every segment goes, the log restarts after the snapshot. */
  planInstall(snapshot: Snapshot, record: SnapshotRecord): SegmentWrite[] {
    this.snapshot = record;
    this.point = { index: snapshot.meta.index, term: snapshot.meta.term };
    this.spans = [];
    this.runs = [];
    this.tail = null;
    return [{ op: 'clearSegments' }];
  }

  /**
   * Drops whole segments at or below `through` (a segment across it stays, hidden below it), and
   * with them any older record below the first live segment (a suffix a newer segment replaced).
   */
  planCompaction(through: number): SegmentWrite[] {
    if (through <= this.point.index) return [];
    this.point = { index: through, term: this.termAt(through) };
    let dropped = 0;
    while (dropped < this.spans.length && this.spans[dropped]!.last <= through) dropped++;
    this.spans.splice(0, dropped);
    if (this.tail !== null) {
      // A run reaching below the compaction point holds entries that are gone: fold no more.
      this.tail =
        this.tail.firstSpan >= dropped
          ? { ...this.tail, firstSpan: this.tail.firstSpan - dropped }
          : null;
      if (this.tail !== null && this.spans[this.tail.firstSpan]!.first <= through) this.tail = null;
    }
    let keep = 0;
    while (keep + 1 < this.runs.length && this.runs[keep + 1]!.first <= through + 1) keep++;
    this.runs.splice(0, keep);
    const first = this.spans[0];
    if (first !== undefined) return [{ op: 'deleteSegmentsBelow', first: first.first }];
    this.tail = null;
    return [{ op: 'clearSegments' }];
  }

  private truncateFrom(index: number, writes: SegmentWrite[]): void {
    writes.push({ op: 'deleteSegmentsFrom', first: index });
    while (this.spans.length > 0 && this.spans.at(-1)!.first >= index) this.spans.pop();
    const lastSpan = this.spans.at(-1);
    if (lastSpan !== undefined && lastSpan.last >= index) lastSpan.last = index - 1;
    const tail = this.tail;
    if (tail !== null && tail.firstSpan < this.spans.length) {
      const keep = index - this.spans[tail.firstSpan]!.first;
      this.tail = {
        firstSpan: tail.firstSpan,
        bytes: tail.bytes.subarray(0, tail.offsets[keep]),
        offsets: tail.offsets.slice(0, keep),
      };
    } else {
      // The run went, or there was none: the span before keeps its stored suffix (a new segment
      // starts where it ends) and its entries are not at hand, so no run continues it.
      this.tail = null;
    }
    while (this.runs.length > 0 && this.runs.at(-1)!.first >= index) this.runs.pop();
  }

  private noteTerm(entry: Entry): void {
    if (this.runs.at(-1)?.term !== entry.term)
      this.runs.push({ first: entry.index, term: entry.term });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/** Consecutive groups of at most `bytesMax` each (an entry larger than that is a group alone). */
function splitBySize(entries: readonly Entry[], bytesMax: number): Entry[][] {
  const groups: Entry[][] = [];
  let group: Entry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = encodedEntryBytes(entry);
    if (group.length > 0 && bytes + size > bytesMax) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(entry);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
