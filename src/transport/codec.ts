/**
 * The wire codec (decision 4): every Raft message between members travels as one binary,
 * versioned frame — a MessagePack array `[version, cluster, from, to, type, term, ...fields]`
 * (msgpackr: compact, fast, binary-safe for entry data). Field order per type is fixed below.
 *
 * Decoding trusts nothing: a frame is checked for size, version, cluster, recipient, type and the
 * type and range of every field before it becomes a `Message`, and anything else is dropped with
 * a counted reason. The core then checks what a shape cannot say (validate.ts). Nothing a peer
 * sends can throw past `FrameDecoder.decode`.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { Message, MessageType } from '../core/messages.js';
import type { ClusterConfig, Entry, EntryKind, MemberId } from '../core/types.js';
import { clockFromWire, clockOf, clockToWire, withClock } from './vector-clock.js';

/**
 * 2 since KV commands are written in their binary format: a member of version 1 would decode
 * such a command as BAD_COMMAND and apply nothing where the others apply a write, so members of
 * different versions must not replicate to each other. Their frames are dropped (`badVersion`).
 */
export const WIRE_VERSION = 2;
/**
 * Largest frame accepted from any transport. The core's limits keep frames far below it (an append
 * carries at most appendBytesMax, or one entry of at most KV_LIMITS.commandBytesMax; a snapshot
 * chunk snapshotChunkBytes), within the 256 KiB a WebRTC data-channel message may carry.
 */
export const FRAME_BYTES_MAX = 1024 * 1024;
/** Member and cluster ids, and read contexts, are at most this long. */
export const WIRE_ID_LENGTH_MAX = 256;
/** Entries per append frame and members per configuration, far above what the core sends. */
const ENTRIES_PER_FRAME_MAX = 65_536;
const MEMBERS_PER_CONFIG_MAX = 1024;

export type FrameDropReason =
  | 'oversize'
  | 'undecodable'
  | 'badVersion'
  | 'wrongCluster'
  | 'wrongRecipient'
  | 'unknownType'
  | 'malformed';

const TYPES: readonly MessageType[] = [
  'preVote',
  'vote',
  'preVoteResponse',
  'voteResponse',
  'append',
  'appendResponse',
  'heartbeat',
  'heartbeatResponse',
  'timeoutNow',
  'readIndex',
  'readIndexResponse',
  'snapshot',
  'snapshotResponse',
  'forward',
];
const TYPE_CODES = new Map(TYPES.map((type, code) => [type, code] as const));
const KINDS: readonly EntryKind[] = ['normal', 'noop', 'config'];
const HEADER_FIELDS = 6;

const packr = new Packr({ useRecords: false, variableMapSize: true });
// Maps decode as Map (never as objects a key could pollute), records and structures are off.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false });

/** Encodes `message` as one frame of cluster `cluster`. */
export function encodeFrame(cluster: string, message: Message): Uint8Array<ArrayBuffer> {
  const code = TYPE_CODES.get(message.type);
  if (code === undefined) throw new RangeError(`unknown message type ${message.type}`);
  const header = [WIRE_VERSION, cluster, message.from, message.to, code, message.term];
  const fields = [...header, ...fieldsOf(message)];
  // A timeline clock is one trailing field, only when the sender records a timeline.
  const clock = clockOf(message);
  if (clock !== undefined) fields.push(clockToWire(clock));
  // A copy of its own: msgpackr packs into a shared buffer it reuses, and a view would clone or
  // transfer that whole buffer.
  return new Uint8Array(packr.pack(fields));
}

