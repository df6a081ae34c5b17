/**
 * The byte format of the IndexedDB storage. Every stored value is a sealed record
 * `{ v, body, crc }`: `v` is the format version, `body` the encoded content and `crc` a CRC-32
 * over the record's key, version and body. The key is in the checksum so a record written under
 * the wrong key (misdirected) fails verification like a torn or corrupt one (TESTING.md 18).
 *
 * Bodies are little-endian binary: numbers as float64 holding safe integers, bytes and strings
 * with a u32 length. Decoders return null on anything malformed; the caller decides whether that
 * is a torn tail (truncate) or corruption (refuse to start).
 */
import { decodeConfig, encodeConfig } from '../core/membership.js';
import type { ClusterConfig, Entry, EntryKind, HardState, Snapshot } from '../core/types.js';
import { crc32 } from './crc32.js';

export const FORMAT_VERSION = 1;

export interface SealedRecord {
  readonly v: number;
  readonly body: Uint8Array;
  readonly crc: number;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function checksum(key: string, version: number, body: Uint8Array): number {
  return crc32(body, crc32(utf8.encode(`${key}#${version}`)));
}

export function seal(key: string, body: Uint8Array): SealedRecord {
  return { v: FORMAT_VERSION, body, crc: checksum(key, FORMAT_VERSION, body) };
}

/** The body of a stored value if it is a sealed record of this format under `key`, else why not. */
export function unseal(key: string, raw: unknown): Uint8Array | string {
  if (typeof raw !== 'object' || raw === null) return 'not a record';
  const record = raw as Partial<SealedRecord>;
  if (record.v !== FORMAT_VERSION)
    return `format version ${String(record.v)} is not ${FORMAT_VERSION}`;
  if (!(record.body instanceof Uint8Array)) return 'no body bytes';
  if (typeof record.crc !== 'number' || checksum(key, record.v, record.body) !== record.crc)
    return 'checksum mismatch';
  return record.body;
}

/** The meta records besides the identity: what recovery reads besides segments and chunks. */
export const META_NAMES = ['hardState', 'snapshot', 'compaction', 'repair'] as const;
export type MetaName = (typeof META_NAMES)[number];

/** Record keys as text for the checksum: a segment's first index, a meta name, a chunk's place. */
export const segmentKeyTag = (first: number): string => `segment/${first}`;
export const metaKeyTag = (name: string): string => `meta/${name}`;
export const chunkKeyTag = (snapshotIndex: number, chunk: number): string =>
  `chunk/${snapshotIndex}/${chunk}`;

class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(capacity: number) {
    this.buffer = new Uint8Array(Math.max(16, capacity));
    this.view = new DataView(this.buffer.buffer);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, value);
    this.length += 1;
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  int(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  bytes(value: Uint8Array): void {
    this.u32(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  get size(): number {
    return this.length;
  }

  /** The written bytes in a buffer of their own (a stored view would clone its whole buffer). */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

class ByteReader {
  private readonly view: DataView;
  private offset = 0;

  constructor(private readonly body: Uint8Array) {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  private take(bytes: number): number {
    if (this.offset + bytes > this.body.length) throw new Malformed();
    const at = this.offset;
    this.offset += bytes;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  int(min = 0): number {
    const value = this.view.getFloat64(this.take(8), true);
    if (!Number.isSafeInteger(value) || value < min) throw new Malformed();
    return value;
  }

  bytes(): Uint8Array {
    const length = this.u32();
    const at = this.take(length);
    return this.body.slice(at, at + length);
  }

  text(): string {
    return utf8Strict.decode(this.bytes());
  }

  end(): void {
    if (this.offset !== this.body.length) throw new Malformed();
  }
}

class Malformed extends Error {}

function decodeWith<T>(body: Uint8Array, read: (reader: ByteReader) => T): T | null {
  try {
    const reader = new ByteReader(body);
    const value = read(reader);
    reader.end();
    return value;
  } catch (error) {
    if (error instanceof Malformed || error instanceof TypeError) return null;
    throw error;
  }
}

const KINDS: readonly EntryKind[] = ['normal', 'noop', 'config'];

/** Bytes an entry takes in a segment body. */
export function encodedEntryBytes(entry: Entry): number {
  return 8 + 1 + 4 + entry.data.length;
}

/** Entries encoded back to back, with where each starts, for a segment body. */
export interface EncodedEntries {
  readonly bytes: Uint8Array;
  readonly offsets: readonly number[];
}

export function encodeEntries(entries: readonly Entry[]): EncodedEntries {
  let size = 0;
  for (const entry of entries) size += encodedEntryBytes(entry);
  const writer = new ByteWriter(size);
  const offsets: number[] = [];
  for (const entry of entries) {
    offsets.push(writer.size);
    writer.int(entry.term);
    writer.u8(KINDS.indexOf(entry.kind));
    writer.bytes(entry.data);
  }
  return { bytes: writer.finish(), offsets };
}

const SEGMENT_HEADER_BYTES = 12;

/**
 * A segment body: `count` consecutive entries from index `first`, given as encoded parts (the
 * last segment's entries and new ones: an append merges without decoding anything).
 */
export function segmentBody(
  first: number,
  count: number,
  parts: readonly Uint8Array[],
): Uint8Array {
  let size = SEGMENT_HEADER_BYTES;
  for (const part of parts) size += part.length;
  const body = new Uint8Array(size);
  const view = new DataView(body.buffer);
  view.setFloat64(0, first, true);
  view.setUint32(8, count, true);
  let offset = SEGMENT_HEADER_BYTES;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.length;
  }
  return body;
}

/** A segment body of `entries` (at least one), from `entries[0].index`. */
export function encodeSegment(entries: readonly Entry[]): Uint8Array {
  const first = entries[0];
  if (first === undefined) throw new RangeError('a segment holds at least one entry');
  return segmentBody(first.index, entries.length, [encodeEntries(entries).bytes]);
}

export function decodeSegment(body: Uint8Array): Entry[] | null {
  return decodeWith(body, (reader) => {
    const first = reader.int(1);
    const count = reader.u32();
    if (count === 0) throw new Malformed();
    const entries: Entry[] = [];
    for (let i = 0; i < count; i++) {
      const term = reader.int(1);
      const kind = KINDS[reader.u8()];
      if (kind === undefined) throw new Malformed();
      entries.push({ index: first + i, term, kind, data: reader.bytes() });
    }
    return entries;
  });
}

export function encodeHardState(state: HardState): Uint8Array {
  const writer = new ByteWriter(32);
  writer.int(state.term);
  writer.int(state.commit);
  writer.u8(state.vote === null ? 0 : 1);
  if (state.vote !== null) writer.bytes(utf8.encode(state.vote));
  return writer.finish();
}

export function decodeHardState(body: Uint8Array): HardState | null {
  return decodeWith(body, (reader) => {
    const term = reader.int();
    const commit = reader.int();
    const vote = reader.u8() === 1 ? reader.text() : null;
    return { term, vote, commit };
  });
}

/** Where the stored snapshot's bytes are and how to check them as a whole. */
export interface SnapshotRecord {
  readonly index: number;
  readonly term: number;
  readonly config: ClusterConfig;
  readonly byteLength: number;
  readonly chunkCount: number;
  readonly dataCrc: number;
}

/**
 * A snapshot as stored: its data in sealed chunks of `chunkBytes` (each under its place, so a
 * chunk in the wrong place fails), and the record that names them and checks them as a whole.
 */
export function sealSnapshot(
  snapshot: Snapshot,
  chunkBytes: number,
): { readonly record: SnapshotRecord; readonly chunks: readonly SealedRecord[] } {
  const { data, meta } = snapshot;
  const chunks: SealedRecord[] = [];
  for (let chunk = 0; chunk * chunkBytes < data.length; chunk++) {
    // Copies: the caller may reuse its buffer before the chunks are written.
    const bytes = data.slice(chunk * chunkBytes, (chunk + 1) * chunkBytes);
    chunks.push(seal(chunkKeyTag(meta.index, chunk), bytes));
  }
  const record: SnapshotRecord = {
    index: meta.index,
    term: meta.term,
    config: { voters: [...meta.config.voters], learners: [...meta.config.learners] },
    byteLength: data.length,
    chunkCount: chunks.length,
    dataCrc: crc32(data),
  };
  return { record, chunks };
}

export function encodeSnapshotRecord(record: SnapshotRecord): Uint8Array {
  const writer = new ByteWriter(64);
  writer.int(record.index);
  writer.int(record.term);
  writer.bytes(encodeConfig(record.config));
  writer.int(record.byteLength);
  writer.u32(record.chunkCount);
  writer.u32(record.dataCrc);
  return writer.finish();
}

export function decodeSnapshotRecord(body: Uint8Array): SnapshotRecord | null {
  return decodeWith(body, (reader) => {
    const index = reader.int(1);
    const term = reader.int(1);
    const config = decodeConfig(reader.bytes());
    if (config === null) throw new Malformed();
    const byteLength = reader.int();
    const chunkCount = reader.u32();
    const dataCrc = reader.u32();
    return { index, term, config, byteLength, chunkCount, dataCrc };
  });
}

/** The compaction point: entries at or below `index` are gone; `term` is the term at it. */
export interface CompactionPoint {
  readonly index: number;
  readonly term: number;
}

export function encodeCompactionPoint(point: CompactionPoint): Uint8Array {
  const writer = new ByteWriter(16);
  writer.int(point.index);
  writer.int(point.term);
  return writer.finish();
}

export function decodeCompactionPoint(body: Uint8Array): CompactionPoint | null {
  return decodeWith(body, (reader) => ({ index: reader.int(), term: reader.int() }));
}

/** Who owns a database: written once when the member is created, checked on every open. */
export interface IdentityRecord {
  readonly memberId: string;
  readonly createdAtMs: number;
}

export function encodeIdentity(identity: IdentityRecord): Uint8Array {
  const writer = new ByteWriter(64);
  writer.bytes(utf8.encode(identity.memberId));
  writer.int(identity.createdAtMs);
  return writer.finish();
}

export function decodeIdentity(body: Uint8Array): IdentityRecord | null {
  return decodeWith(body, (reader) => ({ memberId: reader.text(), createdAtMs: reader.int() }));
}

/** The sealed identity record of a new member, created now. */
export function sealIdentity(memberId: string): SealedRecord {
  return seal(metaKeyTag('identity'), encodeIdentity({ memberId, createdAtMs: Date.now() }));
}

/** The identity a stored identity record holds, or null when it is none (damaged, another format). */
export function unsealIdentity(raw: unknown): IdentityRecord | null {
  const body = unseal(metaKeyTag('identity'), raw);
  return typeof body === 'string' ? null : decodeIdentity(body);
}

/** Left by a recovery that cut the log: the member withholds its vote until it caught up. */
export interface RepairRecord {
  readonly truncatedAfter: number;
  readonly reason: string;
}

export function encodeRepair(repair: RepairRecord): Uint8Array {
  const writer = new ByteWriter(64);
  writer.int(repair.truncatedAfter);
  writer.bytes(utf8.encode(repair.reason));
  return writer.finish();
}

export function decodeRepair(body: Uint8Array): RepairRecord | null {
  return decodeWith(body, (reader) => ({ truncatedAfter: reader.int(), reason: reader.text() }));
}
