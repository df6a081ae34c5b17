/**
 * The KV state machine's snapshot format: the whole replicated state — keys (value, version,
 * modIndex), client sessions with their cached responses and last activity, log time and the
 * applied index — as versioned, checksummed bytes. The layout is UTF-8 text:
 *
 *     webraft-kv-snapshot/<version> <16 hex digits>\n<body>
 *
 * where the body is canonical JSON (sorted object keys, so equal states give equal bytes on every
 * member) and the hex digits are `hashText(body)`. Decoding treats the bytes as hostile, like the
 * command codec: header, version, checksum and every field are checked (exact field sets, safe
 * integers, key order, the limits of the restoring machine), and anything else throws
 * `SnapshotFormatError` (code `BAD_SNAPSHOT`). The checksum catches corruption, not forgery.
 */
import { RaftError } from '../core/errors.js';
import { hashText } from './digest.js';
import { canonicalJson } from './json.js';
import { findOpLimitViolation } from './kv-limits.js';
import { createWireReaders } from './wire-readers.js';
import type {
  KvCasResult,
  KvEntry,
  KvErrorCode,
  KvErrorResult,
  KvOpResult,
  KvTxnResult,
} from './kv-types.js';
import { findSessionTableStateViolation } from './sessions.js';
import type { SessionOptions, SessionSnapshot, SessionTableState } from './sessions.js';

/** The format version written in the header of every snapshot. */
export const KV_SNAPSHOT_VERSION = 1;

const MAGIC = 'webraft-kv-snapshot';
const HEADER_PATTERN = /^webraft-kv-snapshot\/(\d{1,9}) ([0-9a-f]{16})$/;
/** Longest header line, in characters; the newline must come within it. */
const HEADER_LENGTH_MAX = 64;

/** Bytes given to `restore` that are not a valid snapshot for this state machine at that index. */
export class SnapshotFormatError extends RaftError {
  readonly code = 'BAD_SNAPSHOT';
  constructor(message: string) {
    super(`bad snapshot: ${message}`);
    this.name = 'SnapshotFormatError';
  }
}

/** Everything a KV state machine replicates, as plain data. */
export interface KvSnapshotState {
  readonly appliedIndex: number;
  /** Every key, in strictly ascending key order. */
  readonly entries: readonly KvEntry[];
  readonly sessions: SessionTableState<KvOpResult>;
}

/** The bounds a decoded snapshot must respect: those of the machine that restores it. */
export interface KvSnapshotLimits extends Readonly<Required<SessionOptions>> {
  readonly keysMax: number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a state as snapshot bytes. Deterministic: equal states give equal bytes. */
export function encodeKvSnapshot(state: KvSnapshotState): Uint8Array {
  const body = canonicalJson({
    appliedIndex: state.appliedIndex,
    logTimeMs: state.sessions.logTimeMs,
    lastOpenedId: state.sessions.lastOpenedId,
    keys: state.entries.map((entry) => [entry.key, entry.value, entry.version, entry.modIndex]),
    sessions: state.sessions.sessions.map((session) => ({
      id: session.id,
      lastActiveMs: session.lastActiveMs,
      discardedBelowSeq: session.discardedBelowSeq,
      responses: session.responses.map(([seq, response]) => [seq, response]),
    })),
  });
  return textEncoder.encode(`${MAGIC}/${KV_SNAPSHOT_VERSION} ${hashText(body)}\n${body}`);
}

/**
 * Decodes and validates snapshot bytes that must have been taken at `index`, for a machine with
 * `limits`. Throws SnapshotFormatError on anything else; never returns partial state. Values and
 * cached responses come back deeply frozen.
 */
export function decodeKvSnapshot(
  bytes: Uint8Array,
  index: number,
  limits: KvSnapshotLimits,
): KvSnapshotState {
  const wire = readObject(readBody(bytes), 'snapshot');
  expectFields(wire, ['appliedIndex', 'keys', 'lastOpenedId', 'logTimeMs', 'sessions'], 'snapshot');
  const appliedIndex = readInteger(wire['appliedIndex'], 'appliedIndex', 0);
  if (appliedIndex !== index) {
    throw new SnapshotFormatError(`taken at index ${appliedIndex}, restored at ${index}`);
  }
  const entries = readKeys(wire['keys'], appliedIndex, limits.keysMax);
  const sessions: SessionTableState<KvOpResult> = {
    logTimeMs: readFiniteNumber(wire['logTimeMs'], 'logTimeMs'),
    lastOpenedId: readInteger(wire['lastOpenedId'], 'lastOpenedId', 0, appliedIndex),
    sessions: readArray(wire['sessions'], 'sessions').map((raw) => readSession(raw, appliedIndex)),
  };
  const violation = findSessionTableStateViolation(sessions, limits);
  if (violation !== null) throw new SnapshotFormatError(violation);
  return { appliedIndex, entries, sessions };
}

/** Checks the header and checksum and parses the body. */
function readBody(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = textDecoder.decode(bytes);
  } catch (_error) {
    // TypeError for invalid UTF-8, RangeError for a text too long for a string: both are bad bytes.
    throw new SnapshotFormatError('not UTF-8 text of a supported length');
  }
  const newline = text.indexOf('\n');
  if (newline < 0 || newline > HEADER_LENGTH_MAX) {
    throw new SnapshotFormatError('no snapshot header');
  }
  const header = HEADER_PATTERN.exec(text.slice(0, newline));
  if (header === null) throw new SnapshotFormatError('not a KV snapshot header');
  if (Number(header[1]) !== KV_SNAPSHOT_VERSION) {
    throw new SnapshotFormatError(`unsupported format version ${header[1]}`);
  }
  const body = text.slice(newline + 1);
  if (hashText(body) !== header[2]) throw new SnapshotFormatError('checksum mismatch');
  try {
    return JSON.parse(body) as unknown;
  } catch (_error) {
    throw new SnapshotFormatError('body is not JSON');
  }
}

