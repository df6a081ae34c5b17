/**
 * The bounds of the KV state machine (TigerBeetle: put a limit on everything) and the check that
 * an operation respects them. A command over a bound is refused with `TOO_LARGE`, never stored.
 */
import { utf8ByteLength } from './json.js';
import type { JsonValue, KvOp } from './kv-types.js';

export const KV_LIMITS = Object.freeze({
  /** Longest key, in UTF-16 code units (JS string length). */
  keyLengthMax: 1024,
  /** Largest value, in bytes of its UTF-8 JSON encoding. */
  valueBytesMax: 64 * 1024,
  /**
   * Largest encoded command; checked before decoding. An entry travels whole in one frame, and a
   * frame must fit one WebRTC data-channel message (256 KiB in Chromium).
   */
  commandBytesMax: 192 * 1024,
  /** Deepest nesting of arrays/objects in a value. */
  valueDepthMax: 64,
  /** Most checks and most writes in one transaction (each). */
  txnChecksMax: 128,
  txnWritesMax: 128,
  /** Most entries one range query returns. */
  rangeEntriesMax: 1000,
});

/** Returns why `op` is over a limit, or null if it is within all of them. */
export function findOpLimitViolation(op: KvOp): string | null {
  switch (op.type) {
    case 'put':
      return findKeyViolation(op.key) ?? findValueViolation(op.key, op.value);
    case 'delete':
      return findKeyViolation(op.key);
    case 'cas':
      return findKeyViolation(op.key) ?? findValueViolation(op.key, op.next);
    case 'txn':
      return findTxnViolation(op);
  }
}

function findTxnViolation(op: Extract<KvOp, { type: 'txn' }>): string | null {
  if (op.checks.length > KV_LIMITS.txnChecksMax) {
    return `transaction has ${op.checks.length} checks; the limit is ${KV_LIMITS.txnChecksMax}`;
  }
  if (op.writes.length > KV_LIMITS.txnWritesMax) {
    return `transaction has ${op.writes.length} writes; the limit is ${KV_LIMITS.txnWritesMax}`;
  }
  for (const check of op.checks) {
    const violation = findKeyViolation(check.key);
    if (violation !== null) return violation;
  }
  for (const write of op.writes) {
    const violation =
      findKeyViolation(write.key) ??
      (write.type === 'put' ? findValueViolation(write.key, write.value) : null);
    if (violation !== null) return violation;
  }
  return null;
}

function findKeyViolation(key: string): string | null {
  if (key.length <= KV_LIMITS.keyLengthMax) return null;
  return `key of length ${key.length} is over the limit of ${KV_LIMITS.keyLengthMax}`;
}

function findValueViolation(key: string, value: JsonValue): string | null {
  const bytes = utf8ByteLength(JSON.stringify(value));
  if (bytes <= KV_LIMITS.valueBytesMax) return null;
  return `value of ${bytes} bytes for key "${key.slice(0, 64)}" is over the limit of ${KV_LIMITS.valueBytesMax}`;
}
