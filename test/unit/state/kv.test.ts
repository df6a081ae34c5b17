/**
 * The KV state machine's operations, read as a specification: versions, delete, compare-and-set,
 * transactions, ranges and change events.
 */
import { describe, expect, it, vi } from 'vitest';
import { kvCommand } from '../../../src/state/index.js';
import type { KvChange } from '../../../src/state/index.js';
import { header, LogFeeder } from './log-feeder.js';

function withSession(): { log: LogFeeder; session: number; nextSeq: () => number } {
  const log = new LogFeeder();
  const session = log.register();
  let seq = 0;
  return { log, session, nextSeq: () => ++seq };
}

describe('put and get', () => {
  it('creates a key at version 1 and records the index of the change', () => {
    const { log, session, nextSeq } = withSession();
    const result = log.apply(kvCommand.put(header(session, nextSeq()), 'a', { n: 1 }));
    expect(result).toEqual({ type: 'put', ok: true, index: 2, version: 1 });
    expect(log.machine.get('a')).toEqual({ key: 'a', value: { n: 1 }, version: 1, modIndex: 2 });
  });

  it('adds 1 to the version at each change, even when the value is the same', () => {
    const { log, session, nextSeq } = withSession();
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 1));
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 1));
    const result = log.apply(kvCommand.put(header(session, nextSeq()), 'a', 2));
    expect(result).toMatchObject({ ok: true, version: 3, index: 4 });
    expect(log.machine.get('a')).toMatchObject({ value: 2, version: 3, modIndex: 4 });
  });

  it('answers a missing key with null, also through query()', () => {
    const { log } = withSession();
    expect(log.machine.get('missing')).toBeNull();
    expect(log.machine.query({ type: 'get', key: 'missing' })).toBeNull();
  });

  it('hands out frozen values, so a reader cannot change the replicated state', () => {
    const { log, session } = withSession();
    log.apply(kvCommand.put(header(session, 1), 'a', { list: [1, 2] }));
    const entry = log.machine.get('a');
    expect(Object.isFrozen(entry)).toBe(true);
    expect(Object.isFrozen(entry?.value)).toBe(true);
  });
});

describe('delete', () => {
  it('removes the key and reports the version it had', () => {
    const { log, session, nextSeq } = withSession();
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 1));
    const result = log.apply(kvCommand.delete(header(session, nextSeq()), 'a'));
    expect(result).toEqual({ type: 'delete', ok: true, index: 3, version: 0, previousVersion: 1 });
    expect(log.machine.get('a')).toBeNull();
  });

  it('succeeds on a missing key with version 0', () => {
    const { log, session } = withSession();
    const result = log.apply(kvCommand.delete(header(session, 1), 'never'));
    expect(result).toEqual({ type: 'delete', ok: true, index: 2, version: 0, previousVersion: 0 });
  });

  it('restarts the version at 1 when a deleted key is created again', () => {
    const { log, session, nextSeq } = withSession();
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 1));
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 2));
    log.apply(kvCommand.delete(header(session, nextSeq()), 'a'));
    const result = log.apply(kvCommand.put(header(session, nextSeq()), 'a', 3));
    expect(result).toMatchObject({ version: 1 });
    expect(log.machine.get('a')).toMatchObject({ version: 1, modIndex: 5 });
  });
});

