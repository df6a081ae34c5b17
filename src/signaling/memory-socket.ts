/**
 * Two ends of a WebSocket in one process, for a member that lives where its room does: the edge
 * member in a room's Durable Object joins that room's signaling through a pair whose server end
 * is mounted on the room logic (host.ts `mountWebSocket`), as a network socket would be, but
 * without a network round trip or a second object.
 *
 * It behaves as a socket does where the client and the rooms can tell: `open` comes after the
 * constructor returns, every message and the close arrive in a later task, in order, and nothing
 * is delivered after a close. Messages are strings (signaling is text); a send on a closed end
 * is dropped, as on a real socket.
 */
import type { ServerWebSocket, ServerWebSocketEvent } from './host.js';
import type { WebSocketEventLike, WebSocketLike } from './client.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;
/** Messages one end holds for its peer before the pair is closed as a slow reader (1008). */
const QUEUED_MESSAGES_MAX = 4096;

type Listener = (event: WebSocketEventLike & ServerWebSocketEvent) => void;

/** One end of the pair: a client WebSocketLike and a server WebSocket in one shape. */
export class MemorySocket implements WebSocketLike, ServerWebSocket {
  readyState = CONNECTING;
  binaryType = 'arraybuffer';
  readonly bufferedAmount = 0;
  peer: MemorySocket | null = null;
  private readonly listeners = new Map<string, Listener[]>();
  private queued = 0;

  addEventListener(type: string, listener: Listener): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  send(data: string): void {
    const peer = this.peer;
    if (this.readyState !== OPEN || peer === null) return;
    if (++peer.queued > QUEUED_MESSAGES_MAX) {
      this.close(1008, 'too slow to read');
      return;
    }
    later(() => {
      peer.queued--;
      if (peer.readyState === OPEN) peer.emit({ type: 'message', data });
    });
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    const peer = this.peer;
    later(() => this.emit({ type: 'close', code, reason }));
    if (peer !== null && peer.readyState !== CLOSED) {
      peer.readyState = CLOSED;
      later(() => peer.emit({ type: 'close', code, reason }));
    }
  }

  /** Opens both ends (in a later task, as a network socket opens). */
  static pair(): { readonly client: MemorySocket; readonly server: MemorySocket } {
    const client = new MemorySocket();
    const server = new MemorySocket();
    client.peer = server;
    server.peer = client;
    server.readyState = OPEN; // A server socket is handed out open.
    later(() => {
      if (client.readyState !== CONNECTING) return;
      client.readyState = OPEN;
      client.emit({ type: 'open' });
    });
    return { client, server };
  }

  private emit(event: WebSocketEventLike): void {
    for (const listener of this.listeners.get(event.type) ?? []) listener(event);
  }
}

/**
 * A WebSocket constructor whose sockets reach `accept` in-process: each `new` makes a pair and
 * hands the server end to `accept` (with the URL it was opened on), as a host's upgrade would.
 */
export function memoryWebSocket(
  accept: (server: MemorySocket, url: string) => void,
): new (url: string) => WebSocketLike {
  return class {
    constructor(url: string) {
      const { client, server } = MemorySocket.pair();
      accept(server, url);
      return client;
    }
  } as unknown as new (url: string) => WebSocketLike;
}

/** A later task (not a microtask): the other end runs to completion first, as over a network. */
function later(run: () => void): void {
  setTimeout(run, 0);
}
