/**
 * JSON values as the state machine needs them: a bounded shape check for untrusted input, deep
 * freezing (stored values are shared with readers), deep equality for compare-and-set, and a
 * canonical encoding (sorted keys) so that equal states print equally on every member.
 */
import { assert } from '../core/errors.js';
import type { JsonValue } from './kv-types.js';

/**
 * True if `raw` is a JSON value nested at most `depthMax` levels: null, a boolean, a finite
 * number, a string, a dense array or a plain object of such values. Cycles fail the depth bound.
 */
export function isJsonValue(raw: unknown, depthMax: number): raw is JsonValue {
  assert(Number.isInteger(depthMax) && depthMax >= 0, 'depthMax is a non-negative integer');
  return isJsonValueWithin(raw, depthMax);
}

function isJsonValueWithin(raw: unknown, depthLeft: number): boolean {
  if (raw === null || typeof raw === 'boolean' || typeof raw === 'string') return true;
  if (typeof raw === 'number') return Number.isFinite(raw);
  if (typeof raw !== 'object' || depthLeft === 0) return false;
  if (Array.isArray(raw)) {
    for (let i = 0; i < raw.length; i++) {
      if (!(i in raw) || !isJsonValueWithin(raw[i], depthLeft - 1)) return false;
    }
    return true;
  }
  if (!isPlainObject(raw)) return false;
  for (const key of Object.keys(raw)) {
    if (!isJsonValueWithin(raw[key], depthLeft - 1)) return false;
  }
  return true;
}

/** True for `{}`-like objects (prototype Object.prototype or null), the only objects JSON makes. */
export function isPlainObject(raw: unknown): raw is Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
  const prototype: unknown = Object.getPrototypeOf(raw);
  return prototype === Object.prototype || prototype === null;
}

/** Freezes `value` and everything inside it; returns it. Only for values that passed isJsonValue. */
export function deepFreezeJson<T extends JsonValue>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreezeJson(child as JsonValue);
  return Object.freeze(value);
}

/** Deep equality of two JSON values: same shape, same primitives, object key order ignored. */
export function jsonEquals(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item: JsonValue, i) => jsonEquals(item, b[i] as JsonValue));
  }
  const objectA = a as { readonly [key: string]: JsonValue };
  const objectB = b as { readonly [key: string]: JsonValue };
  const keysA = Object.keys(objectA);
  if (keysA.length !== Object.keys(objectB).length) return false;
  return keysA.every(
    (key) =>
      Object.hasOwn(objectB, key) &&
      jsonEquals(objectA[key] as JsonValue, objectB[key] as JsonValue),
  );
}

/**
 * JSON text of `value` with object keys sorted, so equal data always prints the same. Accepts any
 * JSON-shaped data (result objects included); properties that are `undefined` are left out, as
 * JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    assert(Number.isFinite(value), 'canonical JSON holds finite numbers only');
    return JSON.stringify(value);
  }
  if (Array.isArray(value))
    return `[${value.map((item: unknown) => canonicalJson(item)).join(',')}]`;
  assert(isPlainObject(value), () => `canonical JSON cannot encode a ${typeof value}`);
  const fields: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const field = value[key];
    if (field !== undefined) fields.push(`${JSON.stringify(key)}:${canonicalJson(field)}`);
  }
  return `{${fields.join(',')}}`;
}

/** Bytes of `text` in UTF-8, as TextEncoder would write it (a lone surrogate becomes 3 bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (isSurrogatePair(unit, text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isSurrogatePair(high: number, low: number): boolean {
  return high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff;
}
