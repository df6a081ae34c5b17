/**
 * The journal of the file storage (file.ts): the same records the IndexedDB storage keeps
 * (records.ts: sealed segments and meta records, checked by recovery.ts), written as an
 * append-only sequence of batches instead of puts into object stores.
 *
 * One `persist` or `compact` is one batch — every segment write and meta record of it — framed
 * as `[magic u32][payload bytes u32][crc u32][payload]`, the CRC over the file's name and the
 * payload (a batch copied into another file fails it, as a misdirected record does). A batch is
 * all or nothing: a fold (delete a run, put its merged segment) or an install (clear, put the
 * snapshot record) can never be half durable, and hard state goes with the entries it came with.
 *
 * Replaying the batches in order rebuilds what an IndexedDB database would hold: meta records by
 * name, segment records by first index (`JournalMirror`), which recovery then verifies record by
 * record.
 */
import { crc32 } from './crc32.js';
import { META_NAMES, seal, segmentKeyTag } from './records.js';
import type { MetaName, SealedRecord } from './records.js';
import type { SegmentWrite } from './segment-layout.js';

/** One change in a batch: a segment write as the layout plans it (sealed), or a meta record. */
export type JournalOp =
  | { readonly op: 'putSegment'; readonly first: number; readonly record: SealedRecord }
  | Exclude<SegmentWrite, { readonly op: 'putSegment' }>
  | { readonly op: 'putMeta'; readonly name: MetaName; readonly record: SealedRecord }
  | { readonly op: 'deleteMeta'; readonly name: MetaName };

/** A segment write of the layout as a journal op: a segment is sealed under its first index. */
export function journalOp(write: SegmentWrite): JournalOp {
  if (write.op !== 'putSegment') return write;
  return {
    op: 'putSegment',
    first: write.first,
    record: seal(segmentKeyTag(write.first), write.body),
  };
}

const MAGIC = 0x5746_5254; // 'TRFW' little-endian: a frame starts here.
export const FRAME_HEADER_BYTES = 12;
/** A batch larger than this is refused on write and read as damage: bounds what a bad length can ask for. */
export const BATCH_BYTES_MAX = 256 * 1024 * 1024;

const OP_CODES = {
  putSegment: 1,
  deleteSegmentsFrom: 2,
  deleteSegmentsBelow: 3,
  clearSegments: 4,
  putMeta: 5,
  deleteMeta: 6,
} as const;

const utf8 = new TextEncoder();

const frameChecksum = (fileName: string, payload: Uint8Array): number =>
  crc32(payload, crc32(utf8.encode(fileName)));

/** A batch as the bytes appended to journal file `fileName`. */
export function encodeBatch(fileName: string, ops: readonly JournalOp[]): Uint8Array {
  let size = FRAME_HEADER_BYTES;
  for (const op of ops) size += encodedOpBytes(op);
  const frame = new Uint8Array(size);
  const view = new DataView(frame.buffer);
  let at = FRAME_HEADER_BYTES;
  const sealed = (record: SealedRecord): void => {
    at = writeSealed(frame, view, at, record);
  };
  for (const op of ops) {
    view.setUint8(at++, OP_CODES[op.op]);
    if (op.op === 'putMeta' || op.op === 'deleteMeta') {
      view.setUint8(at++, META_NAMES.indexOf(op.name));
      if (op.op === 'putMeta') sealed(op.record);
    } else if (op.op !== 'clearSegments') {
      view.setFloat64(at, op.first, true);
      at += 8;
      if (op.op === 'putSegment') sealed(op.record);
    }
  }
  const payload = frame.subarray(FRAME_HEADER_BYTES);
  if (payload.length > BATCH_BYTES_MAX) throw new RangeError(`a batch of ${payload.length} bytes`);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, payload.length, true);
  view.setUint32(8, frameChecksum(fileName, payload), true);
  return frame;
}

const SEALED_HEADER_BYTES = 9;

function writeSealed(into: Uint8Array, view: DataView, at: number, record: SealedRecord): number {
  view.setUint8(at, record.v);
  view.setUint32(at + 1, record.crc, true);
  view.setUint32(at + 5, record.body.length, true);
  into.set(record.body, at + SEALED_HEADER_BYTES);
  return at + SEALED_HEADER_BYTES + record.body.length;
}

