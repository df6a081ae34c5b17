/**
 * Client sessions, read as a specification: exactly-once retries, several outstanding commands,
 * discarded responses, expiry by log time (never a local clock), and the bounds on everything.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { kvCommand, SessionTable } from '../../../src/state/index.js';
import { header, LogFeeder } from './log-feeder.js';

const HOUR_MS = 60 * 60 * 1000;

describe('registering a session', () => {
  it('uses the log index of the registering entry as the session id', () => {
    const log = new LogFeeder();
    log.noop();
    log.noop();
    const result = log.apply(kvCommand.registerSession());
    expect(result).toEqual({ type: 'registerSession', ok: true, index: 3, session: 3 });
    expect(log.machine.hasSession(3)).toBe(true);
  });
});

describe('exactly once', () => {
  it('a retried seq returns the first response and is not applied again', () => {
    const log = new LogFeeder();
    const session = log.register();
    const listener = vi.fn();
    log.machine.subscribe(listener);
    const first = log.apply(kvCommand.put(header(session, 1), 'a', 'x'));
    const retry = log.apply(kvCommand.put(header(session, 1), 'a', 'x'));
    expect(retry).toEqual(first);
    expect(retry).toMatchObject({ index: 2, version: 1 });
    expect(log.machine.get('a')).toMatchObject({ version: 1, modIndex: 2 });
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('a retried failed compare-and-set returns its first (failed) answer even if it would now succeed', () => {
    const log = new LogFeeder();
    const session = log.register();
    const other = log.register();
    const first = log.apply(kvCommand.cas(header(session, 1), 'a', 'old', 'new'));
    log.apply(kvCommand.put(header(other, 1), 'a', 'old'));
    const retry = log.apply(kvCommand.cas(header(session, 1), 'a', 'old', 'new'));
    expect(retry).toEqual(first);
    expect(log.machine.get('a')?.value).toBe('old');
  });

  it('sessions are independent: the same seq in two sessions is two commands', () => {
    const log = new LogFeeder();
    const one = log.register();
    const two = log.register();
    log.apply(kvCommand.put(header(one, 1), 'a', 1));
    const result = log.apply(kvCommand.put(header(two, 1), 'a', 2));
    expect(result).toMatchObject({ ok: true, version: 2 });
  });

  it('several commands may be outstanding, and arrive out of order, each applied once', () => {
    const log = new LogFeeder();
    const session = log.register();
    // The client sent seqs 1, 2, 3 without waiting; the log holds them as 2, 1, 3, then retries.
    const second = log.apply(kvCommand.put(header(session, 2, 1), 'b', 2));
    const first = log.apply(kvCommand.put(header(session, 1, 1), 'a', 1));
    const third = log.apply(kvCommand.put(header(session, 3, 1), 'c', 3));
    expect(log.apply(kvCommand.put(header(session, 1, 1), 'a', 1))).toEqual(first);
    expect(log.apply(kvCommand.put(header(session, 2, 1), 'b', 2))).toEqual(second);
    expect(log.apply(kvCommand.put(header(session, 3, 1), 'c', 3))).toEqual(third);
    expect(log.machine.range().entries.map((entry) => entry.version)).toEqual([1, 1, 1]);
  });

  it('a response below lowestUnacked is forgotten: its retry gets SEQ_DISCARDED, not a second apply', () => {
    const log = new LogFeeder();
    const session = log.register();
    log.apply(kvCommand.put(header(session, 1), 'a', 1));
    log.apply(kvCommand.put(header(session, 2), 'a', 2)); // lowestUnacked 2: response 1 acknowledged
    const stale = log.apply(kvCommand.put(header(session, 1), 'a', 1));
    expect(stale).toMatchObject({ type: 'error', ok: false, code: 'SEQ_DISCARDED', index: 4 });
    expect(log.machine.get('a')).toMatchObject({ value: 2, version: 2 });
  });

  it('responses at or above lowestUnacked are still answered from the cache', () => {
    const log = new LogFeeder();
    const session = log.register();
    log.apply(kvCommand.put(header(session, 1, 1), 'a', 1));
    const second = log.apply(kvCommand.put(header(session, 2, 1), 'b', 1));
    log.apply(kvCommand.put(header(session, 3, 2), 'c', 1)); // acknowledges 1 only
    expect(log.apply(kvCommand.put(header(session, 2, 2), 'b', 1))).toEqual(second);
  });

  it('keeps at most responsesPerSessionMax responses, forgetting the lowest seq first', () => {
    const log = new LogFeeder({ responsesPerSessionMax: 2 });
    const session = log.register();
    // The client never acknowledges (lowestUnacked stays 1).
    log.apply(kvCommand.put(header(session, 1, 1), 'a', 1));
    const second = log.apply(kvCommand.put(header(session, 2, 1), 'a', 2));
    log.apply(kvCommand.put(header(session, 3, 1), 'a', 3));
    expect(log.apply(kvCommand.put(header(session, 1, 1), 'a', 1))).toMatchObject({
      code: 'SEQ_DISCARDED',
    });
    expect(log.apply(kvCommand.put(header(session, 2, 1), 'a', 2))).toEqual(second);
    expect(log.machine.get('a')).toMatchObject({ value: 3, version: 3 });
  });
});

describe('unknown sessions', () => {
  it('a command from a session never opened gets SESSION_EXPIRED and is not applied', () => {
    const log = new LogFeeder();
    const result = log.apply(kvCommand.put(header(42, 1), 'a', 1));
    expect(result).toMatchObject({ type: 'error', ok: false, code: 'SESSION_EXPIRED', index: 1 });
    expect(log.machine.get('a')).toBeNull();
  });

  it('a closed session is unknown afterwards', () => {
    const log = new LogFeeder();
    const session = log.register();
    expect(log.apply(kvCommand.closeSession(session))).toMatchObject({
      type: 'closeSession',
      ok: true,
    });
    expect(log.apply(kvCommand.put(header(session, 1), 'a', 1))).toMatchObject({
      code: 'SESSION_EXPIRED',
    });
    expect(log.apply(kvCommand.closeSession(session))).toMatchObject({ code: 'SESSION_EXPIRED' });
  });
});

describe('expiry by log time', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a session idle for longer than sessionTtlMs (in entry timestamps) expires', () => {
    const log = new LogFeeder({ sessionTtlMs: HOUR_MS });
    const session = log.register(0);
    log.noop(HOUR_MS); // idle for exactly the TTL: still open
    expect(log.machine.hasSession(session)).toBe(true);
    log.noop(HOUR_MS + 1);
    expect(log.machine.hasSession(session)).toBe(false);
    const result = log.apply(kvCommand.put(header(session, 1), 'a', 1));
    expect(result).toMatchObject({ code: 'SESSION_EXPIRED' });
    expect(log.machine.get('a')).toBeNull();
  });

  it('activity keeps a session alive: each command, and keepAlive, refresh it', () => {
    const log = new LogFeeder({ sessionTtlMs: HOUR_MS });
    const session = log.register(0);
    log.apply(kvCommand.put(header(session, 1), 'a', 1), 0.75 * HOUR_MS);
    expect(log.apply(kvCommand.keepAlive(session), 1.5 * HOUR_MS)).toMatchObject({ ok: true });
    const result = log.apply(kvCommand.put(header(session, 2), 'a', 2), 2.25 * HOUR_MS);
    expect(result).toMatchObject({ ok: true, version: 2 });
  });

  it('a timestamp going backwards does not un-expire a session (log time only moves forward)', () => {
    const log = new LogFeeder({ sessionTtlMs: HOUR_MS });
    const session = log.register(0);
    log.noop(2 * HOUR_MS);
    const result = log.apply(kvCommand.put(header(session, 1), 'a', 1), 0);
    expect(result).toMatchObject({ code: 'SESSION_EXPIRED' });
    expect(log.machine.logTimeMs).toBe(2 * HOUR_MS);
  });

  it('a timestamp going backwards does not age a fresh session either', () => {
    const log = new LogFeeder({ sessionTtlMs: HOUR_MS });
    log.noop(5 * HOUR_MS);
    const session = log.register(0); // a lagging leader clock: the session is active at log time 5h
    const result = log.apply(kvCommand.put(header(session, 1), 'a', 1), 5.5 * HOUR_MS);
    expect(result).toMatchObject({ ok: true });
  });

  it('never reads the local clock or randomness while applying', () => {
    const forbidden = (): never => {
      throw new Error('src/state must not read clocks or randomness');
    };
    const spies = [
      vi.spyOn(Date, 'now').mockImplementation(forbidden),
      vi.spyOn(performance, 'now').mockImplementation(forbidden),
      vi.spyOn(Math, 'random').mockImplementation(forbidden),
    ];
    const log = new LogFeeder({ sessionTtlMs: HOUR_MS });
    const session = log.register(1000);
    log.apply(kvCommand.put(header(session, 1), 'a', 1), 2 * HOUR_MS);
    log.noop(3 * HOUR_MS);
    expect(log.machine.hasSession(session)).toBe(false);
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });

  it('ignores a non-finite timestamp the same way on every member', () => {
    const log = new LogFeeder({ sessionTtlMs: HOUR_MS });
    const session = log.register(0);
    log.noop(Number.POSITIVE_INFINITY);
    log.noop(Number.NaN);
    expect(log.machine.logTimeMs).toBe(0);
    expect(log.machine.hasSession(session)).toBe(true);
  });
});

describe('session bounds', () => {
  it('opening a session beyond sessionsMax evicts the least recently active one', () => {
    const log = new LogFeeder({ sessionsMax: 2 });
    const first = log.register(1);
    const second = log.register(2);
    log.apply(kvCommand.keepAlive(first), 3); // now `second` is the least recently active
    const third = log.register(4);
    expect(log.machine.sessionCount).toBe(2);
    expect(log.machine.hasSession(first)).toBe(true);
    expect(log.machine.hasSession(second)).toBe(false);
    expect(log.machine.hasSession(third)).toBe(true);
  });
});

describe('SessionTable (generic)', () => {
  it('pairs admit and remember: a fresh command must be remembered before the next entry', () => {
    const table = new SessionTable<string>();
    table.open(1);
    const fresh = header(1, 1);
    expect(table.admit(fresh)).toEqual({ kind: 'fresh' });
    expect(() => table.advanceLogTime(0)).toThrow(/remembered/);
    table.remember(fresh, 'done');
    expect(table.admit(header(1, 1))).toEqual({ kind: 'duplicate', response: 'done' });
  });

  it('refuses invalid options', () => {
    expect(() => new SessionTable({ sessionsMax: 0 })).toThrow(/sessionsMax/);
    expect(() => new SessionTable({ responsesPerSessionMax: 1.5 })).toThrow(
      /responsesPerSessionMax/,
    );
    expect(() => new SessionTable({ sessionTtlMs: Number.NaN })).toThrow(/sessionTtlMs/);
  });
});
