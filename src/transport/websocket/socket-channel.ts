/**
 * A raft WebSocket as the mesh transport sees it: a FrameChannel (frame-channel.ts) over an open,
 * authenticated WebSocket (handshake.ts), for members that have no WebRTC — an edge member, and
 * the tabs and Node members that reach it (issue 13). Binary messages are frames; anything else
 * is reported as null (the mesh counts it). WebSockets have no `bufferedamountlow` event, so the
 * channel polls `bufferedAmount` while it is above the low-water mark and a drain is awaited.
 */
import type { WebSocketEventLike, WebSocketLike } from '../../signaling/client.js';
import { DATA_CHANNEL_LOW_WATER_BYTES } from '../webrtc/frame-channel.js';
import type { FrameChannel } from '../webrtc/frame-channel.js';
import { DATA_CHANNEL_MESSAGE_BYTES_MAX } from '../webrtc/mesh-transport.js';

/**
 * The part of a WebSocket a raft socket uses: the browser's and a worker's WebSocket, `ws`'s in
 * Node, and workerd's and Deno's all fit.
 */
export interface RaftSocket extends Omit<WebSocketLike, 'send'> {
  /** Bytes handed to `send` and not yet on the network. */
  readonly bufferedAmount: number;
  /** Set to 'arraybuffer' so binary messages arrive as ArrayBuffers. */
  binaryType: string;
  send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>): void;
}

export type RaftSocketConstructor = new (url: string) => RaftSocket;

/** WebSocket ready states (the same numbers in every runtime). */
export const SOCKET_OPEN = 1;

/**
 * Largest frame a raft socket carries: the data channels' bound, so the mesh's own check
 * (`frameTooLarge`) is the one that matters and both transports carry the same frames.
 */
export const SOCKET_FRAME_BYTES_MAX = DATA_CHANNEL_MESSAGE_BYTES_MAX;

/** Frames that arrive before the mesh listens (between the handshake and `attach`). */
const EARLY_FRAMES_MAX = 256;
/** How often `bufferedAmount` is read while a drain is awaited. */
const DRAIN_POLL_MS = 20;

/** Close codes a raft socket ends with; the reason names the code. */
export const SOCKET_CLOSE = {
  normal: 1000,
  /** A message larger than SOCKET_FRAME_BYTES_MAX (the WebSocket code for "too big"). */
  tooLarge: 1009,
  /** The handshake was malformed or out of order. */
  badHandshake: 4400,
  /** The peer's proof of the room secret did not verify. */
  authFailed: 4401,
  /** The peer named another room, itself, or a member this end did not dial. */
  wrongPeer: 4403,
  /** The handshake did not finish in time. */
  handshakeTimeout: 4408,
  /** The acceptor holds as many sockets as it may. */
  tooMany: 4429,
} as const;

export type SocketCloseReason = Exclude<keyof typeof SOCKET_CLOSE, 'normal'>;

/**
 * A FrameChannel over `socket`, which the caller already authenticated and which delivers its
 * messages through `deliver` (the handshake owns the socket's one message listener).
 */
export class SocketChannel implements FrameChannel {
  private frameHandler: ((frame: Uint8Array | null) => void) | null = null;
  private drainHandler: (() => void) | null = null;
  /** The mesh's and the dialer's: both want to know. */
  private readonly closeHandlers: (() => void)[] = [];
  private readonly early: (Uint8Array | null)[] = [];
  private drainTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    private readonly socket: RaftSocket,
    private readonly onRefused: (reason: SocketCloseReason) => void = () => undefined,
  ) {
    socket.addEventListener('close', () => this.ended());
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  send(frame: Uint8Array<ArrayBuffer>): void {
    if (this.closed || this.socket.readyState !== SOCKET_OPEN) throw new Error('socket closed');
    this.socket.send(frame);
    if (this.socket.bufferedAmount > DATA_CHANNEL_LOW_WATER_BYTES) this.watchDrain();
  }

  onFrame(handler: (frame: Uint8Array | null) => void): void {
    this.frameHandler = handler;
    for (const frame of this.early.splice(0)) handler(frame);
  }

  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  onClose(handler: () => void): void {
    if (this.closed) return handler();
    this.closeHandlers.push(handler);
  }

  close(): void {
    this.end(SOCKET_CLOSE.normal, 'closed');
  }

  /** One message from the socket, after the handshake. */
  deliver(data: unknown): void {
    if (this.closed) return;
    const frame = toBytes(data);
    if (frame !== null && frame.byteLength > SOCKET_FRAME_BYTES_MAX) {
      this.onRefused('tooLarge');
      return this.end(SOCKET_CLOSE.tooLarge, 'tooLarge');
    }
    if (this.frameHandler !== null) return this.frameHandler(frame);
    if (this.early.length < EARLY_FRAMES_MAX) this.early.push(frame);
  }

  /** Closes the socket with `code` (a refusal or a normal end) and reports the end once. */
  end(code: number, reason: string): void {
    try {
      this.socket.close(code, reason);
    } catch {
      // Already closing in some runtimes: it ends either way.
    }
    this.ended();
  }

  private ended(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    this.early.length = 0;
    for (const handler of this.closeHandlers.splice(0)) handler();
  }

  /** Polls the buffer until it is below the low-water mark, then reports one drain. */
  private watchDrain(): void {
    if (this.drainTimer !== null) return;
    const poll = (): void => {
      this.drainTimer = null;
      if (this.closed) return;
      if (this.socket.bufferedAmount > DATA_CHANNEL_LOW_WATER_BYTES) {
        this.drainTimer = setTimeout(poll, DRAIN_POLL_MS);
        return;
      }
      this.drainHandler?.();
    };
    this.drainTimer = setTimeout(poll, DRAIN_POLL_MS);
  }
}

/** The bytes of a binary message (ArrayBuffer, a view, or Node's Buffer), else null. */
export function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/** The close code and reason of a close event, as far as it says. */
export function closeOf(event: WebSocketEventLike): { code: number | null; reason: string } {
  return { code: event.code ?? null, reason: event.reason ?? '' };
}
