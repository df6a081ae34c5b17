/**
 * Recovery on open (decision 5, TESTING.md 17-18): verify every record read from IndexedDB and
 * decide what the log is. A bad last segment is a torn tail: it is dropped (and deleted) and the
 * log ends before it. Anything else that fails verification — a bad record with good ones after
 * it, a hole between segments, a bad hard state or snapshot — is never skipped silently: it is a
 * StorageCorruptError and the member does not start on it.
 */
import { EMPTY_HARD_STATE } from '../core/types.js';
import type { Entry, Snapshot } from '../core/types.js';
import type { PersistedState } from './storage.js';
import { crc32 } from './crc32.js';
import { StorageCorruptError } from './errors.js';
import type { CompactionPoint, RepairRecord, SnapshotRecord } from './records.js';
import {
  chunkKeyTag,
  decodeCompactionPoint,
  decodeHardState,
  decodeRepair,
  decodeSegment,
  decodeSnapshotRecord,
  metaKeyTag,
  segmentKeyTag,
  unseal,
} from './records.js';
import type { RecoveredLog, SegmentSpan } from './segment-layout.js';

/** Everything load read, in one transaction, as stored. */
export interface RawStoredLog {
  readonly hardState: unknown;
  readonly snapshot: unknown;
  readonly compaction: unknown;
  readonly repair: unknown;
  /** Segment keys ascending, with their values. */
  readonly segmentKeys: readonly unknown[];
  readonly segmentValues: readonly unknown[];
  /** The chunks of the snapshot the snapshot record names, by chunk number (sparse if missing). */
  readChunks(snapshotIndex: number): Promise<readonly unknown[]>;
}

export interface Recovery {
  readonly log: RecoveredLog;
  readonly snapshot: Snapshot | null;
  /** Keys of segments to delete: the torn tail. */
  readonly tornSegmentKeys: readonly number[];
  /** What the repair dropped, for status and logs; null when nothing was wrong. */
  readonly repair: RecoveryReport | null;
  /** A repair now or one left from an earlier start: the member must not vote yet. */
  readonly votesWithheld: boolean;
}

/** The log now ends at `truncatedAfter`; entries after it were in the torn record. */
export type RecoveryReport = RepairRecord;

export async function recover(database: string, raw: RawStoredLog): Promise<Recovery> {
  const corrupt = (detail: string): StorageCorruptError =>
    new StorageCorruptError(database, detail);
  const hardState = readMeta(raw.hardState, 'hardState', decodeHardState, corrupt) ?? {
    ...EMPTY_HARD_STATE,
  };
  const record = readMeta(raw.snapshot, 'snapshot', decodeSnapshotRecord, corrupt);
  const snapshot = record === null ? null : await readSnapshot(record, raw, corrupt);
  let point = readMeta(raw.compaction, 'compaction', decodeCompactionPoint, corrupt) ?? {
    index: 0,
    term: 0,
  };
  if (record !== null && point.index > record.index) {
    throw corrupt(`compaction point ${point.index} is past the snapshot at ${record.index}`);
  }
  if (record === null && point.index > 0) throw corrupt('log compacted without a snapshot');

  const earlierRepair = readMeta(raw.repair, 'repair', decodeRepair, corrupt);
  const segments = decodeSegments(raw, point.index, corrupt);
  let { entries, spans } = segments;
  const { torn } = segments;
  // Drop what the compaction point hides; what is left must start right after it.
  entries = entries.filter((e) => e.index > point.index);
  spans = spans.filter((s) => s.last > point.index);
  const firstEntry = entries[0];
  if (firstEntry !== undefined && firstEntry.index !== point.index + 1) {
    throw corrupt(`the log resumes at ${firstEntry.index}, after compaction point ${point.index}`);
  }
  if (record !== null && (entries.at(-1)?.index ?? point.index) < record.index) {
    // A torn tail reached below the snapshot: the snapshot covers all of it.
    entries = [];
    spans = [];
    point = { index: record.index, term: record.term };
  }
  checkTerms(entries, point, record, corrupt);
  const repair: RecoveryReport | null =
    torn === null
      ? null
      : { truncatedAfter: entries.at(-1)?.index ?? point.index, reason: torn.reason };
  return {
    log: { hardState, snapshot: record, point, spans, entries },
    snapshot,
    tornSegmentKeys: torn === null ? [] : [torn.key],
    repair: repair ?? earlierRepair,
    votesWithheld: repair !== null || earlierRepair !== null,
  };
}

/**
 * What a member loads from a recovery: the entries after the compaction point, copies it may keep.
 * `votesWithheld` is the recovery's unless the medium found more to withhold them for.
 */
