/**
 * KV snapshots, read as a specification: a restored machine is indistinguishable from the one the
 * snapshot was taken from (state, digest, exactly-once sessions, expiry, eviction order), restore
 * replaces everything, and bad bytes are refused with BAD_SNAPSHOT without touching the machine.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { hashText, kvCommand, SnapshotFormatError } from '../../../src/state/index.js';
import type { KvStateMachineOptions } from '../../../src/state/index.js';
import { kvOpArbitrary } from './arbitraries.js';
import { header, LogFeeder } from './log-feeder.js';

const HOUR_MS = 60 * 60 * 1000;

/** A machine with two sessions, keys, a deletion, cached responses (one of them an error). */
function busyLog(options: KvStateMachineOptions = {}): LogFeeder {
  const log = new LogFeeder(options);
  log.timeMs = 1_000;
  const one = log.register();
  const two = log.register();
  log.apply(kvCommand.put(header(one, 1), 'a', { list: [1, 'x', null], nested: { ok: true } }));
  log.apply(kvCommand.put(header(one, 2, 1), 'b', 2));
  log.apply(kvCommand.cas(header(two, 1), 'b', 3, 'no'));
  log.apply(
    kvCommand.txn(
      header(two, 2, 1),
      [{ key: 'c', version: 0 }],
      [{ type: 'put', key: 'c', value: 'c' }],
    ),
  );
  log.apply(kvCommand.put(header(two, 3, 1), 'x'.repeat(2000), 1)); // TOO_LARGE, cached
  log.noop(2_000);
  log.apply(kvCommand.delete(header(one, 3, 2), 'b'));
  return log;
}

/** A fresh feeder restored from `source`'s snapshot. */
function restoredCopy(source: LogFeeder, options: KvStateMachineOptions = {}): LogFeeder {
  const copy = new LogFeeder(options);
  copy.restore(source.machine.snapshot(), source.lastIndex);
  return copy;
}

/** The snapshot's header and body, to forge well-checksummed snapshots with bad content. */
function splitSnapshot(bytes: Uint8Array): { body: Record<string, unknown> } {
  const text = new TextDecoder().decode(bytes);
  return { body: JSON.parse(text.slice(text.indexOf('\n') + 1)) as Record<string, unknown> };
}

function forge(body: unknown, version = 1): Uint8Array {
  const text = JSON.stringify(body);
  return new TextEncoder().encode(`webraft-kv-snapshot/${version} ${hashText(text)}\n${text}`);
}

/** Expects `restore` to throw BAD_SNAPSHOT and to leave the machine as it was. */
function expectRefused(log: LogFeeder, bytes: Uint8Array, index: number): void {
  const before = { digest: log.machine.digest(), applied: log.machine.appliedIndex };
  const listener = vi.fn();
  const unsubscribe = log.machine.subscribe(listener);
  let thrown: unknown = null;
  try {
    log.machine.restore(bytes, index);
  } catch (error) {
    thrown = error;
  }
  unsubscribe();
  expect(thrown).toBeInstanceOf(SnapshotFormatError);
  expect(thrown).toMatchObject({ code: 'BAD_SNAPSHOT' });
  expect(log.machine.digest()).toBe(before.digest);
  expect(log.machine.appliedIndex).toBe(before.applied);
  expect(listener).not.toHaveBeenCalled();
}

describe('round trip', () => {
  it('a restored machine has the same keys, sessions, log time, applied index and digest', () => {
    const source = busyLog();
    const copy = restoredCopy(source);
    expect(copy.machine.snapshotState()).toBe(source.machine.snapshotState());
    expect(copy.machine.digest()).toBe(source.machine.digest());
    expect(copy.machine.appliedIndex).toBe(source.lastIndex);
    expect(copy.machine.logTimeMs).toBe(2_000);
    expect(copy.machine.range()).toEqual(source.machine.range());
    expect(copy.machine.get('a')).toEqual(source.machine.get('a'));
    expect(copy.machine.sessionCount).toBe(2);
  });

  it('equal states give equal bytes, and a restored machine snapshots to the same bytes', () => {
    const bytes = busyLog().machine.snapshot();
    expect(busyLog().machine.snapshot()).toEqual(bytes);
    expect(restoredCopy(busyLog()).machine.snapshot()).toEqual(bytes);
  });

  it('restored values are frozen, like applied ones', () => {
    const entry = restoredCopy(busyLog()).machine.get('a');
    expect(Object.isFrozen(entry)).toBe(true);
    expect(Object.isFrozen(entry?.value)).toBe(true);
  });

  it('an empty machine round-trips at index 0', () => {
    const empty = new LogFeeder();
    const copy = restoredCopy(empty);
    expect(copy.machine.digest()).toBe(empty.machine.digest());
    expect(copy.machine.appliedIndex).toBe(0);
  });
});

