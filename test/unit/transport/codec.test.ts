/**
 * The wire codec: every message type round-trips, and nothing a peer sends — random bytes,
 * mutated frames, frames for someone else — throws: it decodes to a sound message or is dropped
 * with a counted reason.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import { validateMessage } from '../../../src/core/validate.js';
import { KV_LIMITS } from '../../../src/state/kv-limits.js';
import { DATA_CHANNEL_MESSAGE_BYTES_MAX } from '../../../src/transport/webrtc/mesh-transport.js';
import {
  decodeFrame,
  encodeFrame,
  FRAME_BYTES_MAX,
  FrameDecoder,
  WIRE_VERSION,
} from '../../../src/transport/codec.js';

const bytes = (...values: number[]) => new Uint8Array(values);
const envelope = { from: 'a', to: 'b', term: 7 };
const config = { voters: ['a', 'b', 'c'], learners: ['d'] };

const SAMPLES: Message[] = [
  { ...envelope, type: 'preVote', lastIndex: 10, lastTerm: 6 },
  { ...envelope, type: 'vote', lastIndex: 10, lastTerm: 6, transfer: true },
  { ...envelope, type: 'preVoteResponse', reject: false },
  { ...envelope, type: 'voteResponse', reject: true },
  {
    ...envelope,
    type: 'append',
    prevIndex: 4,
    prevTerm: 3,
    commit: 4,
    entries: [
      { index: 5, term: 7, kind: 'noop', data: bytes() },
      { index: 6, term: 7, kind: 'normal', data: bytes(1, 2, 3) },
      {
        index: 7,
        term: 7,
        kind: 'config',
        data: new TextEncoder().encode(JSON.stringify(config)),
      },
    ],
  },
  { ...envelope, type: 'append', prevIndex: 0, prevTerm: 0, commit: 0, entries: [] },
  { ...envelope, type: 'appendResponse', reject: true, index: 9, hintIndex: 5, hintTerm: 2 },
  { ...envelope, type: 'heartbeat', commit: 3, readSeq: 2 ** 40, sentTick: 99 },
  { ...envelope, type: 'heartbeatResponse', readSeq: 1, sentTick: 99 },
  { ...envelope, type: 'timeoutNow' },
  { ...envelope, type: 'readIndex', context: 'a:17' },
  { ...envelope, type: 'readIndexResponse', context: '', reject: false, index: 12 },
  {
    ...envelope,
    type: 'snapshot',
    meta: { index: 40, term: 6, config },
    size: 6,
    offset: 3,
    data: bytes(4, 5, 6),
  },
  { ...envelope, type: 'snapshotResponse', index: 40, offset: 6 },
  { ...envelope, type: 'forward', data: bytes(9, 8, 7) },
];

/** Messages as plain data (bytes as arrays) for deep comparison. */
const plain = (message: Message): unknown =>
  JSON.parse(
    JSON.stringify(message, (_key, value: unknown) =>
      value instanceof Uint8Array ? Array.from(value) : value,
    ),
  );

