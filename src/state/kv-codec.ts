/**
 * Bytes <-> KV commands. A command is written in the compact binary format (v2, below); the JSON
 * format of earlier versions (v1) still decodes, so logs written by them replay unchanged.
 * Decoding treats the bytes as hostile: it checks every field's type and shape (exactly the
 * expected fields, safe integers, finite numbers, bounded nesting) and never throws; anything
 * else decodes to a `BAD_COMMAND` failure. Size limits on keys and values are checked later by
 * the state machine, so they can be answered (and cached) per session.
 *
 * v2, one byte tag then the fields in order (uvarint: unsigned LEB128, at most 8 bytes, a safe
 * integer; str: uvarint byte length + UTF-8; json: str holding JSON text):
 *
 *   0xB2 | command type u8 | ...
 *     registerSession (0) | keepAlive (1) session | closeSession (2) session
 *     op (3) session seq lowestUnacked | op type u8 | ...
 *       put (0) key value | delete (1) key | cas (2) key expected next
 *       txn (3) checkCount (key version)* writeCount (0 key value | 1 key)*
 *
 * Why binary: every member decodes every command it applies, and a put's JSON was half field
 * names; v2 is ~40% smaller on the wire and on disk, and decodes without a parse of the whole.
 * Values stay JSON text, parsed and checked exactly as v1 values were. A key that is not
 * well-formed UTF-16 (a lone surrogate) cannot cross UTF-8 unchanged, so such a command is
 * written in v1, where JSON escapes it.
 */
import { KV_LIMITS } from './kv-limits.js';
import { createWireReaders } from './wire-readers.js';
import type { JsonValue, KvCommand, KvOp, KvTxnCheck, KvTxnOp, KvTxnWrite } from './kv-types.js';
import type { SessionHeader } from './sessions.js';

/** The format `encodeKvCommand` writes (2, binary); format 1 (JSON) still decodes. */
export const KV_CODEC_VERSION = 2;
const JSON_CODEC_VERSION = 1;
/** First byte of a v2 command: a UTF-8 continuation byte, so never the start of JSON text. */
const BINARY_TAG = 0xb2;
const COMMAND_TYPES = ['registerSession', 'keepAlive', 'closeSession', 'op'] as const;
const OP_TYPES = ['put', 'delete', 'cas', 'txn'] as const;
const TXN_PUT = 0;
const TXN_DELETE = 1;
const UVARINT_BYTES_MAX = 8;

export type KvDecodeResult =
  | { readonly ok: true; readonly command: KvCommand }
  | { readonly ok: false; readonly code: 'BAD_COMMAND' | 'TOO_LARGE'; readonly message: string };

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });
/** A lone surrogate: in a `u` regex a well-formed pair is one code point, never in Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Encodes a command. It does not check limits or values; see `kvCommand` for checked builders. */
export function encodeKvCommand(command: KvCommand): Uint8Array {
  if (keysOf(command).some((key) => LONE_SURROGATE.test(key))) {
    return textEncoder.encode(JSON.stringify(toWire(command)));
  }
  const out = new BinaryWriter();
  try {
    writeCommand(out, command);
    return out.finish();
  } finally {
    out.release(); // Also when a value cannot be stringified (a BigInt, a cycle).
  }
}

function writeCommand(out: BinaryWriter, command: KvCommand): void {
  out.byte(BINARY_TAG);
  out.byte(COMMAND_TYPES.indexOf(command.type));
  switch (command.type) {
    case 'registerSession':
      break;
    case 'keepAlive':
    case 'closeSession':
      out.uvarint(command.session);
      break;
    case 'op': {
      const { session, seq, lowestUnacked } = command.header;
      out.uvarint(session);
      out.uvarint(seq);
      out.uvarint(lowestUnacked);
      writeOp(out, command.op);
      break;
    }
  }
}

function writeOp(out: BinaryWriter, op: KvOp): void {
  out.byte(OP_TYPES.indexOf(op.type));
  switch (op.type) {
    case 'put':
      out.str(op.key);
      out.json(op.value);
      return;
    case 'delete':
      out.str(op.key);
      return;
    case 'cas':
      out.str(op.key);
      out.json(op.expected);
      out.json(op.next);
      return;
    case 'txn':
      out.uvarint(op.checks.length);
      for (const { key, version } of op.checks) {
        out.str(key);
        out.uvarint(version);
      }
      out.uvarint(op.writes.length);
      for (const write of op.writes) {
        out.byte(write.type === 'put' ? TXN_PUT : TXN_DELETE);
        out.str(write.key);
        if (write.type === 'put') out.json(write.value);
      }
  }
}

