import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SortedKeys } from '../../../src/state/sorted-keys.js';

/** The model: a plain sorted array, as the store kept before. */
function modelFrom(keys: readonly string[], key: string, exclusive: boolean): string[] {
  return keys.filter((k) => (exclusive ? k > key : k >= key));
}

describe('SortedKeys', () => {
  it('agrees with a sorted array through inserts, removes and ranges (chunks split and empty)', () => {
    const operation = fc.oneof(
      fc.record({ type: fc.constant('insert' as const), key: fc.string({ maxLength: 3 }) }),
      fc.record({ type: fc.constant('remove' as const), key: fc.string({ maxLength: 3 }) }),
      fc.record({
        type: fc.constant('from' as const),
        key: fc.string({ maxLength: 3 }),
        exclusive: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.array(operation, { minLength: 1500, maxLength: 3000 }), (operations) => {
        const keys = new SortedKeys();
        const model = new Set<string>();
        for (const op of operations) {
          if (op.type === 'insert') {
            if (model.has(op.key)) continue;
            keys.insert(op.key);
            model.add(op.key);
          } else if (op.type === 'remove') {
            expect(keys.remove(op.key)).toBe(model.delete(op.key));
          } else {
            const sorted = [...model].sort();
            expect([...keys.from(op.key, op.exclusive)]).toEqual(
              modelFrom(sorted, op.key, op.exclusive),
            );
          }
        }
        const sorted = [...model].sort();
        expect([...keys]).toEqual(sorted);
        expect(keys.size).toBe(model.size);
        expect(keys.last()).toBe(sorted[sorted.length - 1]);
      }),
      { numRuns: 25 },
    );
  });

  it('takes a sorted run whole and keeps working on it', () => {
    const initial = Array.from({ length: 5000 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    const keys = SortedKeys.fromSorted(initial);
    expect(keys.size).toBe(5000);
    keys.insert('k00000a');
    expect(keys.remove('k04999')).toBe(true);
    expect([...keys.from('k00000')].slice(0, 3)).toEqual(['k00000', 'k00000a', 'k00001']);
    expect(keys.last()).toBe('k04998');
  });
});