describe('wire codec', () => {
  it.each(SAMPLES.map((m) => [m.type, m] as const))('round-trips %s', (_type, message) => {
    const decoded = decodeFrame(encodeFrame('room', message), 'room', 'b');
    expect(typeof decoded).toBe('object');
    expect(plain(decoded as Message)).toEqual(plain(message));
    for (const entry of (decoded as { entries?: { data: Uint8Array }[] }).entries ?? []) {
      expect(entry.data.constructor).toBe(Uint8Array);
    }
  });

  it('drops frames for another cluster, another member, another version, with counts', () => {
    const decoder = new FrameDecoder('room', 'b');
    const frame = encodeFrame('room', SAMPLES[0]!);
    expect(decoder.decode(frame)).not.toBeNull();
    expect(new FrameDecoder('other-room', 'b').decode(frame)).toBeNull();
    expect(decodeFrame(frame, 'other-room', 'b')).toBe('wrongCluster');
    expect(decodeFrame(frame, 'room', 'c')).toBe('wrongRecipient');
    const packr = new Packr({ useRecords: false });
    expect(decodeFrame(packr.pack([1, 'room', 'a', 'b', 0, 1, 1, 1]), 'room', 'b')).toBe(
      'badVersion',
    );
    expect(decodeFrame(packr.pack([WIRE_VERSION, 'room', 'a', 'b', 99, 1]), 'room', 'b')).toBe(
      'unknownType',
    );
    expect(decoder.decode(bytes(0x92, 0x01))).toBeNull(); // An array of two with one element.
    expect(decoder.decode(new Uint8Array(FRAME_BYTES_MAX + 1))).toBeNull();
    expect(decoder.drops()).toEqual({ undecodable: 1, oversize: 1 });
  });

  it('drops frames whose fields have the wrong type, range, count or size', () => {
    const packr = new Packr({ useRecords: false });
    const head = [WIRE_VERSION, 'room', 'a', 'b'];
    const malformed = [
      [...head, 0, 1, 5], // preVote missing lastTerm
      [...head, 0, 1, 5, 1, 9], // one field too many
      [...head, 0, -1, 5, 1], // negative term
      [...head, 0, 1.5, 5, 1], // fractional term
      [...head, 0, 2 ** 60, 5, 1], // unsafe integer
      [...head, 1, 1, 5, 1, 'yes'], // vote.transfer not a boolean
      [...head, 4, 1, 0, 0, 0, [[1, 7, new Uint8Array()]]], // unknown entry kind
      [...head, 4, 1, 0, 0, 0, [[1, 0, 'text']]], // entry data not bytes
      [...head, 4, 1, 0, 0, 0, 'entries'], // entries not a list
      [WIRE_VERSION, 'room', '', 'b', 9, 1], // empty sender
      [WIRE_VERSION, 'room', 'x'.repeat(300), 'b', 9, 1], // sender too long
      [...head, 9, 1, new Map([['a', 1]])], // a map where nothing is expected
      [...head, 11, 1, 1, 1, [1], [], 1, 0, new Uint8Array()], // voter id not a string
    ];
    for (const fields of malformed) {
      expect(decodeFrame(packr.pack(fields), 'room', 'b'), JSON.stringify(fields)).toBe(
        'malformed',
      );
    }
  });

  it('fits an append carrying the largest command in one data-channel message', () => {
    const data = new Uint8Array(KV_LIMITS.commandBytesMax + 8); // With the proposal envelope.
    const frame = encodeFrame('room', {
      ...envelope,
      type: 'append',
      prevIndex: 0,
      prevTerm: 0,
      commit: 0,
      entries: [{ index: 1, term: 7, kind: 'normal', data }],
    });
    expect(frame.length).toBeLessThan(DATA_CHANNEL_MESSAGE_BYTES_MAX);
  });
});

describe('wire codec against hostile input (property)', () => {
  /** Never throws; a decoded message re-encodes to a frame that decodes to itself. */
  function checkSound(frame: Uint8Array): void {
    const decoded = decodeFrame(frame, 'room', 'b');
    if (typeof decoded === 'string') return;
    expect(() => validateMessage(decoded, 'b')).not.toThrow();
    const again = decodeFrame(encodeFrame('room', decoded), 'room', 'b');
    expect(plain(again as Message)).toEqual(plain(decoded));
  }

  it('random bytes are dropped or decode soundly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (frame) => checkSound(frame)),
      { numRuns: 3000 },
    );
  });

  it('mutated valid frames (flipped, cut, extended) are dropped or decode soundly', () => {
    const frames = SAMPLES.map((message) => encodeFrame('room', message));
    fc.assert(
      fc.property(
        fc.nat(frames.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(64),
        fc.uint8Array({ maxLength: 8 }),
        (which, flips, cut, tail) => {
          const frame = frames[which]!.slice();
          for (const [at, value] of flips) frame[at % frame.length] = value;
          const cutFrame = frame.slice(0, Math.max(0, frame.length - (cut % 4)));
          checkSound(cutFrame);
          checkSound(new Uint8Array([...frame, ...tail]));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('random well-typed messages round-trip', () => {
    const count = fc.nat();
    const id = fc.string({ minLength: 1, maxLength: 20 });
    const message = fc.oneof(
      fc.record({
        type: fc.constant('preVote' as const),
        from: id,
        to: fc.constant('b'),
        term: count,
        lastIndex: count,
        lastTerm: count,
      }),
      fc.record({
        type: fc.constant('appendResponse' as const),
        from: id,
        to: fc.constant('b'),
        term: count,
        reject: fc.boolean(),
        index: count,
        hintIndex: count,
        hintTerm: count,
      }),
      fc.record({
        type: fc.constant('readIndexResponse' as const),
        from: id,
        to: fc.constant('b'),
        term: count,
        context: fc.string({ maxLength: 30 }),
        reject: fc.boolean(),
        index: fc.maxSafeNat(),
      }),
    );
    fc.assert(
      fc.property(message, (m) => {
        expect(plain(decodeFrame(encodeFrame('room', m), 'room', 'b') as Message)).toEqual(
          plain(m),
        );
      }),
      { numRuns: 500 },
    );
  });
});