describe('exactly-once sessions survive a snapshot', () => {
  it('a retried seq after restore returns the cached response and is not applied again', () => {
    const source = new LogFeeder();
    const session = source.register();
    const first = source.apply(kvCommand.put(header(session, 1), 'a', 'x'));
    const copy = restoredCopy(source);
    const listener = vi.fn();
    copy.machine.subscribe(listener);
    const retry = copy.apply(kvCommand.put(header(session, 1), 'a', 'x'));
    expect(retry).toEqual(first);
    expect(copy.machine.get('a')).toMatchObject({ version: 1, modIndex: first.index });
    expect(listener).not.toHaveBeenCalled();
  });

  it('a cached error response is returned to a retry after restore', () => {
    const source = busyLog();
    const copy = restoredCopy(source);
    const retry = (log: LogFeeder) =>
      log.apply(kvCommand.put(header(2, 3, 1), 'x'.repeat(2000), 1));
    const fromCopy = retry(copy);
    expect(fromCopy).toMatchObject({ type: 'error', code: 'TOO_LARGE', index: 7 });
    expect(fromCopy).toEqual(retry(source));
  });

  it('an acknowledged (discarded) seq is still refused after restore', () => {
    const source = busyLog();
    const copy = restoredCopy(source);
    const result = copy.apply(kvCommand.put(header(1, 1, 1), 'a', 'again'));
    expect(result).toMatchObject({ type: 'error', code: 'SEQ_DISCARDED' });
  });
});

describe('log time and eviction continue after restore', () => {
  it('a session expires at the same entry on the source and on the restored copy', () => {
    const options = { sessionTtlMs: HOUR_MS };
    const source = new LogFeeder(options);
    const session = source.register(0);
    source.noop(HOUR_MS / 2);
    const copy = restoredCopy(source, options);
    for (const log of [source, copy]) {
      log.noop(HOUR_MS);
      expect(log.machine.hasSession(session)).toBe(true);
      log.noop(HOUR_MS + 1);
      expect(log.machine.hasSession(session)).toBe(false);
    }
    expect(copy.machine.digest()).toBe(source.machine.digest());
  });

  it('log time never goes back after restore: an older timestamp does not move it', () => {
    const source = new LogFeeder();
    source.noop(5_000);
    const copy = restoredCopy(source);
    copy.noop(10);
    expect(copy.machine.logTimeMs).toBe(5_000);
  });

  it('the least recently active session is evicted first, also among equal timestamps', () => {
    const options = { sessionsMax: 2 };
    const source = new LogFeeder(options);
    const older = source.register();
    const newer = source.register();
    source.apply(kvCommand.keepAlive(older)); // same log time: only the order says who is older
    const copy = restoredCopy(source, options);
    for (const log of [source, copy]) {
      log.register();
      expect(log.machine.hasSession(newer)).toBe(false);
      expect(log.machine.hasSession(older)).toBe(true);
    }
    expect(copy.machine.digest()).toBe(source.machine.digest());
  });
});

// --- the same further commands on both sides give the same results (property) -----------------

const op = kvOpArbitrary({ keys: ['a', 'b', 'c/1', 'c/2'], valueDepthMax: 2, txnSizeMax: 2 });
const step = fc.record({
  kind: fc.constantFrom('register', 'op', 'op', 'retry', 'keepAlive', 'close', 'noop'),
  client: fc.nat(3),
  op,
  advanceMs: fc.nat(40 * 60 * 1000),
});
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

/** Plays steps against one feeder; `clients` holds each client's session id and next seq. */
class Workload {
  private timeMs = 0;
  private readonly clients: { session: number; seq: number }[] = [];

  bytesFor(s: Step): Uint8Array | null {
    this.timeMs += s.advanceMs;
    const client = this.clients[s.client % Math.max(1, this.clients.length)];
    if (s.kind === 'register' || client === undefined) return kvCommand.registerSession();
    if (s.kind === 'noop') return null;
    if (s.kind === 'keepAlive') return kvCommand.keepAlive(client.session);
    if (s.kind === 'close') return kvCommand.closeSession(client.session);
    if (s.kind === 'op') client.seq++;
    const seq = Math.max(1, client.seq);
    return kvCommand.op(header(client.session, seq, Math.max(1, seq - 2)), s.op);
  }

