/**
 * Bytes <-> KV commands. For now a command is UTF-8 JSON with a format version `v`; a binary codec
 * arrives with the wire issue. Decoding treats the bytes as hostile: it checks every field's type
 * and shape (exactly the expected fields, safe integers, finite numbers, bounded nesting) and
 * never throws; anything else decodes to a `BAD_COMMAND` failure. Size limits on keys and values
 * are checked later by the state machine, so they can be answered (and cached) per session.
 */
import { KV_LIMITS } from './kv-limits.js';
import { createWireReaders } from './wire-readers.js';
import type { JsonValue, KvCommand, KvOp, KvTxnCheck, KvTxnOp, KvTxnWrite } from './kv-types.js';
import type { SessionHeader } from './sessions.js';

/** The `v` field of every encoded command. */
export const KV_CODEC_VERSION = 1;

export type KvDecodeResult =
  | { readonly ok: true; readonly command: KvCommand }
  | { readonly ok: false; readonly code: 'BAD_COMMAND' | 'TOO_LARGE'; readonly message: string };

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a command. It does not check limits or values; see `kvCommand` for checked builders. */
export function encodeKvCommand(command: KvCommand): Uint8Array {
  return textEncoder.encode(JSON.stringify(toWire(command)));
}

function toWire(command: KvCommand): object {
  const v = KV_CODEC_VERSION;
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
  if (wire['v'] !== KV_CODEC_VERSION) throw new DecodeFailure(`unsupported command format v`);
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
