/**
 * The KV state machine's limits: every bound is a typed refusal, never growth, and a refusal of a
 * session command is its answer (cached for retries like any other).
 */
import { describe, expect, it } from 'vitest';
import { encodeKvCommand, KV_LIMITS, kvCommand } from '../../../src/state/index.js';
import type { KvTxnWrite } from '../../../src/state/index.js';
import { header, LogFeeder } from './log-feeder.js';

function withSession(options = {}): { log: LogFeeder; session: number } {
  const log = new LogFeeder(options);
  return { log, session: log.register() };
}

describe('size limits', () => {
  it('a key of keyLengthMax characters is accepted', () => {
    const { log, session } = withSession();
    const key = 'k'.repeat(KV_LIMITS.keyLengthMax);
    expect(log.apply(kvCommand.put(header(session, 1), key, 1))).toMatchObject({ ok: true });
  });

  it('a longer key is refused with TOO_LARGE and not stored', () => {
    const { log, session } = withSession();
    const key = 'k'.repeat(KV_LIMITS.keyLengthMax + 1);
    const result = log.apply(kvCommand.put(header(session, 1), key, 1));
    expect(result).toMatchObject({ type: 'error', ok: false, code: 'TOO_LARGE' });
    expect(log.machine.keyCount).toBe(0);
  });

  it('a value over valueBytesMax (UTF-8 JSON) is refused with TOO_LARGE', () => {
    const { log, session } = withSession();
    // Each "é" is 2 bytes in UTF-8; plus 2 bytes of quotes.
    const justFits = 'é'.repeat((KV_LIMITS.valueBytesMax - 2) / 2);
    expect(log.apply(kvCommand.put(header(session, 1), 'a', justFits))).toMatchObject({ ok: true });
    const tooBig = `${justFits}x`;
    expect(log.apply(kvCommand.put(header(session, 2), 'a', tooBig))).toMatchObject({
      code: 'TOO_LARGE',
    });
    expect(log.machine.get('a')?.version).toBe(1);
  });

  it('the next value of a compare-and-set and the writes of a transaction are bounded too', () => {
    const { log, session } = withSession();
    const tooBig = 'x'.repeat(KV_LIMITS.valueBytesMax);
    expect(log.apply(kvCommand.cas(header(session, 1), 'a', null, tooBig))).toMatchObject({
      code: 'TOO_LARGE',
    });
    const writes: KvTxnWrite[] = [
      { type: 'put', key: 'ok', value: 1 },
      { type: 'put', key: 'big', value: tooBig },
    ];
    expect(log.apply(kvCommand.txn(header(session, 2), [], writes))).toMatchObject({
      code: 'TOO_LARGE',
    });
    expect(log.machine.keyCount).toBe(0);
  });

  it('a transaction with more than txnWritesMax writes is refused whole', () => {
    const { log, session } = withSession();
    const writes: KvTxnWrite[] = Array.from({ length: KV_LIMITS.txnWritesMax + 1 }, (_, i) => ({
      type: 'put',
      key: `k${i}`,
      value: i,
    }));
    expect(log.apply(kvCommand.txn(header(session, 1), [], writes))).toMatchObject({
      code: 'TOO_LARGE',
    });
    expect(log.machine.keyCount).toBe(0);
  });

  it('a command over commandBytesMax is refused with TOO_LARGE before decoding', () => {
    const log = new LogFeeder();
    const bytes = new Uint8Array(KV_LIMITS.commandBytesMax + 1);
    expect(log.apply(bytes)).toMatchObject({ code: 'TOO_LARGE', index: 1 });
  });

  it('a refusal is the answer to that seq: a retry gets the same refusal', () => {
    const { log, session } = withSession();
    const key = 'k'.repeat(KV_LIMITS.keyLengthMax + 1);
    const command = encodeKvCommand({
      type: 'op',
      header: header(session, 1),
      op: { type: 'delete', key },
    });
    const first = log.apply(command);
    expect(log.apply(command)).toEqual(first);
  });
});

describe('keysMax', () => {
  it('a put that would add a key beyond keysMax gets TOO_MANY_KEYS; changing a key still works', () => {
    const { log, session } = withSession({ keysMax: 2 });
    log.apply(kvCommand.put(header(session, 1), 'a', 1));
    log.apply(kvCommand.put(header(session, 2), 'b', 1));
    expect(log.apply(kvCommand.put(header(session, 3), 'c', 1))).toMatchObject({
      code: 'TOO_MANY_KEYS',
    });
    expect(log.apply(kvCommand.put(header(session, 4), 'a', 2))).toMatchObject({ ok: true });
    expect(log.machine.keyCount).toBe(2);
  });

  it('a failing compare-and-set on a full store still answers ok: false, not TOO_MANY_KEYS', () => {
    const { log, session } = withSession({ keysMax: 0 });
    expect(log.apply(kvCommand.cas(header(session, 1), 'a', 'x', 'y'))).toMatchObject({
      type: 'cas',
      ok: false,
    });
    expect(log.apply(kvCommand.cas(header(session, 2), 'a', null, 'y'))).toMatchObject({
      code: 'TOO_MANY_KEYS',
    });
  });

  it('a transaction counts its net keys: deleting one and adding one fits a full store', () => {
    const { log, session } = withSession({ keysMax: 1 });
    log.apply(kvCommand.put(header(session, 1), 'a', 1));
    const swap: KvTxnWrite[] = [
      { type: 'delete', key: 'a' },
      { type: 'put', key: 'b', value: 1 },
    ];
    expect(log.apply(kvCommand.txn(header(session, 2), [], swap))).toMatchObject({ ok: true });
    const grow: KvTxnWrite[] = [{ type: 'put', key: 'c', value: 1 }];
    expect(log.apply(kvCommand.txn(header(session, 3), [], grow))).toMatchObject({
      code: 'TOO_MANY_KEYS',
    });
    expect(log.machine.range().entries.map((entry) => entry.key)).toEqual(['b']);
  });
});

describe('query and listener limits', () => {
  it('a range returns at most rangeEntriesMax entries, whatever limit is asked', () => {
    const { log, session } = withSession();
    const writes = (from: number): KvTxnWrite[] =>
      Array.from({ length: KV_LIMITS.txnWritesMax }, (_, i) => ({
        type: 'put',
        key: `k${String(from + i).padStart(5, '0')}`,
        value: 1,
      }));
    let seq = 1;
    for (let from = 0; from <= KV_LIMITS.rangeEntriesMax; from += KV_LIMITS.txnWritesMax) {
      log.apply(kvCommand.txn(header(session, seq++), [], writes(from)));
    }
    const result = log.machine.range({ limit: 10 ** 9 });
    expect(result.entries).toHaveLength(KV_LIMITS.rangeEntriesMax);
    expect(result.more).toBe(true);
  });

  it('subscribing beyond listenersMax throws OVERLOADED', () => {
    const log = new LogFeeder({ listenersMax: 1 });
    log.machine.subscribe(() => {});
    expect(() => log.machine.subscribe(() => {})).toThrow(
      expect.objectContaining({ code: 'OVERLOADED' }),
    );
  });
});