/** Sealed records back to back (`[v u8][crc u32][bytes u32][body]` each), for a file of their own. */
export function encodeSealedRecords(records: readonly SealedRecord[]): Uint8Array {
  let size = 0;
  for (const record of records) size += SEALED_HEADER_BYTES + record.body.length;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const record of records) at = writeSealed(bytes, view, at, record);
  return bytes;
}

/**
 * The sealed records of such a file, as far as they are whole; `unseal` then checks each, so a
 * damaged file shows as a missing or failing record where it is damaged.
 */
export function decodeSealedRecords(bytes: Uint8Array): SealedRecord[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: SealedRecord[] = [];
  let at = 0;
  while (at + SEALED_HEADER_BYTES <= bytes.length) {
    const length = view.getUint32(at + 5, true);
    const end = at + SEALED_HEADER_BYTES + length;
    if (end > bytes.length) break;
    const body = bytes.slice(at + SEALED_HEADER_BYTES, end);
    records.push({ v: view.getUint8(at), crc: view.getUint32(at + 1, true), body });
    at = end;
  }
  return records;
}

function encodedOpBytes(op: JournalOp): number {
  switch (op.op) {
    case 'putSegment':
      return 1 + 8 + SEALED_HEADER_BYTES + op.record.body.length;
    case 'deleteSegmentsFrom':
    case 'deleteSegmentsBelow':
      return 1 + 8;
    case 'clearSegments':
      return 1;
    case 'putMeta':
      return 2 + SEALED_HEADER_BYTES + op.record.body.length;
    case 'deleteMeta':
      return 2;
  }
}

/** What reading one journal file found. */
export interface JournalRead {
  readonly batches: readonly (readonly JournalOp[])[];
  /**
   * Where the good batches end, when a bad one follows: `damage` says what was wrong, and
   * `followedByGood` whether a well-formed batch comes right after the bad one (then it is no
   * torn tail but corruption in the middle).
   */
  readonly end: number;
  readonly damage: { readonly reason: string; readonly followedByGood: boolean } | null;
}

/** The batches of journal file `fileName`, up to the first one that fails verification. */
export function readJournal(fileName: string, bytes: Uint8Array): JournalRead {
  const batches: JournalOp[][] = [];
  let at = 0;
  while (at < bytes.length) {
    const frame = readFrame(fileName, bytes, at);
    if (typeof frame === 'string') {
      const declared = declaredEnd(bytes, at);
      const followedByGood =
        declared !== null &&
        declared < bytes.length &&
        typeof readFrame(fileName, bytes, declared) !== 'string';
      return { batches, end: at, damage: { reason: frame, followedByGood } };
    }
    batches.push(frame.ops);
    at = frame.next;
  }
  return { batches, end: at, damage: null };
}

function declaredEnd(bytes: Uint8Array, at: number): number | null {
  if (at + FRAME_HEADER_BYTES > bytes.length) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, FRAME_HEADER_BYTES);
  return at + FRAME_HEADER_BYTES + view.getUint32(4, true);
}

function readFrame(
  fileName: string,
  bytes: Uint8Array,
  at: number,
): { ops: JournalOp[]; next: number } | string {
  if (at + FRAME_HEADER_BYTES > bytes.length) return `a frame header cut at byte ${at}`;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, FRAME_HEADER_BYTES);
  if (view.getUint32(0, true) !== MAGIC) return `no frame at byte ${at}`;
  const length = view.getUint32(4, true);
  if (length > BATCH_BYTES_MAX || at + FRAME_HEADER_BYTES + length > bytes.length)
    return `the frame at byte ${at} is cut short`;
  const payload = bytes.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
  if (frameChecksum(fileName, payload) !== view.getUint32(8, true))
    return `checksum mismatch in the frame at byte ${at}`;
  const ops = decodeOps(payload);
  if (ops === null) return `the frame at byte ${at} does not decode`;
  return { ops, next: at + FRAME_HEADER_BYTES + length };
}