  /** Feeds one step to every log; returns each log's result (null for a no-op). */
  feed(s: Step, logs: readonly LogFeeder[]): unknown[] {
    const bytes = this.bytesFor(s);
    const results = logs.map((log) => {
      if (bytes !== null) return log.apply(bytes, this.timeMs);
      log.noop(this.timeMs);
      return null;
    });
    const first = results[0];
    if (first !== null && typeof first === 'object' && 'session' in first) {
      this.clients.push({ session: first.session as number, seq: 0 });
    }
    return results;
  }
}

describe('a restored machine behaves like its source', () => {
  it('applying the same further commands gives identical results and digests', () => {
    const options = { sessionTtlMs: HOUR_MS, sessionsMax: 3, responsesPerSessionMax: 3 };
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 30 }),
        fc.array(step, { maxLength: 30 }),
        (before, after) => {
          const source = new LogFeeder(options);
          const workload = new Workload();
          for (const s of before) workload.feed(s, [source]);
          const copy = restoredCopy(source, options);
          expect(copy.machine.digest()).toBe(source.machine.digest());
          for (const s of after) {
            const [fromSource, fromCopy] = workload.feed(s, [source, copy]);
            expect(fromCopy).toEqual(fromSource);
          }
          expect(copy.machine.digest()).toBe(source.machine.digest());
          expect(copy.machine.snapshot()).toEqual(source.machine.snapshot());
        },
      ),
    );
  });
});

describe('restore replaces the whole state', () => {
  it('keys and sessions that are not in the snapshot are gone', () => {
    const target = new LogFeeder();
    const session = target.register();
    target.apply(kvCommand.put(header(session, 1), 'only-here', 1));
    target.apply(kvCommand.put(header(session, 2), 'a', 'mine'));
    const source = new LogFeeder();
    source.noop();
    const onlySourceSession = source.register();
    const snapshot = source.machine.snapshot();
    target.restore(snapshot, source.lastIndex);
    expect(target.machine.get('only-here')).toBeNull();
    expect(target.machine.keyCount).toBe(0);
    expect(target.machine.hasSession(session)).toBe(false);
    expect(target.machine.hasSession(onlySourceSession)).toBe(true);
    expect(target.machine.appliedIndex).toBe(2);
    expect(target.machine.digest()).toBe(source.machine.digest());
  });

  it('tells subscribers, in one call and key order, of every key that differs', () => {
    const target = new LogFeeder();
    const mine = target.register();
    target.apply(kvCommand.put(header(mine, 1), 'gone', 1));
    target.apply(kvCommand.put(header(mine, 2), 'same', 's'));
    const source = new LogFeeder();
    const theirs = source.register();
    source.apply(kvCommand.put(header(theirs, 1), 'gone', 1));
    source.apply(kvCommand.put(header(theirs, 2), 'same', 's'));
    source.apply(kvCommand.delete(header(theirs, 3), 'gone'));
    source.apply(kvCommand.put(header(theirs, 4), 'new', { n: 1 }));
    const listener = vi.fn();
    target.machine.subscribe(listener);
    target.restore(source.machine.snapshot(), source.lastIndex);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(listener).toHaveBeenCalledWith([
      { key: 'gone', value: null, version: 0, index: 5 },
      { key: 'new', value: { n: 1 }, version: 1, index: 5 },
    ]);
  });

  it('does not call subscribers when no key differs', () => {
    const source = busyLog();
    const copy = restoredCopy(source);
    const listener = vi.fn();
    copy.machine.subscribe(listener);
    copy.restore(source.machine.snapshot(), source.lastIndex);
    expect(listener).not.toHaveBeenCalled();
  });

  it('may move the applied index back: the state is replaced, not merged', () => {
    const old = new LogFeeder();
    old.noop();
    const snapshot = old.machine.snapshot();
    const ahead = busyLog();
    ahead.restore(snapshot, 1);
    expect(ahead.machine.appliedIndex).toBe(1);
    expect(ahead.machine.digest()).toBe(old.machine.digest());
  });
});