describe('compare-and-set', () => {
  it('sets the next value when the current one deep-equals expected (key order ignored)', () => {
    const { log, session, nextSeq } = withSession();
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', { x: 1, y: [true, null] }));
    const result = log.apply(
      kvCommand.cas(header(session, nextSeq()), 'a', { y: [true, null], x: 1 }, 'next'),
    );
    expect(result).toEqual({
      type: 'cas',
      ok: true,
      index: 3,
      current: { value: 'next', version: 2 },
    });
    expect(log.machine.get('a')?.value).toBe('next');
  });

  it('fails without a change when the value differs, and returns the current value', () => {
    const { log, session, nextSeq } = withSession();
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', [1, 2]));
    const result = log.apply(kvCommand.cas(header(session, nextSeq()), 'a', [2, 1], 'next'));
    expect(result).toEqual({
      type: 'cas',
      ok: false,
      index: 3,
      current: { value: [1, 2], version: 1 },
    });
    expect(log.machine.get('a')).toMatchObject({ value: [1, 2], version: 1, modIndex: 2 });
  });

  it('with expected null, creates a missing key', () => {
    const { log, session } = withSession();
    const result = log.apply(kvCommand.cas(header(session, 1), 'lock', null, 'owner-1'));
    expect(result).toMatchObject({ ok: true, current: { value: 'owner-1', version: 1 } });
  });

  it('with expected null, fails if the key exists', () => {
    const { log, session, nextSeq } = withSession();
    log.apply(kvCommand.put(header(session, nextSeq()), 'lock', 'owner-1'));
    const result = log.apply(kvCommand.cas(header(session, nextSeq()), 'lock', null, 'owner-2'));
    expect(result).toMatchObject({ ok: false, current: { value: 'owner-1', version: 1 } });
  });

  it('with a non-null expected, fails on a missing key with current null', () => {
    const { log, session } = withSession();
    const result = log.apply(kvCommand.cas(header(session, 1), 'a', 1, 2));
    expect(result).toEqual({ type: 'cas', ok: false, index: 2, current: null });
    expect(log.machine.get('a')).toBeNull();
  });
});

describe('transactions', () => {
  it('apply every write when every version check holds', () => {
    const { log, session, nextSeq } = withSession();
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 1));
    log.apply(kvCommand.put(header(session, nextSeq()), 'gone', 1));
    const result = log.apply(
      kvCommand.txn(
        header(session, nextSeq()),
        [
          { key: 'a', version: 1 },
          { key: 'b', version: 0 },
        ],
        [
          { type: 'put', key: 'a', value: 2 },
          { type: 'put', key: 'b', value: 'new' },
          { type: 'delete', key: 'gone' },
        ],
      ),
    );
    expect(result).toEqual({ type: 'txn', ok: true, index: 4, failedChecks: [] });
    expect(log.machine.get('a')).toMatchObject({ value: 2, version: 2, modIndex: 4 });
    expect(log.machine.get('b')).toMatchObject({ value: 'new', version: 1, modIndex: 4 });
    expect(log.machine.get('gone')).toBeNull();
  });

  it('apply nothing when any check fails, and name every failed key', () => {
    const { log, session, nextSeq } = withSession();
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 1));
    log.apply(kvCommand.put(header(session, nextSeq()), 'b', 1));
    const before = log.machine.snapshotState();
    const result = log.apply(
      kvCommand.txn(
        header(session, nextSeq()),
        [
          { key: 'a', version: 2 },
          { key: 'b', version: 1 },
          { key: 'c', version: 3 },
        ],
        [
          { type: 'put', key: 'b', value: 'changed' },
          { type: 'delete', key: 'a' },
        ],
      ),
    );
    expect(result).toEqual({ type: 'txn', ok: false, index: 4, failedChecks: ['a', 'c'] });
    expect(log.machine.get('a')).toMatchObject({ value: 1, version: 1 });
    expect(log.machine.get('b')).toMatchObject({ value: 1, version: 1 });
    // Only the applied index and the cached response differ: no key changed.
    const keysOf = (state: string): unknown => (JSON.parse(state) as { keys: unknown }).keys;
    expect(keysOf(log.machine.snapshotState())).toEqual(keysOf(before));
  });

  it('with version 0 checks that a key is absent', () => {
    const { log, session, nextSeq } = withSession();
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 1));
    const result = log.apply(
      kvCommand.txn(header(session, nextSeq()), [{ key: 'a', version: 0 }], []),
    );
    expect(result).toMatchObject({ ok: false, failedChecks: ['a'] });
  });
});

