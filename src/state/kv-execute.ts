/**
 * The meaning of each KV operation: runs one decoded operation against the store at a log index
 * and returns its result and the keys it changed. Deterministic; results are frozen because they
 * are cached per session and handed to every retry.
 */
import { findOpLimitViolation } from './kv-limits.js';
import { jsonEquals } from './json.js';
import type { KvStore } from './kv-store.js';
import type {
  KvCasOp,
  KvChange,
  KvErrorCode,
  KvErrorResult,
  KvOp,
  KvOpResult,
  KvTxnOp,
  KvVersionedValue,
} from './kv-types.js';

/** The result of one operation and the changes it made (empty if it changed nothing). */
export interface OpOutcome {
  readonly result: KvOpResult;
  readonly changes: readonly KvChange[];
}

const NO_CHANGES: readonly KvChange[] = Object.freeze([]);

/** A frozen error result. */
export function kvError(code: KvErrorCode, index: number, message: string): KvErrorResult {
  return Object.freeze({ type: 'error', ok: false, code, index, message });
}

/** Runs `op` at log index `index`, refusing it if it is over a limit or would exceed `keysMax`. */
export function executeOp(store: KvStore, op: KvOp, index: number, keysMax: number): OpOutcome {
  const violation = findOpLimitViolation(op);
  if (violation !== null) return refuse(kvError('TOO_LARGE', index, violation));
  switch (op.type) {
    case 'put': {
      if (store.get(op.key) === null && store.size >= keysMax) return refuseKeys(store, index);
      const entry = store.set(op.key, op.value, index);
      const result = Object.freeze({
        type: 'put',
        ok: true,
        index,
        version: entry.version,
      } as const);
      return { result, changes: [change(op.key, entry.value, entry.version, index)] };
    }
    case 'delete': {
      const previousVersion = store.remove(op.key);
      const result = Object.freeze({
        type: 'delete',
        ok: true,
        index,
        version: 0,
        previousVersion,
      } as const);
      return {
        result,
        changes: previousVersion === 0 ? NO_CHANGES : [change(op.key, null, 0, index)],
      };
    }
    case 'cas':
      return executeCas(store, op, index, keysMax);
    case 'txn':
      return executeTxn(store, op, index, keysMax);
  }
}

function refuse(result: KvErrorResult): OpOutcome {
  return { result, changes: NO_CHANGES };
}

function refuseKeys(store: KvStore, index: number): OpOutcome {
  const message = `the store holds ${store.size} keys; the limit is reached`;
  return refuse(kvError('TOO_MANY_KEYS', index, message));
}

/** How many keys the writes of a transaction add (negative if they remove more than they add). */
function keysAddedByTxn(store: KvStore, op: KvTxnOp): number {
  let added = 0;
  for (const write of op.writes) {
    const exists = store.get(write.key) !== null;
    if (write.type === 'put' && !exists) added++;
    if (write.type === 'delete' && exists) added--;
  }
  return added;
}

function executeCas(store: KvStore, op: KvCasOp, index: number, keysMax: number): OpOutcome {
  const current = store.get(op.key);
  const matches =
    op.expected === null
      ? current === null
      : current !== null && jsonEquals(current.value, op.expected);
  if (!matches) {
    const seen: KvVersionedValue | null =
      current === null ? null : Object.freeze({ value: current.value, version: current.version });
    return {
      result: Object.freeze({ type: 'cas', ok: false, index, current: seen }),
      changes: NO_CHANGES,
    };
  }
  if (current === null && store.size >= keysMax) return refuseKeys(store, index);
  const entry = store.set(op.key, op.next, index);
  const next = Object.freeze({ value: entry.value, version: entry.version });
  return {
    result: Object.freeze({ type: 'cas', ok: true, index, current: next }),
    changes: [change(op.key, entry.value, entry.version, index)],
  };
}

function executeTxn(store: KvStore, op: KvTxnOp, index: number, keysMax: number): OpOutcome {
  const failedChecks = op.checks
    .filter((check) => (store.get(check.key)?.version ?? 0) !== check.version)
    .map((check) => check.key);
  if (failedChecks.length > 0) {
    const result = Object.freeze({
      type: 'txn',
      ok: false,
      index,
      failedChecks: Object.freeze(failedChecks),
    });
    return { result, changes: NO_CHANGES };
  }
  if (store.size + keysAddedByTxn(store, op) > keysMax) return refuseKeys(store, index);
  const changes: KvChange[] = [];
  for (const write of op.writes) {
    if (write.type === 'put') {
      const entry = store.set(write.key, write.value, index);
      changes.push(change(write.key, entry.value, entry.version, index));
    } else if (store.remove(write.key) > 0) {
      changes.push(change(write.key, null, 0, index));
    }
  }
  const result = Object.freeze({ type: 'txn', ok: true, index, failedChecks: NO_FAILED_CHECKS });
  return { result, changes };
}

const NO_FAILED_CHECKS: readonly string[] = Object.freeze([]);

function change(key: string, value: KvChange['value'], version: number, index: number): KvChange {
  return Object.freeze({ key, value, version, index });
}