function readKeys(raw: unknown, appliedIndex: number, keysMax: number): KvEntry[] {
  const list = readArray(raw, 'keys');
  if (list.length > keysMax) {
    throw new SnapshotFormatError(`${list.length} keys are over the limit of ${keysMax}`);
  }
  const entries: KvEntry[] = [];
  let previousKey: string | null = null;
  for (const item of list) {
    const entry = readEntry(item, appliedIndex);
    if (previousKey !== null && !(previousKey < entry.key)) {
      throw new SnapshotFormatError(
        `keys are not strictly ascending at "${entry.key.slice(0, 64)}"`,
      );
    }
    previousKey = entry.key;
    entries.push(entry);
  }
  return entries;
}

function readEntry(raw: unknown, appliedIndex: number): KvEntry {
  if (!Array.isArray(raw) || raw.length !== 4) {
    throw new SnapshotFormatError('a key is not [key, value, version, modIndex]');
  }
  const [key, value, version, modIndex] = raw as readonly unknown[];
  if (typeof key !== 'string' || key.length === 0) {
    throw new SnapshotFormatError('a key is not a non-empty string');
  }
  const json = readJson(value, 'value');
  const violation = findOpLimitViolation({ type: 'put', key, value: json });
  if (violation !== null) throw new SnapshotFormatError(violation);
  return Object.freeze({
    key,
    value: json,
    version: readInteger(version, 'version', 1),
    modIndex: readInteger(modIndex, 'modIndex', 1, appliedIndex),
  });
}

function readSession(raw: unknown, appliedIndex: number): SessionSnapshot<KvOpResult> {
  const wire = readObject(raw, 'session');
  expectFields(wire, ['discardedBelowSeq', 'id', 'lastActiveMs', 'responses'], 'session');
  const id = readInteger(wire['id'], 'session id', 1, appliedIndex);
  const responses = readArray(wire['responses'], 'responses').map(
    (item): readonly [number, KvOpResult] => {
      if (!Array.isArray(item) || item.length !== 2) {
        throw new SnapshotFormatError('a cached response is not [seq, response]');
      }
      const [seq, response] = item as readonly unknown[];
      return [readInteger(seq, 'seq', 1), readOpResult(response, id, appliedIndex)];
    },
  );
  return {
    id,
    lastActiveMs: readFiniteNumber(wire['lastActiveMs'], 'lastActiveMs'),
    discardedBelowSeq: readInteger(wire['discardedBelowSeq'], 'discardedBelowSeq', 1),
    responses,
  };
}

