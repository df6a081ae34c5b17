/**
 * Specification of the linearizability checker, exercised through the KV model: hand-written
 * histories for each rule, a brute-force cross-check on small random histories, and large
 * generated histories for speed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { kvModel } from '../../../src/check/kv-model.js';
import type { KvInput, KvOperation, KvOutput, KvState } from '../../../src/check/kv-model.js';
import { checkLinearizable } from '../../../src/check/linearizability.js';

type Interval = readonly [call: number, ret: number];

function record(
  input: KvInput,
  output: KvOutput | undefined,
  [call, ret]: Interval,
  clientId = 0,
): KvOperation {
  return { clientId, input, output, call, return: ret };
}
const get = (
  key: string,
  value: string | null,
  interval: Interval,
  clientId?: number,
): KvOperation => record({ op: 'get', key }, { value }, interval, clientId);
const put = (key: string, value: string, interval: Interval, clientId?: number): KvOperation =>
  record({ op: 'put', key, value }, {}, interval, clientId);
const del = (key: string, interval: Interval, clientId?: number): KvOperation =>
  record({ op: 'delete', key }, {}, interval, clientId);
const cas = (
  key: string,
  expected: string | null,
  next: string,
  ok: boolean,
  interval: Interval,
): KvOperation => record({ op: 'cas', key, expected, next }, { ok }, interval);
/** A put whose response never came (timed out): it may or may not have taken effect. */
const putTimedOut = (key: string, value: string, call: number): KvOperation =>
  record({ op: 'put', key, value }, undefined, [call, Infinity]);

const verdictOf = (history: KvOperation[]): string => checkLinearizable(kvModel, history).verdict;