describe('bad snapshots are refused with BAD_SNAPSHOT and change nothing', () => {
  const good = busyLog().machine.snapshot();
  const goodIndex = busyLog().lastIndex;

  it('a snapshot restored at another index than it was taken at', () => {
    expectRefused(busyLog(), good, goodIndex + 1);
  });

  it('every truncation', () => {
    const target = busyLog();
    for (let length = 0; length < good.length; length++) {
      expectRefused(target, good.subarray(0, length), goodIndex);
    }
  });

  it('any single corrupted byte', () => {
    const target = busyLog();
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const bad = good.slice();
        bad[at] = (bad[at] ?? 0) ^ flip;
        expectRefused(target, bad, goodIndex);
      }),
    );
  });

  it('random bytes', () => {
    const target = busyLog();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(20), (bytes, index) => {
        expectRefused(target, bytes, index);
      }),
    );
  });

  it('random JSON with a valid header and checksum', () => {
    const target = busyLog();
    fc.assert(
      fc.property(fc.jsonValue(), (body) => {
        expectRefused(target, forge(body), goodIndex);
      }),
    );
  });

  it('an unsupported format version', () => {
    expectRefused(busyLog(), forge(splitSnapshot(good).body, 2), goodIndex);
  });

  /** A decoded body, loosely typed: mutations below poke at its parts. */
  interface Body extends Record<string, unknown> {
    keys: unknown[][];
    sessions: (Record<string, unknown> & { responses: [number, Record<string, unknown>][] })[];
  }
  // In `good`, sessions are in activity order: [0] is session 2 (last active at 1000, caching
  // seqs 1..3, the last a TOO_LARGE error), [1] is session 1 (at 2000, caching seqs 2..3).
  const session = (body: Body, at: number) => body.sessions[at] as Body['sessions'][0];
  const response = (body: Body, at: number, seqAt: number) =>
    (session(body, at).responses[seqAt] as [number, Record<string, unknown>])[1];
  const key = (body: Body, at: number) => body.keys[at] as unknown[];
  const mutations: [string, (body: Body) => void][] = [
    ['an extra top-level field', (body) => (body['extra'] = 1)],
    ['a missing field', (body) => delete body['logTimeMs']],
    ['a negative log time', (body) => (body['logTimeMs'] = -1)],
    ['keys out of order', (body) => body.keys.reverse()],
    ['a duplicate key', (body) => body.keys.push(key(body, 0))],
    ['a modIndex after the applied index', (body) => (key(body, 0)[3] = 99)],
    ['a version of 0', (body) => (key(body, 0)[2] = 0)],
    ['an empty key', (body) => (key(body, 0)[0] = '')],
    ['a key over the length limit', (body) => (key(body, 0)[0] = 'a'.repeat(5000))],
    ['a session id above lastOpenedId', (body) => (body['lastOpenedId'] = 1)],
    ['duplicate sessions', (body) => body.sessions.push(session(body, 0))],
    ['sessions out of activity order', (body) => (session(body, 1)['lastActiveMs'] = 500)],
    ['a session active after log time', (body) => (session(body, 1)['lastActiveMs'] = 9_999)],
    ['cached seqs out of order', (body) => session(body, 0).responses.reverse()],
    ['a cached seq below the discard mark', (body) => (session(body, 1)['discardedBelowSeq'] = 3)],
    ['a cached response of an unknown type', (body) => (response(body, 0, 0)['type'] = 'zap')],
    ['a cached response with an extra field', (body) => (response(body, 0, 0)['extra'] = 1)],
    ['a cached response from before its session', (body) => (response(body, 1, 0)['index'] = 1)],
    ['a cached error with an unknown code', (body) => (response(body, 0, 2)['code'] = 'NOPE')],
    [
      'a cached txn that failed with no failed check',
      (body) => (response(body, 0, 1)['ok'] = false),
    ],
  ];

  it.each(mutations)('%s', (_name, mutate) => {
    const body = structuredClone(splitSnapshot(good).body) as Body;
    mutate(body);
    expectRefused(busyLog(), forge(body), goodIndex);
  });

  it('the unmutated forged body is accepted (the mutations above are what is refused)', () => {
    const target = new LogFeeder();
    target.restore(forge(splitSnapshot(good).body), goodIndex);
    expect(target.machine.digest()).toBe(busyLog().machine.digest());
  });

  it('a snapshot over the restoring machine limits', () => {
    expectRefused(new LogFeeder({ keysMax: 1 }), good, goodIndex);
    expectRefused(new LogFeeder({ sessionsMax: 1 }), good, goodIndex);
    expectRefused(new LogFeeder({ responsesPerSessionMax: 1 }), good, goodIndex);
  });
});