/** A cached response of session `sessionId`: it comes from an entry in (sessionId, appliedIndex]. */
function readOpResult(raw: unknown, sessionId: number, appliedIndex: number): KvOpResult {
  const wire = readObject(raw, 'response');
  const index = readInteger(wire['index'], 'response index', sessionId + 1, appliedIndex);
  switch (wire['type']) {
    case 'put':
      expectFields(wire, ['index', 'ok', 'type', 'version'], 'put response');
      expectValue(wire['ok'], true, 'put response ok');
      return Object.freeze({
        type: 'put',
        ok: true,
        index,
        version: readInteger(wire['version'], 'version', 1),
      });
    case 'delete':
      expectFields(wire, ['index', 'ok', 'previousVersion', 'type', 'version'], 'delete response');
      expectValue(wire['ok'], true, 'delete response ok');
      expectValue(wire['version'], 0, 'delete response version');
      return Object.freeze({
        type: 'delete',
        ok: true,
        index,
        version: 0,
        previousVersion: readInteger(wire['previousVersion'], 'previousVersion', 0),
      });
    case 'cas':
      return readCasResult(wire, index);
    case 'txn':
      return readTxnResult(wire, index);
    case 'error':
      return readErrorResult(wire, index);
    default:
      throw new SnapshotFormatError('unknown response type');
  }
}

function readCasResult(wire: Record<string, unknown>, index: number): KvCasResult {
  expectFields(wire, ['current', 'index', 'ok', 'type'], 'cas response');
  const ok = readBoolean(wire['ok'], 'cas response ok');
  const raw = wire['current'];
  if (raw === null) {
    if (ok) throw new SnapshotFormatError('a successful cas response has no current value');
    return Object.freeze({ type: 'cas', ok, index, current: null });
  }
  const current = readObject(raw, 'cas current');
  expectFields(current, ['value', 'version'], 'cas current');
  const value = readJson(current['value'], 'cas current value');
  const version = readInteger(current['version'], 'cas current version', 1);
  return Object.freeze({ type: 'cas', ok, index, current: Object.freeze({ value, version }) });
}

function readTxnResult(wire: Record<string, unknown>, index: number): KvTxnResult {
  expectFields(wire, ['failedChecks', 'index', 'ok', 'type'], 'txn response');
  const ok = readBoolean(wire['ok'], 'txn response ok');
  const failedChecks = readArray(wire['failedChecks'], 'failedChecks').map((key) => {
    if (typeof key !== 'string' || key.length === 0) {
      throw new SnapshotFormatError('a failed check is not a non-empty string');
    }
    return key;
  });
  if (ok !== (failedChecks.length === 0)) {
    throw new SnapshotFormatError('a txn response is ok exactly when no check failed');
  }
  return Object.freeze({ type: 'txn', ok, index, failedChecks: Object.freeze(failedChecks) });
}

/** Every error code, so a decoded one can be checked (a Record keeps the list exhaustive). */
const ERROR_CODES: Readonly<Record<KvErrorCode, true>> = Object.freeze({
  BAD_COMMAND: true,
  TOO_LARGE: true,
  TOO_MANY_KEYS: true,
  SESSION_EXPIRED: true,
  SEQ_DISCARDED: true,
});

function readErrorResult(wire: Record<string, unknown>, index: number): KvErrorResult {
  expectFields(wire, ['code', 'index', 'message', 'ok', 'type'], 'error response');
  expectValue(wire['ok'], false, 'error response ok');
  const code = wire['code'];
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code)) {
    throw new SnapshotFormatError('unknown error code in a cached response');
  }
  const message = wire['message'];
  if (typeof message !== 'string') throw new SnapshotFormatError('error message is not a string');
  return Object.freeze({ type: 'error', ok: false, code: code as KvErrorCode, index, message });
}

// --- value readers: each throws SnapshotFormatError on a mismatch --------------------------------

const read = createWireReaders((message) => new SnapshotFormatError(message));
const readObject = read.object;
const expectFields = read.exactFields;
const readInteger = read.integer;
const readArray = read.array;
const readJson = read.json;

function expectValue(raw: unknown, expected: boolean | number, what: string): void {
  if (raw !== expected) throw new SnapshotFormatError(`${what} must be ${String(expected)}`);
}

function readFiniteNumber(raw: unknown, what: string): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    throw new SnapshotFormatError(`${what} must be a finite number`);
  }
  return raw;
}

function readBoolean(raw: unknown, what: string): boolean {
  if (typeof raw !== 'boolean') throw new SnapshotFormatError(`${what} must be a boolean`);
  return raw;
}