describe('checkLinearizable with the KV model', () => {
  it('accepts a sequential history that follows the specification', () => {
    const history = [
      get('a', null, [0, 1]),
      put('a', 'v1', [2, 3]),
      get('a', 'v1', [4, 5]),
      del('a', [6, 7]),
      get('a', null, [8, 9]),
    ];
    expect(checkLinearizable(kvModel, history)).toMatchObject({
      verdict: 'ok',
      partitions: 1,
      opsChecked: 5,
    });
  });

  it('accepts an empty history', () => {
    expect(checkLinearizable(kvModel, [])).toMatchObject({
      verdict: 'ok',
      partitions: 0,
      opsChecked: 0,
    });
  });

  it('accepts either order for overlapping writes', () => {
    const writes = [put('a', 'v1', [0, 10], 1), put('a', 'v2', [5, 15], 2)];
    expect(verdictOf([...writes, get('a', 'v1', [20, 21])])).toBe('ok');
    expect(verdictOf([...writes, get('a', 'v2', [20, 21])])).toBe('ok');
  });

  it('accepts a read that overlaps a write returning either the old or the new value', () => {
    const history = [put('a', 'v1', [0, 1]), put('a', 'v2', [5, 15], 1)];
    expect(verdictOf([...history, get('a', 'v1', [6, 8], 2)])).toBe('ok');
    expect(verdictOf([...history, get('a', 'v2', [6, 8], 2)])).toBe('ok');
  });

  it('rejects a stale read: a write completed, then a later read returns the old value', () => {
    const history = [put('a', 'v1', [0, 1]), put('a', 'v2', [2, 3]), get('a', 'v1', [4, 5])];
    expect(verdictOf(history)).toBe('illegal');
  });

  it('rejects reads that go back in time across clients', () => {
    const history = [
      put('a', 'v1', [0, 1]),
      put('a', 'v2', [2, 20], 1),
      get('a', 'v2', [3, 4], 2),
      get('a', 'v1', [5, 6], 3),
    ];
    expect(verdictOf(history)).toBe('illegal');
  });

  it('rejects a read of a value that was never written', () => {
    expect(verdictOf([put('a', 'v1', [0, 1]), get('a', 'ghost', [0, 5])])).toBe('illegal');
  });

  it('treats an op that returns exactly when another is invoked as concurrent with it', () => {
    // Calls sort before returns at equal times, so the read may be linearized before the write.
    expect(verdictOf([put('a', 'v1', [0, 10]), get('a', null, [10, 20])])).toBe('ok');
    expect(verdictOf([put('a', 'v1', [0, 10]), get('a', null, [11, 20])])).toBe('illegal');
  });

  describe('operations with an unknown outcome', () => {
    const before = [put('a', 'v1', [0, 1]), putTimedOut('a', 'v2', 2)];

    it('accept a later read of the value, since the write may have happened', () => {
      expect(verdictOf([...before, get('a', 'v2', [10, 11])])).toBe('ok');
    });

    it('accept a later read of the old value, since the write may never happen', () => {
      expect(verdictOf([...before, get('a', 'v1', [10, 11]), get('a', 'v1', [100, 101])])).toBe(
        'ok',
      );
    });

    it('cannot be undone: once a read saw the write, a later read of the old value is illegal', () => {
      expect(verdictOf([...before, get('a', 'v2', [10, 11]), get('a', 'v1', [12, 13])])).toBe(
        'illegal',
      );
    });

    it('may be needed late even if the search first tried them early', () => {
      // Both creates succeed, so the timed-out delete must fall between them. The search first
      // reaches "put and delete done, key absent" having spent the timed-out delete too early;
      // that failed branch must not rule out the same state reached with the delete unspent.
      const history = [
        del('b', [0, 0]),
        record({ op: 'delete', key: 'b' }, undefined, [0, Infinity]),
        put('b', 'x', [0, 0]),
        cas('b', null, 'x', true, [1, 1]),
        cas('b', null, 'x', true, [1, 1]),
      ];
      expect(verdictOf(history)).toBe('ok');
    });

    it('cannot take effect before they are invoked', () => {
      expect(verdictOf([get('a', 'v2', [0, 1]), putTimedOut('a', 'v2', 5)])).toBe('illegal');
    });

    it('still change the state when their output is unknown: a timed-out cas may have swapped', () => {
      const timedOutCas = record({ op: 'cas', key: 'a', expected: 'v1', next: 'v2' }, undefined, [
        2,
        Infinity,
      ]);
      const history = [put('a', 'v1', [0, 1]), timedOutCas];
      expect(verdictOf([...history, get('a', 'v2', [5, 6])])).toBe('ok');
      expect(verdictOf([...history, get('a', 'v1', [5, 6])])).toBe('ok');
    });
  });

  describe('compare-and-swap', () => {
    it('swaps when the current value equals the expected one', () => {
      const history = [
        put('a', 'v1', [0, 1]),
        cas('a', 'v1', 'v2', true, [2, 3]),
        get('a', 'v2', [4, 5]),
      ];
      expect(verdictOf(history)).toBe('ok');
    });

    it('fails and leaves the value unchanged when the current value differs', () => {
      const history = [
        put('a', 'v1', [0, 1]),
        cas('a', 'v0', 'v2', false, [2, 3]),
        get('a', 'v1', [4, 5]),
      ];
      expect(verdictOf(history)).toBe('ok');
    });

    it('must not report success when the value differed', () => {
      expect(verdictOf([put('a', 'v1', [0, 1]), cas('a', 'v0', 'v2', true, [2, 3])])).toBe(
        'illegal',
      );
    });

    it('must not report failure when the value matched', () => {
      expect(verdictOf([put('a', 'v1', [0, 1]), cas('a', 'v1', 'v2', false, [2, 3])])).toBe(
        'illegal',
      );
    });

    it('with expected null succeeds only while the key is absent', () => {
      expect(verdictOf([cas('a', null, 'v1', true, [0, 1]), get('a', 'v1', [2, 3])])).toBe('ok');
      expect(verdictOf([put('a', 'v1', [0, 1]), cas('a', null, 'v2', true, [2, 3])])).toBe(
        'illegal',
      );
      expect(
        verdictOf([put('a', 'v1', [0, 1]), del('a', [2, 3]), cas('a', null, 'v2', true, [4, 5])]),
      ).toBe('ok');
    });

    it('orders concurrent swaps: only one of two racing cas from the same value may succeed', () => {
      const start = put('a', 'v0', [0, 1]);
      const race = (first: boolean, second: boolean): KvOperation[] => [
        start,
        cas('a', 'v0', 'v1', first, [2, 10]),
        cas('a', 'v0', 'v2', second, [3, 9]),
      ];
      expect(verdictOf(race(true, false))).toBe('ok');
      expect(verdictOf(race(false, true))).toBe('ok');
      expect(verdictOf(race(true, true))).toBe('illegal');
    });
  });

  describe('partitioning by key', () => {
    it('checks each key on its own and counts the partitions', () => {
      const history = [
        put('a', 'v1', [0, 10]),
        put('b', 'w1', [0, 10]),
        get('a', 'v1', [11, 12]),
        get('b', 'w1', [11, 12]),
      ];
      expect(checkLinearizable(kvModel, history)).toMatchObject({
        verdict: 'ok',
        partitions: 2,
        opsChecked: 4,
      });
    });

    it('reports the key whose history is illegal, with the ops involved', () => {
      const history = [
        put('a', 'v1', [0, 1]),
        put('b', 'w1', [0, 1], 1),
        put('b', 'w2', [2, 3], 1),
        get('a', 'v1', [4, 5], 2),
        get('b', 'w1', [4, 5], 2),
      ];
      const result = checkLinearizable(kvModel, history);
      expect(result.verdict).toBe('illegal');
      expect(result.failingPartition?.label).toBe('key "b"');
      expect(result.failingPartition?.ops).toHaveLength(3);
      expect(result.failingPartition?.longestPrefix).toEqual([history[1], history[2]]);
      const explanation = result.failingPartition?.explanation ?? '';
      expect(explanation).toContain('partition key "b" is not linearizable');
      expect(explanation).toContain('state after the prefix: "w2"');
      expect(explanation).toContain('#4 client 2 [4, 5] get("b") -> "w1"  illegal in state "w2"');
    });
  });

  describe('limits', () => {
    // Many concurrent writes and a read of a value nobody wrote: the search must try every
    // subset of writes before the read, which is exponential even with memoization.
    const adversarial = [
      ...Array.from({ length: 24 }, (_, i) => put('a', `v${i}`, [0, 100], i)),
      get('a', 'ghost', [0, 100], 99),
    ];

    it('reports unknown, never ok, when the step budget runs out', () => {
      const result = checkLinearizable(kvModel, adversarial, { budgetStepsPerPartition: 10_000 });
      expect(result.verdict).toBe('unknown');
      expect(result.unknownReason).toContain('step budget 10000 exhausted in partition key "a"');
    });

    it('reports unknown, never ok, when the time limit runs out', () => {
      const result = checkLinearizable(kvModel, adversarial, {
        budgetStepsPerPartition: 1e12,
        timeoutMs: 50,
      });
      expect(result.verdict).toBe('unknown');
      expect(result.elapsedMs).toBeLessThan(1_000);
    });

    it('still reports an illegal key when another key ran out of budget', () => {
      const history = [
        ...adversarial,
        put('b', 'w1', [0, 1]),
        put('b', 'w2', [2, 3]),
        get('b', 'w1', [4, 5]),
      ];
      const result = checkLinearizable(kvModel, history, { budgetStepsPerPartition: 10_000 });
      expect(result.verdict).toBe('illegal');
      expect(result.failingPartition?.label).toBe('key "b"');
    });
  });

  describe('against a brute-force reference on small random histories', () => {
    const agreesWithBruteForce = (history: KvOperation[]): void => {
      const verdict = checkLinearizable(kvModel, history).verdict;
      expect(verdict).toBe(bruteForceLinearizable(history) ? 'ok' : 'illegal');
    };

    it('gives the same verdict as trying every order', () => {
      fc.assert(
        fc.property(
          fc.array(arbitrarySmallOp({ timedOutPercent: 10 }), { maxLength: 7 }),
          agreesWithBruteForce,
        ),
        { numRuns: 2_000 },
      );
    });

    it('gives the same verdict when many operations timed out', () => {
      fc.assert(
        fc.property(
          fc.array(arbitrarySmallOp({ timedOutPercent: 50 }), { maxLength: 8 }),
          agreesWithBruteForce,
        ),
        { numRuns: 2_000 },
      );
    });
  });

  it('rejects a malformed history whose op returns before it is called', () => {
    expect(() => checkLinearizable(kvModel, [get('a', null, [5, 4])])).toThrow(RangeError);
  });

  describe('generated histories of a correct store', () => {
    it('are linearizable', () => {
      fc.assert(
        fc.property(fc.integer(), (seed) => {
          const history = legalHistory({ seed, keys: 2, ops: 200, clients: 5, unknownRate: 0.05 });
          expect(checkLinearizable(kvModel, history).verdict).toBe('ok');
        }),
        { numRuns: 50 },
      );
    });

    const large = legalHistory({ seed: 42, keys: 5, ops: 10_000, clients: 10, unknownRate: 0.01 });

    it('check ok in well under two seconds at 5 keys x 2,000 ops and 10 clients', () => {
      const result = checkLinearizable(kvModel, large);
      expect(result).toMatchObject({ verdict: 'ok', partitions: 5, opsChecked: 10_000 });
      expect(result.elapsedMs).toBeLessThan(2_000);
    });

    it('become illegal when one read returns a stale value', () => {
      const { history, index } = withStaleRead(large);
      const result = checkLinearizable(kvModel, history);
      expect(result.verdict).toBe('illegal');
      expect(result.failingPartition?.ops).toContain(history[index]);
      expect(result.elapsedMs).toBeLessThan(2_000);
    });
  });
});