function decodeOps(payload: Uint8Array): JournalOp[] | null {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const ops: JournalOp[] = [];
  let at = 0;
  const need = (bytes: number): boolean => at + bytes <= payload.length;
  const sealed = (): SealedRecord | null => {
    if (!need(SEALED_HEADER_BYTES)) return null;
    const length = view.getUint32(at + 5, true);
    if (!need(SEALED_HEADER_BYTES + length)) return null;
    const [record] = decodeSealedRecords(payload.subarray(at, at + SEALED_HEADER_BYTES + length));
    at += SEALED_HEADER_BYTES + length;
    return record ?? null;
  };
  while (at < payload.length) {
    const code = view.getUint8(at++);
    if (code === OP_CODES.clearSegments) {
      ops.push({ op: 'clearSegments' });
    } else if (code === OP_CODES.putMeta || code === OP_CODES.deleteMeta) {
      if (!need(1)) return null;
      const name = META_NAMES[view.getUint8(at++)];
      if (name === undefined) return null;
      if (code === OP_CODES.deleteMeta) {
        ops.push({ op: 'deleteMeta', name });
        continue;
      }
      const record = sealed();
      if (record === null) return null;
      ops.push({ op: 'putMeta', name, record });
    } else {
      if (!need(8)) return null;
      const first = view.getFloat64(at, true);
      at += 8;
      if (!Number.isSafeInteger(first) || first < 0) return null;
      if (code === OP_CODES.deleteSegmentsFrom) ops.push({ op: 'deleteSegmentsFrom', first });
      else if (code === OP_CODES.deleteSegmentsBelow)
        ops.push({ op: 'deleteSegmentsBelow', first });
      else if (code === OP_CODES.putSegment) {
        const record = sealed();
        if (record === null) return null;
        ops.push({ op: 'putSegment', first, record });
      } else return null;
    }
  }
  return ops;
}

/** A segment record as the mirror holds it: which journal file it is in, and (on replay) itself. */
interface MirroredSegment {
  readonly key: number;
  readonly file: number;
  readonly record: SealedRecord | null;
}

/**
 * The records a journal holds once replayed: what an IndexedDB database would hold after the same
 * writes. It also knows which journal file each live segment record is in, so that files holding
 * none can be deleted (oldest first, see FileStorage).
 */
export class JournalMirror {
  readonly meta = new Map<MetaName, SealedRecord>();
  /** Ascending by key. */
  private segments: MirroredSegment[] = [];

  constructor(private readonly keepSegmentRecords: boolean) {}

  apply(op: JournalOp, file: number): void {
    switch (op.op) {
      case 'putMeta':
        this.meta.set(op.name, op.record);
        return;
      case 'deleteMeta':
        this.meta.delete(op.name);
        return;
      case 'clearSegments':
        this.segments = [];
        return;
      case 'deleteSegmentsFrom':
        this.segments.splice(this.position(op.first));
        return;
      case 'deleteSegmentsBelow':
        this.segments.splice(0, this.position(op.first));
        return;
      case 'putSegment': {
        const record = this.keepSegmentRecords ? op.record : null;
        const at = this.position(op.first);
        const replaces = this.segments[at]?.key === op.first ? 1 : 0;
        this.segments.splice(at, replaces, { key: op.first, file, record });
      }
    }
  }

  get segmentKeys(): number[] {
    return this.segments.map((segment) => segment.key);
  }

  get segmentRecords(): (SealedRecord | null)[] {
    return this.segments.map((segment) => segment.record);
  }

  /** The oldest journal file a live segment record is in, or null when there is none. */
  oldestFileInUse(): number | null {
    let oldest: number | null = null;
    for (const segment of this.segments) oldest = Math.min(oldest ?? segment.file, segment.file);
    return oldest;
  }

  /** Forgets the records' bytes once recovery has read them (a running storage needs only keys). */
  dropRecords(): JournalMirror {
    const lean = new JournalMirror(false);
    for (const [name, record] of this.meta) lean.meta.set(name, record);
    lean.segments = this.segments.map(({ key, file }) => ({ key, file, record: null }));
    return lean;
  }

  /** The first position whose key is at least `key`. */
  private position(key: number): number {
    let low = 0;
    let high = this.segments.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.segments[middle]!.key < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