function keysOf(command: KvCommand): readonly string[] {
  if (command.type !== 'op') return [];
  const { op } = command;
  if (op.type !== 'txn') return [op.key];
  return [...op.checks.map((check) => check.key), ...op.writes.map((write) => write.key)];
}

/**
 * Writes fields into a scratch buffer it reuses, then copies them out once: a command costs one
 * allocation, not one per string (the leader encodes every write).
 */
class BinaryWriter {
  private static scratch = new Uint8Array(1024);
  /** A writer holds the scratch buffer: one started inside another (a value's toJSON) gets its own. */
  private static scratchTaken = false;
  private readonly ownsScratch = !BinaryWriter.scratchTaken;
  private buffer = this.ownsScratch ? BinaryWriter.scratch : new Uint8Array(1024);
  private at = 0;

  constructor() {
    if (this.ownsScratch) BinaryWriter.scratchTaken = true;
  }

  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.at++] = value;
  }

  uvarint(value: number): void {
    let rest = value;
    while (rest >= 0x80) {
      this.byte((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.byte(rest);
  }

  str(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: room for that, the length written after.
    const most = text.length * 3;
    const prefix = uvarintLength(most);
    this.reserve(prefix + most);
    const start = this.at + prefix;
    const { written } = textEncoder.encodeInto(text, this.buffer.subarray(start));
    const exact = uvarintLength(written);
    if (exact < prefix) this.buffer.copyWithin(this.at + exact, start, start + written);
    this.uvarint(written);
    this.at += written;
  }

  json(value: JsonValue | null): void {
    this.str(JSON.stringify(value));
  }

  /** A copy of the bytes written. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.at);
  }

  /** Gives the scratch buffer back for the next command. */
  release(): void {
    if (this.ownsScratch) BinaryWriter.scratchTaken = false;
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.at + bytes));
    grown.set(this.buffer.subarray(0, this.at));
    this.buffer = grown;
    // Kept for the next command unless it is unusually large (a 192 KiB command once).
    if (this.ownsScratch && grown.length <= SCRATCH_BYTES_KEPT) BinaryWriter.scratch = grown;
  }
}

const SCRATCH_BYTES_KEPT = 64 * 1024;

function uvarintLength(value: number): number {
  let length = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) length++;
  return length;
}

function toWire(command: KvCommand): object {
  const v = JSON_CODEC_VERSION;
  switch (command.type) {
    case 'registerSession':
      return { v, type: command.type };
    case 'keepAlive':
    case 'closeSession':
      return { v, type: command.type, session: command.session };
    case 'op': {
      const { session, seq, lowestUnacked } = command.header;
      return { v, type: 'op', header: { session, seq, lowestUnacked }, op: opToWire(command.op) };
    }
  }
}

function opToWire(op: KvOp): object {
  switch (op.type) {
    case 'put':
      return { type: 'put', key: op.key, value: op.value };
    case 'delete':
      return { type: 'delete', key: op.key };
    case 'cas':
      return { type: 'cas', key: op.key, expected: op.expected, next: op.next };
    case 'txn':
      return {
        type: 'txn',
        checks: op.checks.map(({ key, version }) => ({ key, version })),
        writes: op.writes.map((write) =>
          write.type === 'put'
            ? { type: 'put', key: write.key, value: write.value }
            : { type: 'delete', key: write.key },
        ),
      };
  }
}

/**
 * Why `command` would not decode as itself, or null: the decoder's own checks run on the shape
 * `encodeKvCommand` would write, with no bytes in between. Values must already be plain JSON
 * (what JSON.stringify keeps as it is), as the command builders check first.
 */
export function findKvCommandShapeViolation(command: KvCommand): string | null {
  try {
    readCommand(toWire(command));
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : 'invalid command';
  }
}

