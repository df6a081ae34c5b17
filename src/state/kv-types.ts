/**
 * Public types of the replicated key-value state machine: the values it stores, the commands a
 * client proposes, the results each command yields, the queries it answers and the change events
 * it emits. Plain data only, so all of it crosses a worker boundary (structured clone) unchanged.
 */
import type { SessionHeader } from './sessions.js';

/** A value JSON can represent exactly (no undefined, NaN, Infinity, functions or class instances). */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

// ---------------------------------------------------------------------------------------------
// Operations on keys
// ---------------------------------------------------------------------------------------------

/** Sets `key` to `value`, creating it (version 1) or changing it (version + 1). */
export interface KvPutOp {
  readonly type: 'put';
  readonly key: string;
  readonly value: JsonValue;
}

/** Removes `key`. Removing a missing key succeeds and changes nothing. */
export interface KvDeleteOp {
  readonly type: 'delete';
  readonly key: string;
}

/**
 * Compare-and-set: sets `key` to `next` only if its current value deep-equals `expected`
 * (`expected: null` means the key must be absent).
 */
export interface KvCasOp {
  readonly type: 'cas';
  readonly key: string;
  readonly expected: JsonValue | null;
  readonly next: JsonValue;
}

/** A version check of a transaction: `version: 0` means the key must be absent. */
export interface KvTxnCheck {
  readonly key: string;
  readonly version: number;
}

/** One write of a transaction. A transaction writes each key at most once. */
export type KvTxnWrite =
  | { readonly type: 'put'; readonly key: string; readonly value: JsonValue }
  | { readonly type: 'delete'; readonly key: string };

/** All-or-nothing: if every check holds, every write is applied; otherwise nothing is. */
export interface KvTxnOp {
  readonly type: 'txn';
  readonly checks: readonly KvTxnCheck[];
  readonly writes: readonly KvTxnWrite[];
}

/** An operation on keys; it always travels inside a session command. */
export type KvOp = KvPutOp | KvDeleteOp | KvCasOp | KvTxnOp;

// ---------------------------------------------------------------------------------------------
// Commands (what is proposed to the log)
// ---------------------------------------------------------------------------------------------

/** Opens a client session. The session id is the log index of this command. */
export interface KvRegisterSessionCommand {
  readonly type: 'registerSession';
}

/** Marks a session active (by log time) without doing anything else. */
export interface KvKeepAliveCommand {
  readonly type: 'keepAlive';
  readonly session: number;
}

/** Forgets a session and its cached responses. Later commands from it get `SESSION_EXPIRED`. */
export interface KvCloseSessionCommand {
  readonly type: 'closeSession';
  readonly session: number;
}

/** An operation on keys from a session, applied at most once per `(session, seq)`. */
export interface KvOpCommand {
  readonly type: 'op';
  readonly header: SessionHeader;
  readonly op: KvOp;
}

/** Everything the KV state machine accepts from the log. */
export type KvCommand =
  KvRegisterSessionCommand | KvKeepAliveCommand | KvCloseSessionCommand | KvOpCommand;

// ---------------------------------------------------------------------------------------------
// Results (what `apply` returns; cached per session for exactly-once)
// ---------------------------------------------------------------------------------------------

/** A key's value together with its version, as seen by a compare-and-set. */
export interface KvVersionedValue {
  readonly value: JsonValue;
  readonly version: number;
}

export interface KvPutResult {
  readonly type: 'put';
  readonly ok: true;
  readonly index: number;
  /** The key's version after the put (1 if it was created). */
  readonly version: number;
}

export interface KvDeleteResult {
  readonly type: 'delete';
  readonly ok: true;
  readonly index: number;
  /** Always 0: after a delete the key is absent. */
  readonly version: 0;
  /** The version the key had before the delete; 0 if it was already absent. */
  readonly previousVersion: number;
}

export interface KvCasResult {
  readonly type: 'cas';
  readonly ok: boolean;
  readonly index: number;
  /** The key after the command: the new value if `ok`, otherwise the value that did not match. */
  readonly current: KvVersionedValue | null;
}

export interface KvTxnResult {
  readonly type: 'txn';
  readonly ok: boolean;
  readonly index: number;
  /** Keys whose check failed, in the order of the checks; empty if `ok`. */
  readonly failedChecks: readonly string[];
}

export interface KvSessionRegisteredResult {
  readonly type: 'registerSession';
  readonly ok: true;
  readonly index: number;
  /** The new session's id (equal to `index`). */
  readonly session: number;
}

export interface KvKeepAliveResult {
  readonly type: 'keepAlive';
  readonly ok: true;
  readonly index: number;
}

export interface KvCloseSessionResult {
  readonly type: 'closeSession';
  readonly ok: true;
  readonly index: number;
}

/**
 * Why a command was not applied (or, for `TOO_LARGE`/`TOO_MANY_KEYS`, applied as a refusal):
 * - `BAD_COMMAND`: the bytes do not decode to a valid command; nothing happened.
 * - `TOO_LARGE`: a key, value, transaction or the command itself is over a limit.
 * - `TOO_MANY_KEYS`: the store holds `keysMax` keys and the command would add more.
 * - `SESSION_EXPIRED`: the session is unknown (expired, evicted, closed or never opened).
 * - `SEQ_DISCARDED`: the response for this sequence number was already discarded; the client had
 *   acknowledged it (`lowestUnacked` passed it) or it fell out of the bounded response cache.
 */
export type KvErrorCode =
  'BAD_COMMAND' | 'TOO_LARGE' | 'TOO_MANY_KEYS' | 'SESSION_EXPIRED' | 'SEQ_DISCARDED';

export interface KvErrorResult {
  readonly type: 'error';
  readonly ok: false;
  readonly code: KvErrorCode;
  readonly index: number;
  readonly message: string;
}

/** What an operation on keys yields (cached per session). */
export type KvOpResult = KvPutResult | KvDeleteResult | KvCasResult | KvTxnResult | KvErrorResult;

/** What `KvStateMachine.apply` returns. */
export type KvResult =
  KvOpResult | KvSessionRegisteredResult | KvKeepAliveResult | KvCloseSessionResult;

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/** One stored key. `modIndex` is the log index of the command that last changed it. */
export interface KvEntry {
  readonly key: string;
  readonly value: JsonValue;
  readonly version: number;
  readonly modIndex: number;
}

export interface KvGetQuery {
  readonly type: 'get';
  readonly key: string;
}

/** Keys in ascending order (UTF-16 code unit order), optionally under a prefix and after a key. */
export interface KvRangeQuery {
  readonly type: 'range';
  readonly prefix?: string;
  /** Exclusive lower bound, to page: pass the last key of the previous page. */
  readonly after?: string;
  /** At most this many entries; default and maximum `KV_LIMITS.rangeEntriesMax`. */
  readonly limit?: number;
}

export type KvQuery = KvGetQuery | KvRangeQuery;

export type KvGetResult = KvEntry | null;

export interface KvRangeResult {
  readonly entries: readonly KvEntry[];
  /** True if more keys match beyond `limit`. */
  readonly more: boolean;
}

export type KvQueryResult = KvGetResult | KvRangeResult;

// ---------------------------------------------------------------------------------------------
// Change events
// ---------------------------------------------------------------------------------------------

/** One key changed by an applied command. `value: null` and `version: 0` mean it was deleted. */
export interface KvChange {
  readonly key: string;
  readonly value: JsonValue | null;
  readonly version: number;
  readonly index: number;
}

/** Receives the changes of one applied command (never an empty list). */
export type KvChangeListener = (changes: readonly KvChange[]) => void;
