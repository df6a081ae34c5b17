/**
 * The command codec and the state machine's handling of hostile bytes: whatever arrives, apply
 * never throws; bytes that are not a valid command yield BAD_COMMAND and change nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeKvCommand,
  encodeKvCommand,
  InvalidKvCommandError,
  KV_CODEC_VERSION,
  kvCommand,
} from '../../../src/state/index.js';
import type { KvCommand } from '../../../src/state/index.js';
import { kvOpArbitrary } from './arbitraries.js';
import { header, LogFeeder } from './log-feeder.js';

const encoder = new TextEncoder();
const bytesOf = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

/** A valid put command as wire JSON, to mutate field by field. */
const validPut = {
  v: 1,
  type: 'op',
  header: { session: 1, seq: 1, lowestUnacked: 1 },
  op: { type: 'put', key: 'a', value: 1 },
};

describe('encoding', () => {
  it('round-trips every kind of command', () => {
    const commands: KvCommand[] = [
      { type: 'registerSession' },
      { type: 'keepAlive', session: 3 },
      { type: 'closeSession', session: 3 },
      {
        type: 'op',
        header: header(3, 7, 5),
        op: { type: 'put', key: 'k', value: { a: [1, 'x'] } },
      },
      { type: 'op', header: header(3, 8, 5), op: { type: 'delete', key: 'k' } },
      {
        type: 'op',
        header: header(3, 9, 5),
        op: { type: 'cas', key: 'k', expected: null, next: 0 },
      },
      {
        type: 'op',
        header: header(3, 10, 5),
        op: {
          type: 'txn',
          checks: [{ key: 'k', version: 0 }],
          writes: [
            { type: 'put', key: 'k', value: true },
            { type: 'delete', key: 'j' },
          ],
        },
      },
    ];
    for (const command of commands) {
      expect(decodeKvCommand(encodeKvCommand(command))).toEqual({ ok: true, command });
    }
  });

  it('round-trips any JSON value put by a client', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const decoded = decodeKvCommand(kvCommand.put(header(1, 1), 'k', value as never));
        expect(decoded.ok).toBe(true);
        if (decoded.ok && decoded.command.type === 'op' && decoded.command.op.type === 'put') {
          // JSON cannot tell -0 from 0; compare as JSON text.
          expect(JSON.stringify(decoded.command.op.value)).toBe(JSON.stringify(value));
        }
      }),
    );
  });

  it('builders refuse values JSON would silently change', () => {
    for (const value of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      undefined,
      new Date(0),
      new Array<number>(3), // holes
      new Map(),
      { a: undefined },
    ]) {
      expect(() => kvCommand.put(header(1, 1), 'k', value as never)).toThrow(InvalidKvCommandError);
    }
  });

  it('builders refuse invalid headers and keys', () => {
    expect(() => kvCommand.put(header(1, 0), 'k', 1)).toThrow(InvalidKvCommandError);
    expect(() => kvCommand.put(header(1, 2, 3), 'k', 1)).toThrow(/lowestUnacked/);
    expect(() => kvCommand.put(header(1.5, 1), 'k', 1)).toThrow(InvalidKvCommandError);
    expect(() => kvCommand.put(header(1, 1), '', 1)).toThrow(InvalidKvCommandError);
  });
});