/** Decodes and validates a command. Never throws: bad bytes give `{ ok: false, code }`. */
export function decodeKvCommand(bytes: Uint8Array): KvDecodeResult {
  if (bytes.byteLength > KV_LIMITS.commandBytesMax) {
    const message = `command of ${bytes.byteLength} bytes is over the limit of ${KV_LIMITS.commandBytesMax}`;
    return { ok: false, code: 'TOO_LARGE', message };
  }
  try {
    if (bytes[0] === BINARY_TAG) return { ok: true, command: readBinaryCommand(bytes) };
    const raw: unknown = JSON.parse(textDecoder.decode(bytes));
    return { ok: true, command: readCommand(raw) };
  } catch (error) {
    // Deliberately catches everything: invalid UTF-8 (TypeError), invalid JSON (SyntaxError), a
    // shape mismatch (DecodeFailure) or a parser limit (RangeError) all mean "bad command".
    const message = error instanceof Error ? error.message : 'undecodable command';
    return { ok: false, code: 'BAD_COMMAND', message };
  }
}

/** Thrown inside the decoder only; `decodeKvCommand` turns it into a result. */
class DecodeFailure extends Error {
  override readonly name = 'DecodeFailure';
}

function readCommand(raw: unknown): KvCommand {
  const wire = readObject(raw, 'command');
  if (wire['v'] !== JSON_CODEC_VERSION) throw new DecodeFailure(`unsupported command format v`);
  switch (wire['type']) {
    case 'registerSession':
      expectFields(wire, ['v', 'type'], 'registerSession');
      return { type: 'registerSession' };
    case 'keepAlive':
    case 'closeSession':
      expectFields(wire, ['v', 'type', 'session'], wire['type']);
      return { type: wire['type'], session: readInteger(wire, 'session', 1) };
    case 'op':
      expectFields(wire, ['v', 'type', 'header', 'op'], 'op');
      return { type: 'op', header: readHeader(wire['header']), op: readOp(wire['op']) };
    default:
      throw new DecodeFailure('unknown command type');
  }
}

function readHeader(raw: unknown): SessionHeader {
  const wire = readObject(raw, 'header');
  expectFields(wire, ['session', 'seq', 'lowestUnacked'], 'header');
  const session = readInteger(wire, 'session', 1);
  const seq = readInteger(wire, 'seq', 1);
  const lowestUnacked = readInteger(wire, 'lowestUnacked', 1);
  if (lowestUnacked > seq) throw new DecodeFailure('header.lowestUnacked is above header.seq');
  return { session, seq, lowestUnacked };
}

function readOp(raw: unknown): KvOp {
  const wire = readObject(raw, 'op');
  switch (wire['type']) {
    case 'put':
      expectFields(wire, ['type', 'key', 'value'], 'put');
      return { type: 'put', key: readKey(wire, 'key'), value: readJson(wire, 'value') };
    case 'delete':
      expectFields(wire, ['type', 'key'], 'delete');
      return { type: 'delete', key: readKey(wire, 'key') };
    case 'cas':
      expectFields(wire, ['type', 'key', 'expected', 'next'], 'cas');
      return {
        type: 'cas',
        key: readKey(wire, 'key'),
        expected: readJson(wire, 'expected'),
        next: readJson(wire, 'next'),
      };
    case 'txn':
      expectFields(wire, ['type', 'checks', 'writes'], 'txn');
      return readTxn(wire);
    default:
      throw new DecodeFailure('unknown op type');
  }
}

function readTxn(wire: Record<string, unknown>): KvTxnOp {
  const checks = readArray(wire, 'checks').map((item): KvTxnCheck => {
    const check = readObject(item, 'txn check');
    expectFields(check, ['key', 'version'], 'txn check');
    return { key: readKey(check, 'key'), version: readInteger(check, 'version', 0) };
  });
  const writes = readArray(wire, 'writes').map(readTxnWrite);
  const writtenKeys = new Set(writes.map((write) => write.key));
  if (writtenKeys.size !== writes.length) throw new DecodeFailure('txn writes a key twice');
  return { type: 'txn', checks, writes };
}

function readTxnWrite(raw: unknown): KvTxnWrite {
  const write = readObject(raw, 'txn write');
  if (write['type'] === 'put') {
    expectFields(write, ['type', 'key', 'value'], 'txn put');
    return { type: 'put', key: readKey(write, 'key'), value: readJson(write, 'value') };
  }
  if (write['type'] === 'delete') {
    expectFields(write, ['type', 'key'], 'txn delete');
    return { type: 'delete', key: readKey(write, 'key') };
  }
  throw new DecodeFailure('unknown txn write type');
}

// --- v2: the binary format -----------------------------------------------------------------------

