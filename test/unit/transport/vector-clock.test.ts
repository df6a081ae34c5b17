/**
 * Timeline clocks on the wire: absent, a frame is byte for byte what it was before timelines
 * existed; present, it round-trips; unsound, the message still arrives, without it, and the
 * decoder counts it.
 */
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import { decodeFrame, encodeFrame, FrameDecoder } from '../../../src/transport/codec.js';
import {
  CLOCK_ENTRIES_MAX,
  CLOCK_ID_LENGTH_MAX,
  clockOf,
  withClock,
} from '../../../src/transport/vector-clock.js';
import { MeshTransport } from '../../../src/transport/webrtc/mesh-transport.js';

/** Messages and their frames as the codec encoded them before it knew of clocks (commit 901d3a9). */
const GOLDEN: readonly [Message, string][] = [
  [
    { type: 'vote', from: 'm1', to: 'm2', term: 3, lastIndex: 7, lastTerm: 2, transfer: false },
    '9901a4726f6f6da26d31a26d3201030702c2',
  ],
  [
    {
      type: 'append',
      from: 'm1',
      to: 'm2',
      term: 3,
      prevIndex: 4,
      prevTerm: 2,
      commit: 4,
      entries: [{ index: 5, term: 3, kind: 'normal', data: new Uint8Array([1, 2, 3]) }],
    },
    '9a01a4726f6f6da26d31a26d32040304020491930300c403010203',
  ],
  [
    {
      type: 'appendResponse',
      from: 'm2',
      to: 'm1',
      term: 3,
      reject: false,
      index: 5,
      hintIndex: 0,
      hintTerm: 0,
    },
    '9a01a4726f6f6da26d32a26d310503c2050000',
  ],
  [
    { type: 'heartbeat', from: 'm1', to: 'm3', term: 3, commit: 5, readSeq: 2, sentTick: 99 },
    '9901a4726f6f6da26d31a26d330603050263',
  ],
];

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const packr = new Packr({ useRecords: false, variableMapSize: true });

/** `message`'s frame with `trailing` packed after its fields, as a peer could send it. */
function withTrailing(message: Message, trailing: unknown): Uint8Array {
  const fields = new Packr({ useRecords: false, mapsAsObjects: false }).unpack(
    encodeFrame('room', message),
  ) as unknown[];
  return new Uint8Array(packr.pack([...fields, trailing]));
}

const vote = GOLDEN[0]![0];

describe('timeline clocks on the wire', () => {
  it('a message without a clock encodes to the very bytes it did before timelines existed', () => {
    // Byte 1 is the wire version: 1 then, 2 since KV commands went binary (the rest is the same).
    const ofThisVersion = (golden: string) => `${golden.slice(0, 2)}02${golden.slice(4)}`;
    for (const [message, golden] of GOLDEN) {
      expect(hex(encodeFrame('room', message))).toBe(ofThisVersion(golden));
    }
  });

  it('a clock rides as one trailing field and round-trips', () => {
    const clocked = withClock(vote, { m1: 4, m2: 2 });
    const frame = encodeFrame('room', clocked);
    const plain = encodeFrame('room', vote);
    expect(frame.length).toBeGreaterThan(plain.length);
    const decoded = decodeFrame(frame, 'room', 'm2') as Message;
    expect(clockOf(decoded)).toEqual({ m1: 4, m2: 2 });
    expect({ ...decoded, clock: undefined }).toEqual({ ...vote, clock: undefined });
  });

  it.each([
    ['an odd-length list', ['m1']],
    [
      'too many entries',
      Array.from({ length: CLOCK_ENTRIES_MAX + 1 }, (_, i) => [`p${i}`, 1]).flat(),
    ],
    ['an id too long', ['m1', 1, 'x'.repeat(CLOCK_ID_LENGTH_MAX + 1), 1]],
    ['an empty id', ['m1', 1, '', 1]],
    ['a negative count', ['m1', 1, 'm2', -1]],
    ['a fractional count', ['m1', 1.5]],
    ['an unsafe count', ['m1', 2 ** 53]],
    ['a repeated id', ['m1', 1, 'm1', 2]],
    ['no entry of the sender', ['m2', 3]],
    ['the sender at zero', ['m1', 0]],
    ['a count as text', ['m1', '1']],
  ])('a clock with %s is ignored and counted; the message arrives', (_, clock) => {
    const decoder = new FrameDecoder('room', 'm2');
    const decoded = decoder.decode(withTrailing(vote, clock));
    expect(decoded).toEqual(vote);
    expect(clockOf(decoded!)).toBeUndefined();
    expect(decoder.clocksIgnored()).toBe(1);
    expect(decoder.drops()).toEqual({});
  });

  it('a trailing field that is not a list, or two trailing fields, make the frame malformed', () => {
    expect(decodeFrame(withTrailing(vote, 7), 'room', 'm2')).toBe('malformed');
    const two = new Uint8Array(
      packr.pack([
        ...(new Packr({ useRecords: false }).unpack(encodeFrame('room', vote)) as unknown[]),
        ['m1', 1],
        ['m1', 1],
      ]),
    );
    expect(decodeFrame(two, 'room', 'm2')).toBe('malformed');
  });

  it('an id such as __proto__ stays a plain key', () => {
    const decoded = decodeFrame(withTrailing(vote, ['m1', 1, '__proto__', 5]), 'room', 'm2');
    const clock = clockOf(decoded as Message)!;
    expect(Object.getPrototypeOf(clock)).toBe(Object.prototype);
    expect(Object.keys(clock)).toEqual(['m1', '__proto__']);
  });
});

describe('timeline clocks from a hostile peer over the mesh', () => {
  it('every message arrives; unsound clocks are left off and counted, sound ones kept', () => {
    const mesh = new MeshTransport({ cluster: 'room', self: 'm2' });
    let deliver: (frame: Uint8Array | null) => void = () => undefined;
    mesh.attach('m1', {
      send: () => undefined,
      bufferedAmount: 0,
      onFrame: (handler) => (deliver = handler),
      onDrain: () => undefined,
      onClose: () => undefined,
      close: () => undefined,
    });
    const received: Message[] = [];
    mesh.onMessage((message) => received.push(message));
    const hostile: unknown[] = [
      ['m1', Number.MAX_SAFE_INTEGER + 1],
      Array.from({ length: 200 }, (_, i) => [`x${i}`, 1]).flat(),
      ['m1', 1, 'y'.repeat(100_000), 1],
      ['m1', 1, 'm2', Number.NaN],
      ['m1', 1, 7, 1],
    ];
    for (const clock of hostile) deliver(withTrailing(vote, clock));
    deliver(withTrailing(vote, ['m1', 3, '__proto__', 2]));
    expect(received).toHaveLength(hostile.length + 1);
    expect(received.slice(0, -1).every((message) => clockOf(message) === undefined)).toBe(true);
    expect(clockOf(received.at(-1)!)).toEqual({ m1: 3, ['__proto__']: 2 });
    expect(mesh.clocksIgnored()).toBe(hostile.length);
    expect(mesh.drops()).toEqual({});
  });
});
