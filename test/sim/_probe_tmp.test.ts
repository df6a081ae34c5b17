import fc from 'fast-check';
import { it } from 'vitest';
import { kvModel } from './kv-model.js';
import type { KvInput, KvOperation, KvOutput, KvState } from './kv-model.js';
import { checkLinearizable } from './linearizability.js';
function record(input: KvInput, output: KvOutput | undefined, [call, ret]: readonly [number, number], clientId = 0): KvOperation {
  return { clientId, input, output, call, return: ret };
}
/** Small histories over two keys and two values, with equal times and unknown outcomes. */
function arbitrarySmallOp(): fc.Arbitrary<KvOperation> {
  const key = fc.constantFrom('a', 'b');
  const value = fc.constantFrom('x', 'y');
  const maybeValue = fc.constantFrom<KvState>(null, 'x', 'y');
  const interval = fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 9 }));
  const io = fc.oneof(
    fc.record({ input: fc.record({ op: fc.constant('get' as const), key }), output: maybeValue.map((v) => ({ value: v })) }),
    fc.record({ input: fc.record({ op: fc.constant('put' as const), key, value }), output: fc.constant({}) }),
    fc.record({ input: fc.record({ op: fc.constant('delete' as const), key }), output: fc.constant({}) }),
    fc.record({
      input: fc.record({ op: fc.constant('cas' as const), key, expected: maybeValue, next: value }),
      output: fc.boolean().map((ok) => ({ ok })),
    }),
  );
  return fc.tuple(io, interval).map(([{ input, output }, [call, duration, fate]]): KvOperation => {
    if (fate === 0) return record(input, undefined, [call, Infinity]); // timed out
    if (fate === 1) return record(input, undefined, [call, call + duration]); // output lost
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
      return stepped.ok && search(pending.filter((other) => other !== op), stepped.state);
    });
  };
  const keys = new Set(history.map((op) => op.input.key));
  return [...keys].every((key) => search(history.filter((op) => op.input.key === key), null));
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
function legalHistory({ seed, keys, ops, clients, unknownRate }: LegalHistoryOptions): KvOperation[] {
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
    history.push({ clientId: client, input, output: timedOut ? undefined : output, call, return: ret });
  }
  return history;
}

function randomInput(key: string, current: KvState, fresh: string, below: (n: number) => number): KvInput {
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
      return current === input.expected ? { output: { ok: true }, next: input.next } : { output: { ok: false }, next: current };
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
it('probe', () => {
  for (const unknownRate of [0, 0.002, 0.005, 0.01]) {
    for (const seed of [1, 2, 42]) {
      const large = legalHistory({ seed, keys: 5, ops: 10_000, clients: 10, unknownRate });
      const ok = checkLinearizable(kvModel, large, { timeoutMs: 5000 });
      const { history } = withStaleRead(large);
      const bad = checkLinearizable(kvModel, history, { timeoutMs: 5000 });
      console.log(unknownRate, seed, ok.verdict, ok.elapsedMs.toFixed(0), ok.steps, '|', bad.verdict, bad.elapsedMs.toFixed(0), bad.steps, bad.unknownReason ?? '');
    }
  }
}, 200000);