function fieldsOf(message: Message): unknown[] {
  switch (message.type) {
    case 'preVote':
      return [message.lastIndex, message.lastTerm];
    case 'vote':
      return [message.lastIndex, message.lastTerm, message.transfer];
    case 'preVoteResponse':
    case 'voteResponse':
      return [message.reject];
    case 'append':
      return [
        message.prevIndex,
        message.prevTerm,
        message.commit,
        message.entries.map((e) => [e.term, KINDS.indexOf(e.kind), e.data]),
      ];
    case 'appendResponse':
      return [message.reject, message.index, message.hintIndex, message.hintTerm];
    case 'heartbeat':
      return [message.commit, message.readSeq, message.sentTick];
    case 'heartbeatResponse':
      return [message.readSeq, message.sentTick];
    case 'timeoutNow':
      return [];
    case 'readIndex':
      return [message.context];
    case 'readIndexResponse':
      return [message.context, message.reject, message.index];
    case 'snapshot': {
      const { index, term, config } = message.meta;
      return [
        index,
        term,
        config.voters,
        config.learners,
        message.size,
        message.offset,
        message.data,
      ];
    }
    case 'snapshotResponse':
      return [message.index, message.offset];
    case 'forward':
      return [message.data];
  }
}

/** Thrown inside decoding only, never out of it: the frame is malformed. */
class Malformed extends Error {}

/**
 * Decodes frames addressed to `self` in cluster `cluster`, counting every dropped frame by
 * reason. One per transport endpoint.
 */
export class FrameDecoder {
  private readonly dropCounts = new Map<FrameDropReason, number>();
  private badClocks = 0;
  private readonly countBadClock = (): void => {
    this.badClocks++;
  };

  constructor(
    readonly cluster: string,
    readonly self: MemberId,
  ) {}

  /** Frames dropped so far, by reason. */
  drops(): Readonly<Partial<Record<FrameDropReason, number>>> {
    return Object.fromEntries(this.dropCounts);
  }

  /** Timeline clocks ignored because they were unsound (their messages were delivered). */
  clocksIgnored(): number {
    return this.badClocks;
  }

  /** The message in `frame`, or null (and a counted reason) if it is not a sound frame for us. */
  decode(frame: Uint8Array): Message | null {
    const verdict = decodeFrame(frame, this.cluster, this.self, this.countBadClock);
    if (typeof verdict !== 'string') return verdict;
    this.dropCounts.set(verdict, (this.dropCounts.get(verdict) ?? 0) + 1);
    return null;
  }
}

/**
 * The message in `frame`, or why it was dropped. Never throws. A trailing timeline clock that is
 * not sound is left off the message, and `onBadClock` is called: a clock only draws the timeline,
 * so a bad one must not cost the message.
 */
export function decodeFrame(
  frame: Uint8Array,
  cluster: string,
  self: MemberId,
  onBadClock?: () => void,
): Message | FrameDropReason {
  if (!(frame instanceof Uint8Array) || frame.length > FRAME_BYTES_MAX) return 'oversize';
  let raw: unknown;
  try {
    raw = unpackr.unpack(frame);
  } catch {
    return 'undecodable';
  }
  if (!Array.isArray(raw) || raw.length < HEADER_FIELDS) return 'malformed';
  if (raw[0] !== WIRE_VERSION) return 'badVersion';
  if (raw[1] !== cluster) return 'wrongCluster';
  if (raw[3] !== self) return 'wrongRecipient';
  const type = typeof raw[4] === 'number' ? TYPES[raw[4]] : undefined;
  if (type === undefined) return 'unknownType';
  try {
    const reader = new FieldReader(raw);
    const message = readMessage(type, reader);
    if (reader.atEnd()) return message;
    const clock = clockFromWire(reader.list(Infinity), message.from);
    reader.end();
    if (clock !== null) return withClock(message, clock);
    onBadClock?.();
    return message;
  } catch (error) {
    if (error instanceof Malformed) return 'malformed';
    throw error;
  }
}

/** Reads the fields of a decoded frame in order, each checked. */
class FieldReader {
  private next = 2;

  constructor(private readonly fields: readonly unknown[]) {}

  private take(): unknown {
    if (this.next >= this.fields.length) throw new Malformed();
    return this.fields[this.next++];
  }

  /** Skips the type code, read before the reader existed. */
  skip(): void {
    this.take();
  }

  id(): string {
    const value = this.take();
    if (typeof value !== 'string' || value.length === 0 || value.length > WIRE_ID_LENGTH_MAX)
      throw new Malformed();
    return value;
  }