describe('decoding hostile bytes', () => {
  const badCases: [string, unknown][] = [
    ['no format version', { ...validPut, v: undefined }],
    ['another format version', { ...validPut, v: 2 }],
    ['an extra field', { ...validPut, extra: 1 }],
    ['an unknown command type', { ...validPut, type: 'drop' }],
    ['a missing header', { v: 1, type: 'op', op: validPut.op }],
    ['seq 0', { ...validPut, header: { session: 1, seq: 0, lowestUnacked: 0 } }],
    ['a fractional seq', { ...validPut, header: { session: 1, seq: 1.5, lowestUnacked: 1 } }],
    ['an unsafe integer', { ...validPut, header: { session: 2 ** 60, seq: 1, lowestUnacked: 1 } }],
    ['a string session', { ...validPut, header: { session: '1', seq: 1, lowestUnacked: 1 } }],
    ['lowestUnacked above seq', { ...validPut, header: { session: 1, seq: 1, lowestUnacked: 2 } }],
    ['a numeric key', { ...validPut, op: { type: 'put', key: 1, value: 1 } }],
    ['an empty key', { ...validPut, op: { type: 'put', key: '', value: 1 } }],
    ['a missing value', { ...validPut, op: { type: 'put', key: 'a' } }],
    ['an unknown op', { ...validPut, op: { type: 'increment', key: 'a' } }],
    [
      'a txn writing a key twice',
      {
        ...validPut,
        op: {
          type: 'txn',
          checks: [],
          writes: [
            { type: 'delete', key: 'a' },
            { type: 'delete', key: 'a' },
          ],
        },
      },
    ],
    [
      'a txn with a negative version',
      { ...validPut, op: { type: 'txn', checks: [{ key: 'a', version: -1 }], writes: [] } },
    ],
    [
      'a txn whose checks are not an array',
      { ...validPut, op: { type: 'txn', checks: {}, writes: [] } },
    ],
    ['an array instead of an object', [validPut]],
    ['null', null],
    ['a number', 42],
  ];

  it.each(badCases)('rejects %s as BAD_COMMAND', (_name, wire) => {
    expect(decodeKvCommand(bytesOf(wire))).toMatchObject({ ok: false, code: 'BAD_COMMAND' });
  });

  it('rejects invalid UTF-8, invalid JSON and empty bytes as BAD_COMMAND', () => {
    for (const bytes of [
      new Uint8Array([0xff, 0xfe]),
      encoder.encode('{"v":1,'),
      new Uint8Array(),
    ]) {
      expect(decodeKvCommand(bytes)).toMatchObject({ ok: false, code: 'BAD_COMMAND' });
    }
  });

  it('rejects values nested deeper than the limit', () => {
    const deep = '['.repeat(100) + ']'.repeat(100);
    const text = JSON.stringify(validPut).replace('"value":1', `"value":${deep}`);
    expect(decodeKvCommand(encoder.encode(text))).toMatchObject({ ok: false, code: 'BAD_COMMAND' });
  });

  it('rejects numbers JSON cannot hold (1e400 parses to Infinity)', () => {
    const text = JSON.stringify(validPut).replace('"value":1', '"value":1e400');
    expect(decodeKvCommand(encoder.encode(text))).toMatchObject({ ok: false, code: 'BAD_COMMAND' });
  });

  it('keeps a "__proto__" key as plain data', () => {
    const text = JSON.stringify(validPut).replace(
      '"value":1',
      '"value":{"__proto__":{"polluted":1}}',
    );
    const decoded = decodeKvCommand(encoder.encode(text));
    expect(decoded.ok).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('apply on hostile bytes', () => {
  it('random bytes never throw and never change a key', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), (commands) => {
        const log = new LogFeeder();
        for (const bytes of commands) {
          const result = log.apply(bytes);
          expect(result.ok === false || result.type === 'registerSession').toBe(true);
        }
        expect(log.machine.keyCount).toBe(0);
      }),
    );
  });

  it('random JSON, and random JSON in place of each field, never throws', () => {
    const anyJson = fc.jsonValue({ maxDepth: 4 });
    const mutatedPut = fc.record({
      v: fc.oneof(fc.constant(1), anyJson),
      type: fc.oneof(
        fc.constantFrom('op', 'registerSession', 'keepAlive', 'closeSession'),
        anyJson,
      ),
      header: fc.oneof(
        fc.record({
          session: fc.oneof(fc.constant(1), anyJson),
          seq: anyJson,
          lowestUnacked: anyJson,
        }),
        anyJson,
      ),
      op: fc.oneof(
        fc.record({
          type: fc.constantFrom('put', 'delete', 'cas', 'txn'),
          key: anyJson,
          value: anyJson,
        }),
        anyJson,
      ),
    });
    fc.assert(
      fc.property(fc.array(fc.oneof(anyJson, mutatedPut), { maxLength: 20 }), (wires) => {
        const log = new LogFeeder();
        log.register();
        for (const wire of wires) {
          const result = log.apply(bytesOf(wire));
          if (result.type === 'error') expect(typeof result.code).toBe('string');
        }
      }),
    );
  });

  it('answers BAD_COMMAND with the entry index and applies nothing', () => {
    const log = new LogFeeder();
    log.register();
    const result = log.apply(encoder.encode('not json'));
    expect(result).toMatchObject({ type: 'error', ok: false, code: 'BAD_COMMAND', index: 2 });
    expect(log.machine.appliedIndex).toBe(2);
  });
});