/**
 * Ops for small histories over two keys and two values, with frequent equal times, some ops
 * timed out (unknown outcome) and some completed with an unknown output.
 */
function arbitrarySmallOp({
  timedOutPercent,
}: {
  timedOutPercent: number;
}): fc.Arbitrary<KvOperation> {
  const key = fc.constantFrom('a', 'b');
  const value = fc.constantFrom('x', 'y');
  const maybeValue = fc.constantFrom<KvState>(null, 'x', 'y');
  const interval = fc.tuple(
    fc.integer({ min: 0, max: 12 }),
    fc.integer({ min: 0, max: 6 }),
    fc.integer({ min: 0, max: 99 }),
  );
  const io = fc.oneof(
    fc.record({
      input: fc.record({ op: fc.constant('get' as const), key }),
      output: maybeValue.map((v) => ({ value: v })),
    }),
    fc.record({
      input: fc.record({ op: fc.constant('put' as const), key, value }),
      output: fc.constant({}),
    }),
    fc.record({
      input: fc.record({ op: fc.constant('delete' as const), key }),
      output: fc.constant({}),
    }),
    fc.record({
      input: fc.record({ op: fc.constant('cas' as const), key, expected: maybeValue, next: value }),
      output: fc.boolean().map((ok) => ({ ok })),
    }),
  );
  return fc.tuple(io, interval).map(([{ input, output }, [call, duration, fate]]): KvOperation => {
    if (fate < timedOutPercent) return record(input, undefined, [call, Infinity]);
    if (fate < timedOutPercent + 10) return record(input, undefined, [call, call + duration]);
    return record(input, output, [call, call + duration]);
  });
}

