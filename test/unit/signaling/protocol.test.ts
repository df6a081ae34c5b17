/**
 * The signaling protocol's decoders: every valid message decodes to exactly what was sent, every
 * malformed one is refused with its reason, and no input at all makes them throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DECODE_FAILURE_REASONS,
  decodeClientMessage,
  decodeServerMessage,
  encodeClientMessage,
  encodeServerMessage,
  errorCodeForDecodeFailure,
  PROTOCOL_LIMITS_DEFAULT,
  utf8ByteLength,
} from '../../../src/signaling/protocol.js';
import type {
  ClientMessage,
  DecodeFailureReason,
  ServerMessage,
} from '../../../src/signaling/protocol.js';

const PROOF = 'A'.repeat(43);
const hello = (fields: Record<string, unknown> = {}): string =>
  JSON.stringify({ v: 1, type: 'hello', room: 'room-1', memberId: 'tab_A', ...fields });
const signal = (fields: Record<string, unknown> = {}): string =>
  JSON.stringify({ v: 1, type: 'signal', to: 'tab_B', payload: { sdp: 'x' }, ...fields });

function reasonOf(text: string): DecodeFailureReason | 'ok' {
  const decoded = decodeClientMessage(text);
  return decoded.ok ? 'ok' : decoded.reason;
}

describe('decodeClientMessage accepts', () => {
  it('hello, with and without a proof', () => {
    expect(decodeClientMessage(hello())).toEqual({
      ok: true,
      message: { type: 'hello', room: 'room-1', memberId: 'tab_A' },
    });
    expect(decodeClientMessage(hello({ proof: PROOF }))).toEqual({
      ok: true,
      message: { type: 'hello', room: 'room-1', memberId: 'tab_A', proof: PROOF },
    });
  });

  it('hello with hasLog true or false, alone or with a proof', () => {
    expect(decodeClientMessage(hello({ hasLog: true }))).toEqual({
      ok: true,
      message: { type: 'hello', room: 'room-1', memberId: 'tab_A', hasLog: true },
    });
    expect(decodeClientMessage(hello({ hasLog: false }))).toEqual({
      ok: true,
      message: { type: 'hello', room: 'room-1', memberId: 'tab_A', hasLog: false },
    });
    expect(decodeClientMessage(hello({ proof: PROOF, hasLog: true }))).toEqual({
      ok: true,
      message: { type: 'hello', room: 'room-1', memberId: 'tab_A', proof: PROOF, hasLog: true },
    });
  });

  it('signal with any JSON payload, and ping', () => {
    const payload = { type: 'offer', sdp: 'v=0\r\n', n: [1, 2.5, null, true, { deep: 'é' }] };
    expect(decodeClientMessage(signal({ payload }))).toEqual({
      ok: true,
      message: { type: 'signal', to: 'tab_B', payload },
    });
    expect(decodeClientMessage(signal({ payload: null }))).toMatchObject({ ok: true });
    expect(decodeClientMessage('{"v":1,"type":"ping"}')).toEqual({
      ok: true,
      message: { type: 'ping' },
    });
  });

  it('what encodeClientMessage writes, for any valid message', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
    const message: fc.Arbitrary<ClientMessage> = fc.oneof(
      fc.record({ type: fc.constant('hello' as const), room: id, memberId: id }),
      fc.record(
        {
          type: fc.constant('hello' as const),
          room: id,
          memberId: id,
          proof: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
          hasLog: fc.boolean(),
        },
        { requiredKeys: ['type', 'room', 'memberId'] },
      ),
      fc.record({
        type: fc.constant('signal' as const),
        to: id,
        payload: fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.parse(JSON.stringify(v))),
      }),
      fc.constant({ type: 'ping' as const }),
    );
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeClientMessage(encodeClientMessage(m))).toEqual({ ok: true, message: m });
      }),
      { numRuns: 300 },
    );
  });
});

describe('decodeClientMessage refuses', () => {
  it.each<[string, string, DecodeFailureReason]>([
    ['empty text', '', 'notJson'],
    ['text that is not JSON', '{"v":1,', 'notJson'],
    ['a JSON array', '[1,2]', 'notObject'],
    ['JSON null', 'null', 'notObject'],
    ['a JSON string', '"hello"', 'notObject'],
    ['a message without v', '{"type":"ping"}', 'missingField'],
    ['version 2', '{"v":2,"type":"ping"}', 'unsupportedVersion'],
    ['version "1" as a string', '{"v":"1","type":"ping"}', 'unsupportedVersion'],
    ['a message without type', '{"v":1}', 'missingField'],
    ['a type that is not a string', '{"v":1,"type":7}', 'unknownType'],
    ['an unknown type', '{"v":1,"type":"join"}', 'unknownType'],
    ['a server-only type', '{"v":1,"type":"welcome"}', 'unknownType'],
    ['an unknown field', '{"v":1,"type":"ping","extra":1}', 'unknownField'],
    ['a __proto__ field', '{"v":1,"type":"ping","__proto__":{}}', 'unknownField'],
    ['hello without room', JSON.stringify({ v: 1, type: 'hello', memberId: 'a' }), 'missingField'],
    ['hello without memberId', JSON.stringify({ v: 1, type: 'hello', room: 'r' }), 'missingField'],
    ['hello with an unknown field', hello({ secret: 'x' }), 'unknownField'],
    ['an empty room id', hello({ room: '' }), 'badField'],
    ['a room id of 65 characters', hello({ room: 'r'.repeat(65) }), 'badField'],
    ['a room id with a space', hello({ room: 'my room' }), 'badField'],
    ['a room id with a newline', hello({ room: 'a\nb' }), 'badField'],
    ['a room id with a slash', hello({ room: 'a/b' }), 'badField'],
    ['a non-ASCII member id', hello({ memberId: 'tâb' }), 'badField'],
    ['a numeric member id', hello({ memberId: 42 }), 'badField'],
    ['a null proof', hello({ proof: null }), 'badField'],
    ['a proof of 42 characters', hello({ proof: 'A'.repeat(42) }), 'badField'],
    ['a proof with padding', hello({ proof: 'A'.repeat(42) + '=' }), 'badField'],
    ['a hex proof of 64 characters', hello({ proof: 'a'.repeat(64) }), 'badField'],
    ['hasLog "true" as a string', hello({ hasLog: 'true' }), 'badField'],
    ['hasLog as a number', hello({ hasLog: 1 }), 'badField'],
    ['a null hasLog', hello({ hasLog: null }), 'badField'],
    ['hasLog as an object', hello({ hasLog: { value: true } }), 'badField'],
    ['signal without payload', JSON.stringify({ v: 1, type: 'signal', to: 'b' }), 'missingField'],
    ['signal without to', JSON.stringify({ v: 1, type: 'signal', payload: 1 }), 'missingField'],
    ['signal with from (the server adds it)', signal({ from: 'a' }), 'unknownField'],
    ['signal to a bad id', signal({ to: 'b c' }), 'badField'],
    ['a payload with an infinite number', signal().replace('{"sdp":"x"}', '1e999'), 'badField'],
    ['a payload nested too deep', signal({ payload: nested(17) }), 'badField'],
    ['a payload over its byte bound', signal({ payload: 'x'.repeat(40_000) }), 'payloadTooLarge'],
    ['a message over its byte bound', signal({ payload: 'x'.repeat(70_000) }), 'tooLarge'],
  ])('%s', (_name, text, reason) => {
    expect(reasonOf(text)).toBe(reason);
  });

  it('a payload nested exactly to the bound is fine, one more level is not', () => {
    expect(reasonOf(signal({ payload: nested(16) }))).toBe('ok');
    expect(reasonOf(signal({ payload: nested(17) }))).toBe('badField');
  });

  it('measures size in UTF-8 bytes, not characters', () => {
    // 30,000 three-byte characters: 90,000 bytes in under 65,536 UTF-16 units.
    const text = signal({ payload: 'あ'.repeat(30_000) });
    expect(text.length).toBeLessThan(PROTOCOL_LIMITS_DEFAULT.messageBytesMax);
    expect(reasonOf(text)).toBe('tooLarge');
  });

  it('input that is not a string at all', () => {
    const decoded = decodeClientMessage(new Uint8Array(3) as unknown as string);
    expect(decoded).toMatchObject({ ok: false, reason: 'notText' });
  });

  it('maps failures to stable error codes', () => {
    expect(errorCodeForDecodeFailure('tooLarge')).toBe('TOO_LARGE');
    expect(errorCodeForDecodeFailure('payloadTooLarge')).toBe('TOO_LARGE');
    expect(errorCodeForDecodeFailure('unsupportedVersion')).toBe('UNSUPPORTED_VERSION');
    expect(errorCodeForDecodeFailure('unknownField')).toBe('BAD_MESSAGE');
  });
});

describe('decodeClientMessage never throws', () => {
  const isVerdict = (text: string): boolean => {
    const decoded = decodeClientMessage(text);
    return decoded.ok || DECODE_FAILURE_REASONS.includes(decoded.reason);
  };

  it('on arbitrary strings, lone surrogates included', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), isVerdict), {
      numRuns: 2000,
    });
  });

  it('on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => isVerdict(JSON.stringify(value))),
      { numRuns: 1000 },
    );
  });

  it('on message-shaped objects with arbitrary field values', () => {
    const field = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'binary' }));
    const shaped = fc.record(
      {
        v: fc.oneof(fc.constant(1), field),
        type: fc.oneof(fc.constantFrom('hello', 'signal', 'ping', 'pong', 'welcome'), field),
        room: field,
        memberId: field,
        proof: field,
        hasLog: fc.oneof(fc.boolean(), field),
        to: field,
        payload: field,
        from: field,
      },
      { requiredKeys: ['v', 'type'] },
    );
    fc.assert(
      fc.property(shaped, (fields) => isVerdict(JSON.stringify(fields))),
      { numRuns: 2000 },
    );
  });

  it('on very deep nesting', () => {
    expect(isVerdict('['.repeat(60_000) + ']'.repeat(60_000))).toBe(true);
    expect(
      isVerdict(signal().replace('{"sdp":"x"}', '['.repeat(30_000) + ']'.repeat(30_000))),
    ).toBe(true);
  });
});

describe('decodeServerMessage', () => {
  const messages: ServerMessage[] = [
    { type: 'challenge', nonce: PROOF },
    { type: 'welcome', room: 'r', memberId: 'a', peers: ['b', 'c'], bootstrapper: false },
    { type: 'welcome', room: 'r', memberId: 'a', peers: [], bootstrapper: true },
    { type: 'bootstrap' },
    { type: 'peer-joined', memberId: 'b' },
    { type: 'peer-left', memberId: 'b' },
    { type: 'signal', from: 'b', payload: { candidate: 'c', sdpMid: '0' } },
    { type: 'error', code: 'AUTH_FAILED', message: 'wrong proof' },
    { type: 'pong' },
  ];

  it.each(messages.map((m) => [m.type, m] as const))('round-trips %s', (_type, message) => {
    expect(decodeServerMessage(encodeServerMessage(message))).toEqual({ ok: true, message });
  });

  it.each<[string, Record<string, unknown>, DecodeFailureReason]>([
    ['an unknown error code', { type: 'error', code: 'NOPE', message: '' }, 'badField'],
    [
      'an error text too long',
      { type: 'error', code: 'BAD_MESSAGE', message: 'x'.repeat(513) },
      'badField',
    ],
    [
      'a welcome with a bad peer id',
      { type: 'welcome', room: 'r', memberId: 'a', peers: ['b c'], bootstrapper: false },
      'badField',
    ],
    [
      'a welcome without bootstrapper',
      { type: 'welcome', room: 'r', memberId: 'a', peers: [] },
      'missingField',
    ],
    [
      'a welcome with bootstrapper "yes"',
      { type: 'welcome', room: 'r', memberId: 'a', peers: [], bootstrapper: 'yes' },
      'badField',
    ],
    ['a short nonce', { type: 'challenge', nonce: 'abc' }, 'badField'],
    ['a signal without from', { type: 'signal', payload: 1 }, 'missingField'],
    ['a pong with a field', { type: 'pong', at: 1 }, 'unknownField'],
    ['a bootstrap naming someone', { type: 'bootstrap', memberId: 'a' }, 'unknownField'],
    ['a bootstrap with a flag', { type: 'bootstrap', bootstrapper: true }, 'unknownField'],
    ['a client type', { type: 'hello', room: 'r', memberId: 'a' }, 'unknownType'],
  ])('refuses %s', (_name, fields, reason) => {
    expect(decodeServerMessage(JSON.stringify({ v: 1, ...fields }))).toMatchObject({
      ok: false,
      reason,
    });
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        const decoded = decodeServerMessage(text);
        return decoded.ok || DECODE_FAILURE_REASONS.includes(decoded.reason);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('utf8ByteLength', () => {
  it('agrees with TextEncoder on any string, lone surrogates included', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(utf8ByteLength(text)).toBe(encoder.encode(text).length);
      }),
      { numRuns: 2000 },
    );
  });
});

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}
