/**
 * State machine safety, from the state machine's side: members that apply the same entries reach
 * the same state, and the digest says so (and tells different states apart).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvCommand } from '../../../src/state/index.js';
import type { JsonValue } from '../../../src/state/index.js';
import { kvOpArbitrary } from './arbitraries.js';
import { header, LogFeeder } from './log-feeder.js';

const op = kvOpArbitrary({ keys: ['a', 'b', 'c', 'd/1', 'd/2'], valueDepthMax: 3, txnSizeMax: 3 });

/** One log entry to generate: a command of client 0 or 1 (maybe a retry of its last), or a no-op. */
const stepArbitrary = fc.record({
  client: fc.constantFrom(0, 1),
  op,
  kind: fc.constantFrom('command', 'command', 'retry', 'noop'),
  advanceMs: fc.nat(20 * 60 * 1000),
});

type Step = typeof stepArbitrary extends fc.Arbitrary<infer T> ? T : never;

interface LogEntry {
  readonly bytes: Uint8Array | null;
  readonly timeMs: number;
}

/** Turns generated steps into log entries: two sessions (ids 1 and 2), then the steps. */
function entriesFor(steps: readonly Step[]): LogEntry[] {
  const entries: LogEntry[] = [
    { bytes: kvCommand.registerSession(), timeMs: 0 },
    { bytes: kvCommand.registerSession(), timeMs: 0 },
  ];
  const seqs = [0, 0];
  const lastCommand: (Uint8Array | null)[] = [null, null];
  let timeMs = 0;
  for (const step of steps) {
    timeMs += step.advanceMs;
    if (step.kind === 'noop') {
      entries.push({ bytes: null, timeMs });
      continue;
    }
    const previous = lastCommand[step.client] ?? null;
    if (step.kind === 'retry' && previous !== null) {
      entries.push({ bytes: previous, timeMs });
      continue;
    }
    const seq = (seqs[step.client] ?? 0) + 1;
    seqs[step.client] = seq;
    const bytes = kvCommand.op(header(step.client + 1, seq, Math.max(1, seq - 2)), step.op);
    lastCommand[step.client] = bytes;
    entries.push({ bytes, timeMs });
  }
  return entries;
}

function play(entries: readonly LogEntry[], options = { sessionTtlMs: 60 * 60 * 1000 }): LogFeeder {
  const log = new LogFeeder(options);
  for (const entry of entries) {
    if (entry.bytes === null) log.noop(entry.timeMs);
    else log.apply(entry.bytes, entry.timeMs);
  }
  return log;
}

describe('determinism', () => {
  it('two members fed the same entries have the same state text and digest', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 60 }), (steps) => {
        const entries = entriesFor(steps);
        const one = play(entries);
        const two = play(entries);
        expect(two.machine.snapshotState()).toBe(one.machine.snapshotState());
        expect(two.machine.digest()).toBe(one.machine.digest());
        expect(one.machine.digest()).toMatch(/^[0-9a-f]{16}$/);
      }),
    );
  });

  it('the digest tells apart states that differ in one value', () => {
    const withValue = (value: JsonValue): string => {
      const log = new LogFeeder();
      const session = log.register();
      log.apply(kvCommand.put(header(session, 1), 'a', value));
      return log.machine.digest();
    };
    expect(withValue({ x: 1 })).not.toBe(withValue({ x: 2 }));
  });

  it('the digest covers sessions, not just keys', () => {
    const one = new LogFeeder();
    one.register();
    one.noop();
    const two = new LogFeeder();
    two.noop();
    two.register();
    expect(two.machine.range()).toEqual(one.machine.range());
    expect(two.machine.digest()).not.toBe(one.machine.digest());
  });

  it('object key order in a value does not change the digest', () => {
    const withValue = (value: JsonValue): string => {
      const log = new LogFeeder();
      const session = log.register();
      log.apply(kvCommand.put(header(session, 1), 'a', value));
      return log.machine.digest();
    };
    expect(withValue({ x: 1, y: 2 })).toBe(withValue({ y: 2, x: 1 }));
  });
});