/**
 * Reference: tries every order of every key's ops that respects real time (an op may go next
 * unless some pending completed op returned strictly before it was called); pending
 * unknown-outcome ops may be left out.
 */
function bruteForceLinearizable(history: KvOperation[]): boolean {
  const search = (pending: KvOperation[], state: KvState): boolean => {
    if (pending.every((op) => op.return === Infinity)) return true;
    return pending.some((op) => {
      if (pending.some((other) => other.return < op.call)) return false;
      const stepped = kvModel.step(state, op.input, op.output);
      return (
        stepped.ok &&
        search(
          pending.filter((other) => other !== op),
          stepped.state,
        )
      );
    });
  };
  const keys = new Set(history.map((op) => op.input.key));
  return [...keys].every((key) =>
    search(
      history.filter((op) => op.input.key === key),
      null,
    ),
  );
}

interface LegalHistoryOptions {
  seed: number;
  keys: number;
  ops: number;
  clients: number;
  /** Fraction of ops that time out; half of those take effect, half never do. */
  unknownRate: number;
}

/**
 * Simulates a correct sequential store: each op takes effect at a strictly increasing
 * linearization point, and its recorded interval is a random window around that point that
 * does not overlap the same client's previous op. Every write stores a unique value.
 */
function legalHistory({
  seed,
  keys,
  ops,
  clients,
  unknownRate,
}: LegalHistoryOptions): KvOperation[] {
  const random = mulberry32(seed);
  const below = (n: number): number => Math.floor(random() * n);
  const store = new Map<string, string>();
  const busyUntil = new Array<number>(clients).fill(-1);
  const history: KvOperation[] = [];
  const spreadMs = 40;
  let now = 0;
  for (let i = 0; i < ops; i++) {
    now += 1 + below(3);
    let idle = busyUntil.flatMap((until, client) => (until < now ? [client] : []));
    if (idle.length === 0) {
      now = Math.min(...busyUntil) + 1;
      idle = busyUntil.flatMap((until, client) => (until < now ? [client] : []));
    }
    const client = idle[below(idle.length)] ?? 0;
    const key = `k${below(keys)}`;
    const current = store.get(key) ?? null;
    const input = randomInput(key, current, `v${i}`, below);
    const { output, next } = applySequentially(input, current);
    const call = Math.max((busyUntil[client] ?? -1) + 1, now - below(spreadMs));
    const timedOut = random() < unknownRate;
    const takesEffect = !timedOut || random() < 0.5;
    if (takesEffect) {
      if (next === null) store.delete(key);
      else store.set(key, next);
    }
    const ret = timedOut ? Infinity : now + below(spreadMs);
    busyUntil[client] = timedOut ? now + spreadMs : ret;
    history.push({
      clientId: client,
      input,
      output: timedOut ? undefined : output,
      call,
      return: ret,
    });
  }
  return history;
}

