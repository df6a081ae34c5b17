/**
 * What the IndexedDB storage knows of its log without reading IndexedDB: where each segment
 * starts and ends, the term of every stored index (as runs, since terms change rarely), the
 * compaction point, the snapshot and hard state, and the encoded entries of the last segment
 * (the tail cache: an append merges into it without a read or a decode). It answers the write rules in
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
   * The last span's entries, encoded, and where each starts; null when they are not at hand (the
   * span before a deleted tail), and then appends start a new segment instead of merging.
   */
  private tail: { bytes: Uint8Array; offsets: number[] } | null = null;

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
        layout.tail = { bytes: encoded.bytes, offsets: [...encoded.offsets] };
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
    const lastSpan = this.spans.at(-1);
    let rest = entries;
    if (
      lastSpan !== undefined &&
      this.tail !== null &&
      this.tail.bytes.length + sumBytes(entries) <= this.limits.mergeBytes
    ) {
      // Merging rewrites one small record: an append of one entry stays one small put.
      const added = encodeEntries(entries);
      const base = this.tail.bytes.length;
      const count = this.tail.offsets.length + entries.length;
      const body = segmentBody(lastSpan.first, count, [this.tail.bytes, added.bytes]);
      this.tail = {
        bytes: body.subarray(body.length - base - added.bytes.length),
        offsets: [...this.tail.offsets, ...added.offsets.map((offset) => offset + base)],
      };
      lastSpan.last = entries.at(-1)!.index;
      writes.push({ op: 'putSegment', first: lastSpan.first, body });
      rest = [];
    }
    for (const group of splitBySize(rest, this.limits.segmentBytesMax)) {
      const span = { first: group[0]!.index, last: group.at(-1)!.index };
      const encoded = encodeEntries(group);
      this.spans.push(span);
      this.tail = { bytes: encoded.bytes, offsets: [...encoded.offsets] };
      const body = segmentBody(span.first, group.length, [encoded.bytes]);
      writes.push({ op: 'putSegment', first: span.first, body });
    }
    return writes;
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
    let tailDeleted = false;
    while (this.spans.length > 0 && this.spans.at(-1)!.first >= index) {
      this.spans.pop();
      tailDeleted = true;
    }
    const lastSpan = this.spans.at(-1);
    if (tailDeleted || lastSpan === undefined) {
      // The span before a deleted tail keeps its stored suffix (a new segment will start where it
      // ends); its entries are not at hand, so appends start a new segment.
      this.tail = null;
    } else if (lastSpan.last >= index && this.tail !== null) {
      const keep = index - lastSpan.first;
      this.tail = {
        bytes: this.tail.bytes.subarray(0, this.tail.offsets[keep]),
        offsets: this.tail.offsets.slice(0, keep),
      };
    }
    if (lastSpan !== undefined && lastSpan.last >= index) lastSpan.last = index - 1;
    while (this.runs.length > 0 && this.runs.at(-1)!.first >= index) this.runs.pop();
  }

  private noteTerm(entry: Entry): void {
    if (this.runs.at(-1)?.term !== entry.term)
      this.runs.push({ first: entry.index, term: entry.term });
  }
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