export function persistedStateOf(
  recovery: Recovery,
  votesWithheld = recovery.votesWithheld,
): PersistedState {
  const { log } = recovery;
  return {
    hardState: { ...log.hardState },
    snapshot: recovery.snapshot,
    entries: log.entries.filter((entry) => entry.index > log.point.index),
    votesWithheld,
  };
}

function readMeta<T>(
  raw: unknown,
  name: string,
  decode: (body: Uint8Array) => T | null,
  corrupt: (detail: string) => StorageCorruptError,
): T | null {
  if (raw === undefined) return null;
  const body = unseal(metaKeyTag(name), raw);
  if (typeof body === 'string') throw corrupt(`${name} record: ${body}`);
  const value = decode(body);
  if (value === null) throw corrupt(`${name} record does not decode`);
  return value;
}

async function readSnapshot(
  record: SnapshotRecord,
  raw: RawStoredLog,
  corrupt: (detail: string) => StorageCorruptError,
): Promise<Snapshot> {
  const chunks = await raw.readChunks(record.index);
  const data = new Uint8Array(record.byteLength);
  let offset = 0;
  for (let chunk = 0; chunk < record.chunkCount; chunk++) {
    const body = unseal(chunkKeyTag(record.index, chunk), chunks[chunk]);
    if (typeof body === 'string') throw corrupt(`snapshot ${record.index} chunk ${chunk}: ${body}`);
    if (offset + body.length > data.length) throw corrupt(`snapshot ${record.index} is too long`);
    data.set(body, offset);
    offset += body.length;
  }
  if (offset !== data.length || crc32(data) !== record.dataCrc) {
    throw corrupt(`snapshot ${record.index} does not match its checksum`);
  }
  return { meta: { index: record.index, term: record.term, config: record.config }, data };
}

interface DecodedSegments {
  entries: Entry[];
  spans: SegmentSpan[];
  torn: { key: number; reason: string } | null;
}

function decodeSegments(
  raw: RawStoredLog,
  compactedThrough: number,
  corrupt: (detail: string) => StorageCorruptError,
): DecodedSegments {
  const entries: Entry[] = [];
  const spans: SegmentSpan[] = [];
  const count = raw.segmentKeys.length;
  for (let i = 0; i < count; i++) {
    const key = raw.segmentKeys[i];
    if (typeof key !== 'number' || !Number.isSafeInteger(key) || key < 1) {
      throw corrupt(`segment key ${String(key)} is not an index`);
    }
    const verified = verifySegment(key, raw.segmentValues[i]);
    if (typeof verified === 'string') {
      if (i === count - 1) return { entries, spans, torn: { key, reason: verified } };
      const next = raw.segmentKeys[i + 1];
      if (typeof next === 'number' && next <= compactedThrough + 1) continue; // Compacted away.
      throw corrupt(
        `segment ${key}: ${verified}, and later segments exist (a hole, not a torn tail)`,
      );
    }
    const previous = spans.at(-1);
    // A gap at or below the compaction point is no hole: those entries are in the snapshot.
    if (previous !== undefined && key > previous.last + 1 && key > compactedThrough + 1) {
      throw corrupt(`hole in the log: segment ${key} follows one ending at ${previous.last}`);
    }
    if (previous !== undefined && key <= previous.last) {
      // A newer segment starting inside the previous one replaced its suffix.
      previous.last = key - 1;
      while (entries.length > 0 && entries.at(-1)!.index >= key) entries.pop();
    }
    spans.push({ first: key, last: key + verified.length - 1 });
    entries.push(...verified);
  }
  return { entries, spans, torn: null };
}

/** The entries of a stored segment, or why it fails verification. */
function verifySegment(key: number, value: unknown): Entry[] | string {
  const body = unseal(segmentKeyTag(key), value);
  if (typeof body === 'string') return body;
  const entries = decodeSegment(body);
  if (entries === null) return 'does not decode';
  if (entries[0]?.index !== key) return `starts at ${entries[0]?.index}, not at its key`;
  return entries;
}

function checkTerms(
  entries: readonly Entry[],
  point: CompactionPoint,
  snapshot: SnapshotRecord | null,
  corrupt: (detail: string) => StorageCorruptError,
): void {
  let term = point.term;
  for (const entry of entries) {
    if (entry.term < term)
      throw corrupt(`entry ${entry.index} has term ${entry.term} after ${term}`);
    term = entry.term;
    if (snapshot !== null && entry.index === snapshot.index && entry.term !== snapshot.term) {
      throw corrupt(
        `entry ${entry.index} has term ${entry.term}, the snapshot says ${snapshot.term}`,
      );
    }
  }
}