function readBinaryCommand(bytes: Uint8Array): KvCommand {
  const input = new BinaryReader(bytes);
  input.byte(); // The tag.
  const type = COMMAND_TYPES[input.byte()];
  let command: KvCommand;
  switch (type) {
    case 'registerSession':
      command = { type };
      break;
    case 'keepAlive':
    case 'closeSession':
      command = { type, session: input.integer('session', 1) };
      break;
    case 'op': {
      const session = input.integer('header.session', 1);
      const seq = input.integer('header.seq', 1);
      const lowestUnacked = input.integer('header.lowestUnacked', 1);
      if (lowestUnacked > seq) throw new DecodeFailure('header.lowestUnacked is above header.seq');
      command = { type, header: { session, seq, lowestUnacked }, op: readBinaryOp(input) };
      break;
    }
    default:
      throw new DecodeFailure('unknown command type');
  }
  input.end();
  return command;
}

function readBinaryOp(input: BinaryReader): KvOp {
  const type = OP_TYPES[input.byte()];
  switch (type) {
    case 'put':
      return { type, key: input.key(), value: input.json('value') };
    case 'delete':
      return { type, key: input.key() };
    case 'cas':
      return { type, key: input.key(), expected: input.json('expected'), next: input.json('next') };
    case 'txn': {
      const checks: KvTxnCheck[] = [];
      // Every item takes at least two bytes: a hostile count cannot make a huge array.
      const checkCount = input.count('txn checks');
      for (let i = 0; i < checkCount; i++) {
        checks.push({ key: input.key(), version: input.integer('txn check version', 0) });
      }
      const writes: KvTxnWrite[] = [];
      const writeCount = input.count('txn writes');
      for (let i = 0; i < writeCount; i++) {
        const kind = input.byte();
        if (kind === TXN_PUT)
          writes.push({ type: 'put', key: input.key(), value: input.json('value') });
        else if (kind === TXN_DELETE) writes.push({ type: 'delete', key: input.key() });
        else throw new DecodeFailure('unknown txn write type');
      }
      if (new Set(writes.map((write) => write.key)).size !== writes.length) {
        throw new DecodeFailure('txn writes a key twice');
      }
      return { type, checks, writes };
    }
    default:
      throw new DecodeFailure('unknown op type');
  }
}

/** Reads v2 fields in order; every read checks that its bytes are there. */
class BinaryReader {
  private at = 0;

  constructor(private readonly bytes: Uint8Array) {}

  byte(): number {
    if (this.at >= this.bytes.length) throw new DecodeFailure('command ends early');
    return this.bytes[this.at++]!;
  }

  /** A uvarint that is a safe integer of at least `min`. */
  integer(what: string, min: number): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < UVARINT_BYTES_MAX; i++) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        // One encoding per number: a last byte of 0 (after the first) only pads.
        if (byte === 0 && i > 0) throw new DecodeFailure(`${what} is not minimally encoded`);
        return read.integer(value, what, min);
      }
      scale *= 0x80;
    }
    throw new DecodeFailure(`${what} is longer than ${UVARINT_BYTES_MAX} bytes`);
  }

  count(what: string): number {
    const count = this.integer(what, 0);
    if (count * 2 > this.bytes.length - this.at) throw new DecodeFailure(`${what} ends early`);
    return count;
  }

  key(): string {
    const key = this.str('key');
    if (key.length === 0) throw new DecodeFailure('key must be a non-empty string');
    return key;
  }

  json(what: string): JsonValue {
    return read.json(JSON.parse(this.str(what)), what);
  }

  end(): void {
    if (this.at !== this.bytes.length) throw new DecodeFailure('bytes after the command');
  }

  private str(what: string): string {
    const length = this.integer(`${what} length`, 0);
    if (length > this.bytes.length - this.at) throw new DecodeFailure(`${what} ends early`);
    const text = textDecoder.decode(this.bytes.subarray(this.at, this.at + length));
    this.at += length;
    return text;
  }
}

// --- field readers: each throws DecodeFailure on a mismatch --------------------------------------

const read = createWireReaders((message) => new DecodeFailure(message));
const readObject = read.object;
const expectFields = read.exactFields;

function readInteger(wire: Record<string, unknown>, field: string, min: number): number {
  return read.integer(wire[field], field, min);
}

function readKey(wire: Record<string, unknown>, field: string): string {
  const value = wire[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new DecodeFailure(`${field} must be a non-empty string`);
  }
  return value;
}

function readJson(wire: Record<string, unknown>, field: string): JsonValue {
  return read.json(wire[field], field);
}

function readArray(wire: Record<string, unknown>, field: string): readonly unknown[] {
  return read.array(wire[field], field);
}