function randomInput(
  key: string,
  current: KvState,
  fresh: string,
  below: (n: number) => number,
): KvInput {
  const roll = below(10);
  if (roll < 4) return { op: 'get', key };
  if (roll < 7) return { op: 'put', key, value: fresh };
  if (roll < 8) return { op: 'delete', key };
  return { op: 'cas', key, expected: below(2) === 0 ? current : null, next: fresh };
}

function applySequentially(input: KvInput, current: KvState): { output: KvOutput; next: KvState } {
  switch (input.op) {
    case 'get':
      return { output: { value: current }, next: current };
    case 'put':
      return { output: {}, next: input.value };
    case 'delete':
      return { output: {}, next: null };
    case 'cas':
      return current === input.expected
        ? { output: { ok: true }, next: input.next }
        : { output: { ok: false }, next: current };
  }
}

/**
 * Copies `history` with one late read changed to return a value that was certainly
 * overwritten before the read was invoked: written by a put that returned before a second put
 * was called, which returned before the read was called.
 */
function withStaleRead(history: KvOperation[]): { history: KvOperation[]; index: number } {
  const completedPuts = history.filter((op) => op.input.op === 'put' && op.return !== Infinity);
  for (let index = history.length - 1; index >= 0; index--) {
    const read = history[index];
    if (read === undefined || read.input.op !== 'get' || read.output === undefined) continue;
    const puts = completedPuts.filter((op) => op.input.key === read.input.key);
    const overwritten = puts.find((first) =>
      puts.some((second) => first.return < second.call && second.return < read.call),
    );
    if (overwritten === undefined || overwritten.input.op !== 'put') continue;
    const copy = [...history];
    copy[index] = { ...read, output: { value: overwritten.input.value } };
    return { history: copy, index };
  }
  throw new Error('no read can be made stale in this history');
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