describe('range', () => {
  function filled(): LogFeeder {
    const { log, session, nextSeq } = withSession();
    for (const key of ['b/2', 'a', 'b/1', 'c', 'b/3', 'ba']) {
      log.apply(kvCommand.put(header(session, nextSeq()), key, key));
    }
    return log;
  }

  it('lists every key in ascending order by default', () => {
    const result = filled().machine.range();
    expect(result.entries.map((entry) => entry.key)).toEqual(['a', 'b/1', 'b/2', 'b/3', 'ba', 'c']);
    expect(result.more).toBe(false);
  });

  it('lists only the keys under a prefix', () => {
    const result = filled().machine.query({ type: 'range', prefix: 'b/' });
    expect(result.entries.map((entry) => entry.key)).toEqual(['b/1', 'b/2', 'b/3']);
  });

  it('pages with limit and after, and says when more keys match', () => {
    const log = filled();
    const first = log.machine.range({ prefix: 'b', limit: 2 });
    expect(first.entries.map((entry) => entry.key)).toEqual(['b/1', 'b/2']);
    expect(first.more).toBe(true);
    const second = log.machine.range({ prefix: 'b', limit: 2, after: 'b/2' });
    expect(second.entries.map((entry) => entry.key)).toEqual(['b/3', 'ba']);
    expect(second.more).toBe(false);
  });
});

describe('change events', () => {
  it('tell listeners the changes of each applied command, with versions and index', () => {
    const { log, session, nextSeq } = withSession();
    const heard: (readonly KvChange[])[] = [];
    log.machine.subscribe((changes) => heard.push(changes));
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 1));
    log.apply(
      kvCommand.txn(
        header(session, nextSeq()),
        [],
        [
          { type: 'put', key: 'b', value: 2 },
          { type: 'delete', key: 'a' },
        ],
      ),
    );
    expect(heard).toEqual([
      [{ key: 'a', value: 1, version: 1, index: 2 }],
      [
        { key: 'b', value: 2, version: 1, index: 3 },
        { key: 'a', value: null, version: 0, index: 3 },
      ],
    ]);
  });

  it('are not emitted by commands that change nothing', () => {
    const { log, session, nextSeq } = withSession();
    const listener = vi.fn();
    log.machine.subscribe(listener);
    log.apply(kvCommand.delete(header(session, nextSeq()), 'missing'));
    log.apply(kvCommand.cas(header(session, nextSeq()), 'missing', 1, 2));
    log.apply(kvCommand.txn(header(session, nextSeq()), [{ key: 'x', version: 5 }], []));
    expect(listener).not.toHaveBeenCalled();
  });

  it('stop after unsubscribing', () => {
    const { log, session, nextSeq } = withSession();
    const listener = vi.fn();
    const unsubscribe = log.machine.subscribe(listener);
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 1));
    unsubscribe();
    log.apply(kvCommand.put(header(session, nextSeq()), 'a', 2));
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('see the state already updated when they are called', () => {
    const { log, session } = withSession();
    const seen: unknown[] = [];
    log.machine.subscribe(() => seen.push(log.machine.get('a')?.value, log.machine.appliedIndex));
    log.apply(kvCommand.put(header(session, 1), 'a', 'v'));
    expect(seen).toEqual(['v', 2]);
  });

  it('a listener that throws does not break apply or the other listeners', () => {
    const reported: unknown[] = [];
    const log = new LogFeeder({ onListenerError: (error) => reported.push(error) });
    const session = log.register();
    const after = vi.fn();
    log.machine.subscribe(() => {
      throw new Error('listener bug');
    });
    log.machine.subscribe(after);
    const result = log.apply(kvCommand.put(header(session, 1), 'a', 1));
    expect(result).toMatchObject({ ok: true, version: 1 });
    expect(after).toHaveBeenCalledTimes(1);
    expect(reported).toHaveLength(1);
    expect(log.machine.appliedIndex).toBe(2);
  });
});

describe('applied index', () => {
  it('advances with commands and no-ops', () => {
    const log = new LogFeeder();
    log.noop();
    log.register();
    expect(log.machine.appliedIndex).toBe(2);
  });

  it('refuses an entry that is not the next index (an invariant, not bad input)', () => {
    const log = new LogFeeder();
    expect(() =>
      log.machine.apply(kvCommand.registerSession(), { index: 2, term: 1, time: 0 }),
    ).toThrow(/expected index 1/);
    expect(() => log.machine.applyNoop({ index: 0, term: 1, time: 0 })).toThrow(
      /INVARIANT|invariant/,
    );
  });
});
