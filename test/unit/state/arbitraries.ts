/**
 * fast-check generators of KV operations over a small key space, shared by the state machine's
 * property tests (determinism, snapshots).
 */
import fc from 'fast-check';
import type { JsonValue, KvOp } from '../../../src/state/index.js';

export interface OpArbitraryOptions {
  /** The key space: these keys, or any key the arbitrary makes. */
  readonly keys: readonly string[] | fc.Arbitrary<string>;
  readonly valueDepthMax: number;
  /** Bound on txn checks and writes, and on checked versions. */
  readonly txnSizeMax: number;
}

/** Any KV operation (put, delete, cas, txn with unique written keys) over `keys`. */
export function kvOpArbitrary(options: OpArbitraryOptions): fc.Arbitrary<KvOp> {
  const { keys } = options;
  const key = keys instanceof fc.Arbitrary ? keys : fc.constantFrom(...keys);
  const value = fc.jsonValue({ maxDepth: options.valueDepthMax }) as fc.Arbitrary<JsonValue>;
  const size = options.txnSizeMax;
  return fc.oneof(
    fc.record({ type: fc.constant('put' as const), key, value }),
    fc.record({ type: fc.constant('delete' as const), key }),
    fc.record({
      type: fc.constant('cas' as const),
      key,
      expected: fc.oneof(fc.constant(null), value),
      next: value,
    }),
    fc.record({
      type: fc.constant('txn' as const),
      checks: fc.array(fc.record({ key, version: fc.nat(size) }), { maxLength: size }),
      writes: fc.uniqueArray(
        fc.oneof(
          fc.record({ type: fc.constant('put' as const), key, value }),
          fc.record({ type: fc.constant('delete' as const), key }),
        ),
        { maxLength: size, selector: (write) => write.key },
      ),
    }),
  );
}
