/**
 * What the IndexedDB storage knows of its log without reading IndexedDB: where each segment
 * starts and ends, the term of every stored index (as runs, since terms change rarely), the
 * compaction point, the snapshot and hard state, and the decoded entries of the last segment
 * (the tail cache: appends merge into it without a read). It answers the write rules in
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
import { encodedEntryBytes } from './records.js';

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
  | { readonly op: 'putSegment'; readonly first: number; readonly entries: readonly Entry[] }
  | { readonly op: 'deleteSegmentsFrom'; readonly first: number }
  | { readonly op: 'deleteSegmentsBetween'; readonly from: number; readonly to: number }
  | { readonly op: 'clearSegments' };

export interface LayoutLimits {
  /** Appends merge into the last segment while it stays within this many bytes. */
  readonly mergeBytes: number;
  /** A segment written in one go holds at most this many bytes (more become several segments). */
  readonly segmentBytesMax: number;
}

/** What recovery found on disk, ready to build a layout from. */
export interface RecoveredLog {
  readonly hardState: HardState;
  readonly snapshot: SnapshotRecord | null;
  readonly point: CompactionPoint;
  /** Effective spans, consecutive, the first covering `point.index + 1`. */
  readonly spans: readonly SegmentSpan[];
  /** Entries from the first span's first index to the last span's last. */
  readonly entries: readonly Entry[];
}

export class SegmentLayout implements StoredLogView {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: SnapshotRecord | null = null;
  point: CompactionPoint = { index: 0, term: 0 };
  private spans: SegmentSpan[] = [];
  private runs: TermRun[] = [];
  /** The entries of the last span, from its first index (copies: callers may reuse buffers). */
  private tail: Entry[] = [];
  private tailBytes = 0;

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
      layout.tail = log.entries.filter((e) => e.index >= lastSpan.first).map(copyEntry);
      layout.tailBytes = sumBytes(layout.tail);
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
    const copies = entries.map(copyEntry);
    const lastSpan = this.spans.at(-1);
    let rest = copies;
    const newBytes = sumBytes(copies);
    if (lastSpan !== undefined && this.tailBytes + newBytes <= this.limits.mergeBytes) {
      // Merging rewrites one small record: an append of one entry stays one small put.
      this.tail.push(...copies);
      this.tailBytes += newBytes;
      lastSpan.last = copies.at(-1)!.index;
      writes.push({ op: 'putSegment', first: lastSpan.first, entries: this.tail.slice() });
      rest = [];
    }
    for (const group of splitBySize(rest, this.limits.segmentBytesMax)) {
      const span = { first: group[0]!.index, last: group.at(-1)!.index };
      this.spans.push(span);
      this.tail = group;
      this.tailBytes = sumBytes(group);
      writes.push({ op: 'putSegment', first: span.first, entries: group });
    }
    for (const entry of copies) this.noteTerm(entry);
    return writes;
  }

  /** A snapshot from the leader: every segment goes, the log restarts after the snapshot. */
  planInstall(snapshot: Snapshot, record: SnapshotRecord): SegmentWrite[] {
    this.snapshot = record;
    this.point = { index: snapshot.meta.index, term: snapshot.meta.term };
    this.spans = [];
    this.runs = [];
    this.tail = [];
    this.tailBytes = 0;
    return [{ op: 'clearSegments' }];
  }

  /** Drops whole segments at or below `through` (a segment across it stays, hidden below it). */
  planCompaction(through: number): SegmentWrite[] {
    if (through <= this.point.index) return [];
    this.point = { index: through, term: this.termAt(through) };
    let dropped = 0;
    while (dropped < this.spans.length && this.spans[dropped]!.last <= through) dropped++;
    const writes: SegmentWrite[] = [];
    if (dropped > 0) {
      writes.push({
        op: 'deleteSegmentsBetween',
        from: this.spans[0]!.first,
        to: this.spans[dropped - 1]!.first,
      });
      this.spans.splice(0, dropped);
      if (this.spans.length === 0) {
        this.tail = [];
        this.tailBytes = 0;
      }
    }
    let keep = 0;
    while (keep + 1 < this.runs.length && this.runs[keep + 1]!.first <= through + 1) keep++;
    this.runs.splice(0, keep);
    return writes;
  }

  private truncateFrom(index: number, writes: SegmentWrite[]): void {
    writes.push({ op: 'deleteSegmentsFrom', first: index });
    while (this.spans.length > 0 && this.spans.at(-1)!.first >= index) this.spans.pop();
    const lastSpan = this.spans.at(-1);
    if (lastSpan !== undefined && lastSpan.last >= index) lastSpan.last = index - 1;
    if (lastSpan === undefined) {
      this.tail = [];
    } else if (this.tail[0]?.index !== lastSpan.first) {
      // The tail segment went; the one before is the tail now, and it was never cached: it takes
      // no merges (its entries are not here), so appends start a new segment.
      this.tail = [];
      this.tailBytes = Number.POSITIVE_INFINITY;
    } else {
      this.tail = this.tail.filter((e) => e.index < index);
    }
    if (this.tailBytes !== Number.POSITIVE_INFINITY) this.tailBytes = sumBytes(this.tail);
    while (this.runs.length > 0 && this.runs.at(-1)!.first >= index) this.runs.pop();
  }

  private noteTerm(entry: Entry): void {
    if (this.runs.at(-1)?.term !== entry.term)
      this.runs.push({ first: entry.index, term: entry.term });
  }
}

export function copyEntry(entry: Entry): Entry {
  return { index: entry.index, term: entry.term, kind: entry.kind, data: entry.data.slice() };
}

function sumBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += encodedEntryBytes(entry);
  return total;
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