  text(): string {
    const value = this.take();
    if (typeof value !== 'string' || value.length > WIRE_ID_LENGTH_MAX) throw new Malformed();
    return value;
  }

  count(): number {
    return asCount(this.take());
  }

  flag(): boolean {
    const value = this.take();
    if (typeof value !== 'boolean') throw new Malformed();
    return value;
  }

  bytes(): Uint8Array {
    return asBytes(this.take());
  }

  list(lengthMax: number): readonly unknown[] {
    const value = this.take();
    if (!Array.isArray(value) || value.length > lengthMax) throw new Malformed();
    return value;
  }

  atEnd(): boolean {
    return this.next === this.fields.length;
  }

  end(): void {
    if (!this.atEnd()) throw new Malformed();
  }
}

function asCount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Malformed();
  return value;
}

/** A view as a plain Uint8Array (msgpackr gives Buffers in Node), without copying. */
function asBytes(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new Malformed();
  return value.constructor === Uint8Array
    ? value
    : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function readMessage(type: MessageType, reader: FieldReader): Message {
  const from = reader.id();
  const to = reader.id();
  reader.skip();
  const term = reader.count();
  const envelope = { from, to, term };
  switch (type) {
    case 'preVote':
      return { ...envelope, type, lastIndex: reader.count(), lastTerm: reader.count() };
    case 'vote':
      return {
        ...envelope,
        type,
        lastIndex: reader.count(),
        lastTerm: reader.count(),
        transfer: reader.flag(),
      };
    case 'preVoteResponse':
    case 'voteResponse':
      return { ...envelope, type, reject: reader.flag() };
    case 'append': {
      const prevIndex = reader.count();
      const prevTerm = reader.count();
      const commit = reader.count();
      const entries = reader
        .list(ENTRIES_PER_FRAME_MAX)
        .map((raw, i) => readEntry(raw, prevIndex + 1 + i));
      return { ...envelope, type, prevIndex, prevTerm, commit, entries };
    }
    case 'appendResponse':
      return {
        ...envelope,
        type,
        reject: reader.flag(),
        index: reader.count(),
        hintIndex: reader.count(),
        hintTerm: reader.count(),
      };
    case 'heartbeat':
      return {
        ...envelope,
        type,
        commit: reader.count(),
        readSeq: reader.count(),
        sentTick: reader.count(),
      };
    case 'heartbeatResponse':
      return { ...envelope, type, readSeq: reader.count(), sentTick: reader.count() };
    case 'timeoutNow':
      return { ...envelope, type };
    case 'readIndex':
      return { ...envelope, type, context: reader.text() };
    case 'readIndexResponse':
      return {
        ...envelope,
        type,
        context: reader.text(),
        reject: reader.flag(),
        index: reader.count(),
      };
    case 'snapshot': {
      const index = reader.count();
      const snapshotTerm = reader.count();
      const config: ClusterConfig = {
        voters: readIds(reader.list(MEMBERS_PER_CONFIG_MAX)),
        learners: readIds(reader.list(MEMBERS_PER_CONFIG_MAX)),
      };
      return {
        ...envelope,
        type,
        meta: { index, term: snapshotTerm, config },
        size: reader.count(),
        offset: reader.count(),
        data: reader.bytes(),
      };
    }
    case 'snapshotResponse':
      return { ...envelope, type, index: reader.count(), offset: reader.count() };
    case 'forward':
      return { ...envelope, type, data: reader.bytes() };
  }
}

function readEntry(raw: unknown, index: number): Entry {
  if (!Array.isArray(raw) || raw.length !== 3) throw new Malformed();
  const kind = typeof raw[1] === 'number' ? KINDS[raw[1]] : undefined;
  if (kind === undefined) throw new Malformed();
  return { index, term: asCount(raw[0]), kind, data: asBytes(raw[2]) };
}

function readIds(raw: readonly unknown[]): MemberId[] {
  return raw.map((id) => {
    if (typeof id !== 'string' || id.length === 0 || id.length > WIRE_ID_LENGTH_MAX)
      throw new Malformed();
    return id;
  });
}
