/**
 * The glue every WHATWG-socket host shares (host.ts), against a fake socket: what the Node host
 * gets from `ws` — the size bound, back-pressure, one disconnect per socket — holds for any
 * socket Deno or workerd hands out; and the settings parse the same on every host.
 */
import { describe, expect, it } from 'vitest';
import {
  createHostRooms,
  mountWebSocket,
  newHostCounters,
  SEND_BUFFER_BYTES_MAX,
} from '../../../src/signaling/host.js';
import type { ServerWebSocket, ServerWebSocketEvent } from '../../../src/signaling/host.js';
import { readHostSettings } from '../../../src/signaling/host-config.js';
import { decodeServerMessage, encodeClientMessage } from '../../../src/signaling/protocol.js';

/** A socket that records what was sent and lets the test deliver events. */
class FakeSocket implements ServerWebSocket {
  readyState = 1;
  bufferedAmount = 0;
  binaryType = 'blob';
  readonly sent: string[] = [];
  closed: { code?: number; reason?: string } | null = null;
  private readonly listeners = new Map<string, ((event: ServerWebSocketEvent) => void)[]>();

  send(data: string): void {
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
    this.readyState = 3;
  }

  addEventListener(type: string, listener: (event: ServerWebSocketEvent) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  emit(type: 'message' | 'close' | 'error', data?: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener({ data });
  }

  types(): string[] {
    return this.sent.map((text) => {
      const decoded = decodeServerMessage(text);
      return decoded.ok ? decoded.message.type : 'undecodable';
    });
  }
}

function mounted(limits = {}) {
  const rooms = createHostRooms({ limits: { bootstrapGraceMs: 0, ...limits } });
  const counters = newHostCounters();
  const socket = new FakeSocket();
  mountWebSocket(rooms, socket, counters);
  return { rooms, counters, socket };
}

describe('a WHATWG socket mounted on the rooms', () => {
  it('is challenged at once and asks for binary data as ArrayBuffers', () => {
    const { socket, rooms } = mounted();
    expect(socket.types()).toEqual(['challenge']);
    expect(socket.binaryType).toBe('arraybuffer');
    expect(rooms.stats().connections).toBe(1);
  });

  it('closes with 1009 on a message over messageBytesMax, in UTF-8 bytes, without decoding it', () => {
    const { socket, rooms, counters } = mounted({
      messageBytesMax: 2_048,
      signalPayloadBytesMax: 1_024,
    });
    socket.emit('message', 'é'.repeat(1_025)); // 1,025 UTF-16 units, 2,050 bytes
    expect(socket.closed).toEqual({ code: 1009, reason: 'message too big' });
    expect(counters.messagesTooLarge).toBe(1);
    expect(rooms.stats().connections).toBe(0);
    expect(rooms.stats().messagesReceived).toBe(0);
  });

  it('measures binary messages too, and refuses a small one as the rooms do', () => {
    const big = mounted({ messageBytesMax: 2_048, signalPayloadBytesMax: 1_024 });
    big.socket.emit('message', new ArrayBuffer(4_096));
    expect(big.socket.closed?.code).toBe(1009);
    const small = mounted();
    small.socket.emit('message', new ArrayBuffer(8));
    expect(small.socket.types()).toEqual(['challenge', 'error']);
    expect(small.rooms.stats().malformed.notText).toBe(1);
  });

  it('drops a reader whose send queue is over the bound with 1008', () => {
    const { socket, counters } = mounted();
    socket.bufferedAmount = SEND_BUFFER_BYTES_MAX + 1;
    socket.emit('message', encodeClientMessage({ type: 'ping' }));
    expect(socket.closed).toEqual({ code: 1008, reason: 'too slow to read' });
    expect(counters.slowConsumersDropped).toBe(1);
  });

  it('forgets the connection on close or error, once', () => {
    const { socket, rooms } = mounted();
    socket.emit('error');
    socket.emit('close');
    expect(rooms.stats().connections).toBe(0);
  });
});

describe('host settings', () => {
  const read = (settings: Record<string, string>) => readHostSettings((name) => settings[name]);

  it('reads room secrets and the grace, and leaves unset ones to the defaults', () => {
    expect(read({})).toEqual({ secrets: undefined, bootstrapGraceMs: undefined });
    expect(read({ SIGNAL_ROOM_SECRETS: '{"a":"s"}', SIGNAL_BOOTSTRAP_GRACE_MS: '0' })).toEqual({
      secrets: { a: 's' },
      bootstrapGraceMs: 0,
    });
  });

  it('refuses text that cannot be meant', () => {
    expect(() => read({ SIGNAL_ROOM_SECRETS: '["a"]' })).toThrow(TypeError);
    expect(() => read({ SIGNAL_BOOTSTRAP_GRACE_MS: '-1' })).toThrow(RangeError);
    expect(() => createHostRooms({ settings: read({ SIGNAL_ROOM_SECRETS: '{"a":""}' }) })).toThrow(
      RangeError,
    );
  });
});
