/**
 * Strict readers for decoded JSON (commands from the log, snapshots from a leader): each checks
 * one shape and throws the caller's error on a mismatch, so decoders read like the format they
 * accept and never let a malformed field through.
 */
import { KV_LIMITS } from './kv-limits.js';
import { deepFreezeJson, isJsonValue, isPlainObject } from './json.js';
import type { JsonValue } from './kv-types.js';

export interface WireReaders {
  object(raw: unknown, what: string): Record<string, unknown>;
  /** Requires exactly `fields` to be present (no missing, no extra). */
  exactFields(wire: Record<string, unknown>, fields: readonly string[], what: string): void;
  integer(raw: unknown, what: string, min: number, max?: number): number;
  array(raw: unknown, what: string): readonly unknown[];
  /** A JSON value within the KV depth limit, deep-frozen. */
  json(raw: unknown, what: string): JsonValue;
}

/** Readers that throw `fail(message)` on a mismatch. */
export function createWireReaders(fail: (message: string) => Error): WireReaders {
  return {
    object(raw, what) {
      if (!isPlainObject(raw)) throw fail(`${what} is not an object`);
      return raw;
    },
    exactFields(wire, fields, what) {
      const exact =
        Object.keys(wire).length === fields.length &&
        fields.every((field) => Object.hasOwn(wire, field));
      if (!exact) throw fail(`${what} must have exactly the fields ${fields.join(', ')}`);
    },
    integer(raw, what, min, max = Number.MAX_SAFE_INTEGER) {
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < min || raw > max) {
        throw fail(`${what} must be a safe integer in [${min}, ${max}]`);
      }
      return raw;
    },
    array(raw, what) {
      if (!Array.isArray(raw)) throw fail(`${what} must be an array`);
      return raw;
    },
    json(raw, what) {
      if (!isJsonValue(raw, KV_LIMITS.valueDepthMax)) {
        throw fail(`${what} must be JSON nested at most ${KV_LIMITS.valueDepthMax} deep`);
      }
      return deepFreezeJson(raw);
    },
  };
}
