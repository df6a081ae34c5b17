/**
 * What every host of the room logic shares (Node in node-server.ts, Deno in deno.ts, workerd in
 * workerd.ts): building the rooms from settings, the periodic sweeps rooms.ts asks its host for,
 * and mounting a WHATWG-shaped server WebSocket (the kind Deno and workerd hand out) with the
 * Node host's guarantees: frames over the bound closed with 1009 before they are decoded, slow
 * readers dropped where the runtime shows its send queue, and a disconnect reported once.
 */
import { utf8ByteLength } from '../state/json.js';
import type { HostSettings } from './host-config.js';
import type { SignalingLimits } from './limits.js';
import type { RoomSecrets } from './room-secrets.js';
import { SignalingRooms } from './rooms.js';
import type { SignalingConnection } from './rooms.js';

/** Unread bytes queued for one client before it is dropped as a slow consumer. */
export const SEND_BUFFER_BYTES_MAX = 1024 * 1024;
/** How often hello timeouts are checked: a late handshake lives at most this much longer. */
export const SWEEP_INTERVAL_MS = 1_000;
export const GOING_AWAY = 1001;
export const POLICY_VIOLATION = 1008;
/** The WebSocket close code for a message too big to process (RFC 6455), as `ws` sends it. */
export const MESSAGE_TOO_BIG = 1009;
const WEBSOCKET_OPEN = 1;

export interface HostRoomsOptions {
  readonly settings?: HostSettings;
  /** Wins over `settings.secrets`. */
  readonly secrets?: RoomSecrets;
  /** Win over `settings.bootstrapGraceMs`. */
  readonly limits?: Partial<SignalingLimits>;
  /** Default `performance.now()`. */
  readonly now?: () => number;
  /** The one room served (workerd: a Durable Object per room). */
  readonly room?: string;
}

/** The room logic with the host's settings, a clock and Web Crypto randomness. */
export function createHostRooms(options: HostRoomsOptions = {}): SignalingRooms {
  const graceMs = options.settings?.bootstrapGraceMs;
  return new SignalingRooms({
    now: options.now ?? (() => performance.now()),
    randomBytes: (length) => globalThis.crypto.getRandomValues(new Uint8Array(length)),
    secrets: options.secrets ?? options.settings?.secrets,
    limits: { ...(graceMs === undefined ? {} : { bootstrapGraceMs: graceMs }), ...options.limits },
    ...(options.room === undefined ? {} : { room: options.room }),
  });
}

/**
 * Starts the sweeps (hello timeouts, bootstrappers named at the end of the grace) and returns the
 * function that stops them. `graceLeftMs`: how much of the grace is left, by default all of it;
 * `afterSweep` runs after each periodic sweep.
 */
export function startSweeps(
  rooms: SignalingRooms,
  graceLeftMs?: number,
  afterSweep?: () => void,
): () => void {
  // The periodic sweep would name the waiting bootstrappers up to a second late; first tabs wait
  // the grace already. The margin covers timers firing a hair early by the clock.
  const graceEnd = setTimeout(
    () => rooms.sweep(),
    Math.max(0, graceLeftMs ?? rooms.limits.bootstrapGraceMs) + 5,
  );
  const sweep = setInterval(() => {
    rooms.sweep();
    afterSweep?.();
  }, SWEEP_INTERVAL_MS);
  unref(graceEnd);
  unref(sweep);
  return () => {
    clearTimeout(graceEnd);
    clearInterval(sweep);
  };
}

/** A Node timer must not keep the process alive by itself; Deno and workerd timers are numbers. */
function unref(timer: unknown): void {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer) {
    const method: unknown = timer.unref;
    if (typeof method === 'function') method.call(timer);
  }
}

/** Whether `request` asks to become a WebSocket (the hosts on fetch-style runtimes). */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.headers.get('upgrade')?.toLowerCase() === 'websocket';
}

/** One event of a server WebSocket, as much as the host reads of it. */
export interface ServerWebSocketEvent {
  readonly data?: unknown;
}

/** The sending half of a server WebSocket: `ws`'s, Deno's and workerd's all fit. */
export interface SendingWebSocket {
  readonly readyState: number;
  /** Node and Deno have it; workerd does not show its send queue, so no slow reader is dropped. */
  readonly bufferedAmount?: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** The server side of a WebSocket as Deno and workerd hand it out (WHATWG shape, parts used). */
export interface ServerWebSocket extends SendingWebSocket {
  binaryType?: string;
  addEventListener(
    type: 'message' | 'close' | 'error',
    listener: (event: ServerWebSocketEvent) => void,
  ): void;
}

/** What a WHATWG host counts besides the rooms' own statistics. */
export interface WebSocketHostCounters {
  /** Connections dropped because they did not read what was sent to them. */
  slowConsumersDropped: number;
  /** Connections closed with 1009 for a message over `messageBytesMax`. */
  messagesTooLarge: number;
}

/** Zeroed counters for `mountWebSocket`. */
export const newHostCounters = (): WebSocketHostCounters => ({
  slowConsumersDropped: 0,
  messagesTooLarge: 0,
});

/** Connects one open server WebSocket to the room logic (its challenge is sent at once). */
export function mountWebSocket(
  rooms: SignalingRooms,
  socket: ServerWebSocket,
  counters: WebSocketHostCounters,
): void {
  // Binary frames are refused by the rooms either way; an ArrayBuffer can be measured at once.
  if (socket.binaryType !== undefined) socket.binaryType = 'arraybuffer';
  const handle = rooms.connect(roomConnection(socket, counters));
  socket.addEventListener('message', (event) => {
    // Neither Deno nor workerd bounds a message as ws's maxPayload does; the runtime has buffered
    // it by now (up to its own cap), but it is never decoded, as on Node.
    if (byteLengthOver(event.data, rooms.limits.messageBytesMax)) {
      counters.messagesTooLarge++;
      handle.disconnected();
      socket.close(MESSAGE_TOO_BIG, 'message too big');
      return;
    }
    handle.receive(event.data);
  });
  socket.addEventListener('close', () => handle.disconnected());
  socket.addEventListener('error', () => handle.disconnected());
}

/** The room logic's view of `socket`: sends dropped once closed, slow readers dropped. */
export function roomConnection(
  socket: SendingWebSocket,
  counters: Pick<WebSocketHostCounters, 'slowConsumersDropped'>,
): SignalingConnection {
  return {
    send: (text) => {
      if (socket.readyState !== WEBSOCKET_OPEN) return;
      if ((socket.bufferedAmount ?? 0) > SEND_BUFFER_BYTES_MAX) {
        counters.slowConsumersDropped++;
        socket.close(POLICY_VIOLATION, 'too slow to read');
        return;
      }
      socket.send(text);
    },
    close: (code, reason) => socket.close(code, reason),
  };
}

function byteLengthOver(data: unknown, bytesMax: number): boolean {
  if (typeof data === 'string') return data.length > bytesMax || utf8ByteLength(data) > bytesMax;
  if (data instanceof ArrayBuffer) return data.byteLength > bytesMax;
  if (ArrayBuffer.isView(data)) return data.byteLength > bytesMax;
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size > bytesMax;
  return false;
}