describe('the binary format (v2) and the JSON format (v1)', () => {
  const put = (key: string, value: unknown): KvCommand => ({
    type: 'op',
    header: header(7, 300, 290),
    op: { type: 'put', key, value: value as never },
  });
  /** v1 as earlier versions wrote it: the command's fields as JSON, with `v: 1`. */
  const v1 = (command: KvCommand): Uint8Array => bytesOf({ v: 1, ...command });

  it('writes v2: tagged 0xB2, about 40% smaller than v1 for a 100-byte put', () => {
    const command = put('t256-1234', 'x'.repeat(98));
    const bytes = encodeKvCommand(command);
    expect(bytes[0]).toBe(0xb2);
    expect(KV_CODEC_VERSION).toBe(2);
    expect(bytes.length).toBeLessThan(v1(command).length * 0.7);
  });

  it('still decodes v1 commands, so logs written before v2 replay unchanged', () => {
    expect(decodeKvCommand(bytesOf(validPut))).toEqual({
      ok: true,
      command: { type: 'op', header: header(1, 1, 1), op: { type: 'put', key: 'a', value: 1 } },
    });
    const command = put('k', { nested: [1, 'two', null] });
    expect(decodeKvCommand(v1(command))).toEqual({ ok: true, command });
  });

  it('writes a key with a lone surrogate in v1, so it round-trips exactly', () => {
    for (const key of ['\ud800', 'a\udc00b', '\udbff\udbff']) {
      const bytes = encodeKvCommand(put(key, 1));
      expect(bytes[0]).toBe('{'.charCodeAt(0));
      expect(decodeKvCommand(bytes)).toEqual({ ok: true, command: put(key, 1) });
    }
    const paired = encodeKvCommand(put('\ud83d\ude00', 1)); // A pair is well-formed: v2.
    expect(paired[0]).toBe(0xb2);
    expect(decodeKvCommand(paired)).toEqual({ ok: true, command: put('\ud83d\ude00', 1) });
  });

  it('round-trips sessions and integers up to the largest safe integer', () => {
    for (const n of [1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER]) {
      const command: KvCommand = {
        type: 'op',
        header: header(n, n, 1),
        op: { type: 'txn', checks: [{ key: 'k', version: n }], writes: [] },
      };
      expect(decodeKvCommand(encodeKvCommand(command))).toEqual({ ok: true, command });
      const keepAlive: KvCommand = { type: 'keepAlive', session: n };
      expect(decodeKvCommand(encodeKvCommand(keepAlive))).toEqual({ ok: true, command: keepAlive });
    }
  });

  it('round-trips strings about every length-prefix boundary, in 1 to 4 UTF-8 bytes a character', () => {
    for (const unit of ['a', 'é', '€', '😀']) {
      for (const count of [1, 21, 42, 43, 60, 127, 128, 5_461, 5_462, 16_000]) {
        const text = unit.repeat(count);
        for (const command of [put(text, text), put('k', { [text]: [text] })]) {
          expect(decodeKvCommand(encodeKvCommand(command))).toEqual({ ok: true, command });
        }
      }
    }
  });

  it('encodes a command inside another (a toJSON that encodes), and recovers from a throw', () => {
    let inner: Uint8Array | null = null;
    const sneaky = {
      toJSON: () => {
        inner = encodeKvCommand(put('inner', 'x'.repeat(2000)));
        return 'outer';
      },
    };
    const outer = encodeKvCommand(put('outer', sneaky));
    expect(decodeKvCommand(outer)).toEqual({ ok: true, command: put('outer', 'outer') });
    expect(decodeKvCommand(inner!)).toEqual({ ok: true, command: put('inner', 'x'.repeat(2000)) });
    expect(() => encodeKvCommand(put('k', 10n))).toThrow(TypeError); // JSON has no BigInt.
    expect(decodeKvCommand(encodeKvCommand(put('k', 1)))).toEqual({
      ok: true,
      command: put('k', 1),
    });
  });

  it('round-trips any command a client can build', () => {
    const safe = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
    const op = kvOpArbitrary({
      keys: fc.string({ minLength: 1, maxLength: 20 }),
      valueDepthMax: 4,
      txnSizeMax: 4,
    });
    fc.assert(
      fc.property(safe, safe, op, (session, seq, op) => {
        const command = { type: 'op', header: header(session, seq, 1), op } as const;
        const decoded = decodeKvCommand(kvCommand.op(command.header, op as never));
        // JSON cannot tell -0 from 0; compare as JSON text.
        expect(JSON.stringify(decoded)).toBe(JSON.stringify({ ok: true, command }));
      }),
    );
  });

  it('refuses every truncation, any byte after the end, and every single-byte change that breaks it', () => {
    const command = kvCommand.txn(
      header(3, 200, 150),
      [{ key: 'a', version: 1 }],
      [
        { type: 'put', key: 'b', value: { x: [1, 2] } },
        { type: 'delete', key: 'c' },
      ],
    );
    for (let length = 0; length < command.length; length++) {
      expect(decodeKvCommand(command.subarray(0, length))).toMatchObject({
        ok: false,
        code: 'BAD_COMMAND',
      });
    }
    const longer = new Uint8Array(command.length + 1);
    longer.set(command);
    expect(decodeKvCommand(longer)).toMatchObject({ ok: false, code: 'BAD_COMMAND' });
    for (let at = 0; at < command.length; at++) {
      for (const value of [0x00, 0x7f, 0x80, 0xff]) {
        const changed = command.slice();
        changed[at] = value;
        const decoded = decodeKvCommand(changed);
        if (decoded.ok) expect(decodeKvCommand(encodeKvCommand(decoded.command))).toEqual(decoded);
      }
    }
  });

  const binary = (...bytes: (number | string)[]): Uint8Array =>
    Uint8Array.from(bytes.flatMap((b) => (typeof b === 'number' ? [b] : [...encoder.encode(b)])));
  const v2Cases: [string, Uint8Array][] = [
    ['an unknown command type', binary(0xb2, 9)],
    ['an unknown op type', binary(0xb2, 3, 1, 1, 1, 9)],
    ['seq 0', binary(0xb2, 3, 1, 0, 0, 1, 1, 'a')],
    ['lowestUnacked above seq', binary(0xb2, 3, 1, 1, 2, 1, 1, 'a')],
    ['a padded integer', binary(0xb2, 1, 0x81, 0x00)],
    ['an integer over 8 bytes', binary(0xb2, 1, ...new Array<number>(8).fill(0xff), 1)],
    ['an unsafe integer', binary(0xb2, 1, ...new Array<number>(7).fill(0xff), 0x7f)],
    ['an empty key', binary(0xb2, 3, 1, 1, 1, 1, 0)],
    ['a key that is not UTF-8', binary(0xb2, 3, 1, 1, 1, 1, 2, 0xc3, 0x28)],
    ['a key longer than the bytes', binary(0xb2, 3, 1, 1, 1, 1, 9, 'a')],
    ['a value that is not JSON', binary(0xb2, 3, 1, 1, 1, 0, 1, 'a', 3, 'nul')],
    ['a value of 1e400', binary(0xb2, 3, 1, 1, 1, 0, 1, 'a', 5, '1e400')],
    [
      'a value nested too deep',
      binary(0xb2, 3, 1, 1, 1, 0, 1, 'a', 200, '['.repeat(100) + ']'.repeat(100)),
    ],
    ['a txn count beyond the bytes', binary(0xb2, 3, 1, 1, 1, 3, 0xff, 0xff, 0x03)],
    ['an unknown txn write', binary(0xb2, 3, 1, 1, 1, 3, 0, 1, 7, 1, 'a')],
    ['a txn writing a key twice', binary(0xb2, 3, 1, 1, 1, 3, 0, 2, 1, 1, 'a', 1, 1, 'a')],
    ['a registerSession with bytes after it', binary(0xb2, 0, 0)],
  ];

  it.each(v2Cases)('refuses %s as BAD_COMMAND', (_name, bytes) => {
    expect(decodeKvCommand(bytes)).toMatchObject({ ok: false, code: 'BAD_COMMAND' });
  });

  it('keeps a "__proto__" key of a v2 value as plain data', () => {
    const text = '{"__proto__":{"polluted":1}}';
    const decoded = decodeKvCommand(binary(0xb2, 3, 1, 1, 1, 0, 1, 'a', text.length, text));
    expect(decoded.ok).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
