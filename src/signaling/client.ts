/**
 * The signaling client for browsers and Node: joins a room on the signaling server, proves the
 * room secret if given one, and then relays WebRTC signals to named peers and reports who comes
 * and goes. No Node APIs: it uses the global WebSocket, or the constructor passed as `WebSocket`
 * (Node 20 has no global one; pass `ws`'s).
 */
import { proveRoomSecret } from './auth.js';
import { SignalingClosedError, SignalingRefusedError, SignalingTimeoutError } from './errors.js';
import type { SignalingError } from './errors.js';
import {
  decodeServerMessage,
  encodeClientMessage,
  FATAL_ERROR_CODES,
  ID_PATTERN,
  SIGNALING_CLOSE_CODE,
  SIGNALING_ERROR_CODES,
} from './protocol.js';
import type {
  ClientMessage,
  PeerInfo,
  ServerMessage,
  SignalingErrorCode,
  SignalPayload,
} from './protocol.js';

/** The part of a WebSocket event the client reads (browser, Node 22 and `ws` events all fit). */
export interface WebSocketEventLike {
  readonly type: string;
  readonly data?: unknown;
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

/** The part of a WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: WebSocketEventLike) => void,
  ): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface SignalingClientOptions {
  /** The server, e.g. `ws://127.0.0.1:8787`; the client adds `?room=` (see `urlWithRoom`). */
  readonly url: string;
  readonly room: string;
  readonly memberId: string;
  /** The room secret, if the room has one; it is never sent, only proven (auth.ts). */
  readonly secret?: string;
  /**
   * This member already belongs to a cluster (a persisted log or identity): the server never
   * names it bootstrapper and knows the room has a cluster. Default false. Sent only when true,
   * which means the same as absent, so servers that predate it still admit a new tab.
   */
  readonly hasLog?: boolean;
  /**
   * Where this member accepts raft WebSockets, and its wish to vote (PeerInfo), told to the room.
   * Sent only when given: a server that predates them refuses a hello that carries them.
   */
  readonly endpoint?: string;
  readonly voter?: boolean;
  /** A WebSocket constructor, when the runtime has no global one (Node 20: `ws`). */
  readonly WebSocket?: WebSocketConstructor;
  /** How long to wait for the welcome; default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Keep-alive ping period; the connection fails after two silent periods. 0 turns it off. */
  readonly pingIntervalMs?: number;
}

/** Listeners by event name. */
export interface SignalingClientEvents {
  'peer-joined': (memberId: string) => void;
  'peer-left': (memberId: string) => void;
  signal: (from: string, payload: SignalPayload) => void;
  /**
   * The server named this member the bootstrapper after its welcome (a restarted server waits for
   * the old members first); `bootstrapper` is true from then on. At most once per client.
   */
  bootstrap: () => void;
  /** The server refused a message this client sent (UNKNOWN_PEER, RATE_LIMITED, TOO_LARGE...). */
  error: (error: SignalingRefusedError) => void;
  /** The connection ended: null after `close()`, else why (DUPLICATE_MEMBER, network, timeout). */
  close: (error: SignalingError | null) => void;
}

type Listeners = { [E in keyof SignalingClientEvents]: Set<SignalingClientEvents[E]> };

const HANDSHAKE_TIMEOUT_MS_DEFAULT = 10_000;
const PING_INTERVAL_MS_DEFAULT = 20_000;
const WEBSOCKET_OPEN = 1;
const NORMAL_CLOSURE = 1000;

/** One member's connection to a room. Create it with `SignalingClient.connect`. */
export class SignalingClient {
  readonly room: string;
  readonly memberId: string;
  private state: 'handshake' | 'open' | 'closed' = 'handshake';
  private isBootstrapper = false;
  private readonly peerIds = new Set<string>();
  /** What peers said of themselves (PeerInfo), for those that said anything. */
  private readonly infos = new Map<string, PeerInfo>();
  private readonly listeners: Listeners = {
    'peer-joined': new Set(),
    'peer-left': new Set(),
    signal: new Set(),
    bootstrap: new Set(),
    error: new Set(),
    close: new Set(),
  };
  private helloSent = false;
  private lastHeardMs = Date.now();
  private malformedReceived = 0;
  private timer: ReturnType<typeof setTimeout> | ReturnType<typeof setInterval> | undefined;
  private settleHandshake: ((error: SignalingError | null) => void) | undefined;

  private constructor(
    private readonly socket: WebSocketLike,
    private readonly options: SignalingClientOptions,
  ) {
    this.room = options.room;
    this.memberId = options.memberId;
  }

  /**
   * Connects and joins `room` as `memberId`. Resolves once the server welcomed this member;
   * rejects with SignalingRefusedError (the server's code: AUTH_FAILED, ROOM_FULL...),
   * SignalingTimeoutError or SignalingClosedError.
   */
  static connect(options: SignalingClientOptions): Promise<SignalingClient> {
    return new Promise((resolve, reject) => {
      if (!ID_PATTERN.test(options.room) || !ID_PATTERN.test(options.memberId)) {
        throw new RangeError(`room and memberId must match ${ID_PATTERN.source}`);
      }
      const Socket = options.WebSocket ?? globalThis.WebSocket;
      if (Socket === undefined) {
        throw new SignalingClosedError('no WebSocket in this runtime; pass options.WebSocket');
      }
      const client = new SignalingClient(
        new Socket(urlWithRoom(options.url, options.room)),
        options,
      );
      client.settleHandshake = (error) => (error === null ? resolve(client) : reject(error));
      client.start();
    });
  }

  /**
   * Whether the server named this member the room's bootstrapper (it alone may bootstrap a cluster
   * there): in its welcome, or later with a `bootstrap` event.
   */
  get bootstrapper(): boolean {
    return this.isBootstrapper;
  }

  /** The other members in the room now, in order of joining. */
  peers(): string[] {
    return [...this.peerIds];
  }

  /** What `peer` said of itself (its endpoint, its wish to vote), or just its id. */
  peerInfo(peer: string): PeerInfo {
    return this.infos.get(peer) ?? { memberId: peer };
  }

  /** Messages from the server that failed to decode and were dropped. */
  stats(): { readonly malformedReceived: number } {
    return { malformedReceived: this.malformedReceived };
  }

  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof SignalingClientEvents>(
    event: E,
    listener: SignalingClientEvents[E],
  ): () => void {
    const set = this.listeners[event] as Set<SignalingClientEvents[E]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Relays `payload` to member `to` of this room. Refusals arrive as `error` events. */
  signal(to: string, payload: SignalPayload): void {
    if (this.state !== 'open') throw new SignalingClosedError('the client is not connected');
    this.send({ type: 'signal', to, payload });
  }

  /** Leaves the room and closes the connection; emits `close` with null. */
  close(): void {
    this.finish(null);
  }

  private start(): void {
    this.socket.addEventListener('message', (event) => this.onMessage(event.data));
    this.socket.addEventListener('close', (event) => this.onClose(event));
    // Every failure is followed by a close event, which carries the outcome.
    this.socket.addEventListener('error', () => undefined);
    const timeoutMs = this.options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS_DEFAULT;
    this.timer = setTimeout(
      () => this.finish(new SignalingTimeoutError('no welcome from the server', timeoutMs)),
      timeoutMs,
    );
  }

  private onMessage(data: unknown): void {
    if (this.state === 'closed') return;
    this.lastHeardMs = Date.now();
    const decoded = typeof data === 'string' ? decodeServerMessage(data) : null;
    if (decoded === null || !decoded.ok) {
      this.malformedReceived++;
      return;
    }
    if (this.state === 'handshake') this.onHandshakeMessage(decoded.message);
    else this.onRoomMessage(decoded.message);
  }

  private onHandshakeMessage(message: ServerMessage): void {
    if (message.type === 'challenge' && !this.helloSent) {
      this.helloSent = true;
      void this.sendHello(message.nonce);
    } else if (message.type === 'welcome') {
      if (message.room !== this.room || message.memberId !== this.memberId) {
        return this.finish(new SignalingClosedError('the server welcomed another member'));
      }
      for (const peer of message.peers) if (peer !== this.memberId) this.peerIds.add(peer);
      for (const info of message.members ?? []) {
        if (this.peerIds.has(info.memberId)) this.infos.set(info.memberId, info);
      }
      this.isBootstrapper = message.bootstrapper;
      this.state = 'open';
      this.startPings();
      this.settle(null);
    } else if (message.type === 'error') {
      this.finish(new SignalingRefusedError(message.code, message.message));
    }
  }

  private async sendHello(nonce: string): Promise<void> {
    const { room, memberId, secret, hasLog, endpoint, voter } = this.options;
    try {
      const proof =
        secret === undefined ? undefined : await proveRoomSecret(secret, nonce, room, memberId);
      if (this.state !== 'handshake') return;
      this.send({
        type: 'hello',
        room,
        memberId,
        ...(proof === undefined ? {} : { proof }),
        ...(hasLog === true ? { hasLog } : {}),
        ...(endpoint === undefined ? {} : { endpoint }),
        ...(voter === undefined ? {} : { voter }),
      });
    } catch (error) {
      this.finish(new SignalingClosedError(`could not prove the room secret: ${String(error)}`));
    }
  }

  private onRoomMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'peer-joined':
        if (message.memberId === this.memberId) return;
        this.peerIds.add(message.memberId);
        this.infos.delete(message.memberId); // A replacement says anew what it is.
        if (message.endpoint !== undefined || message.voter !== undefined) {
          const { type: _type, ...info } = message;
          this.infos.set(message.memberId, info);
        }
        return this.emit('peer-joined', message.memberId);
      case 'peer-left':
        if (!this.peerIds.delete(message.memberId)) return;
        this.infos.delete(message.memberId);
        return this.emit('peer-left', message.memberId);
      case 'signal':
        return this.emit('signal', message.from, message.payload);
      case 'bootstrap':
        if (this.isBootstrapper) return;
        this.isBootstrapper = true;
        return this.emit('bootstrap');
      case 'error': {
        const error = new SignalingRefusedError(message.code, message.message);
        return FATAL_ERROR_CODES.has(message.code) ? this.finish(error) : this.emit('error', error);
      }
      default:
        return; // pong, and a stray challenge or welcome: nothing to do.
    }
  }

  private onClose(event: WebSocketEventLike): void {
    if (this.state === 'closed') return;
    const code = event.code ?? null;
    const reason = event.reason ?? '';
    if (code === SIGNALING_CLOSE_CODE && isErrorCode(reason)) {
      return this.finish(new SignalingRefusedError(reason, 'the server closed the connection'));
    }
    this.finish(
      new SignalingClosedError(`closed by the server or network (${reason || code})`, code),
    );
  }

  private startPings(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const intervalMs = this.options.pingIntervalMs ?? PING_INTERVAL_MS_DEFAULT;
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      if (Date.now() - this.lastHeardMs > 2 * intervalMs) {
        return this.finish(new SignalingTimeoutError('no answer to pings', 2 * intervalMs));
      }
      this.send({ type: 'ping' });
    }, intervalMs);
  }

  private send(message: ClientMessage): void {
    if (this.socket.readyState === WEBSOCKET_OPEN) this.socket.send(encodeClientMessage(message));
  }

  /** Ends the client once: stops timers, closes the socket, and reports `error` (null if asked). */
  private finish(error: SignalingError | null): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    clearTimeout(this.timer);
    clearInterval(this.timer);
    this.timer = undefined;
    try {
      this.socket.close(NORMAL_CLOSURE, 'client closed');
    } catch (_alreadyClosing) {
      // A socket still connecting may refuse close in some runtimes; it is abandoned either way.
    }
    if (wasOpen) this.emit('close', error);
    else this.settle(error ?? new SignalingClosedError('closed before the welcome'));
  }

  private settle(error: SignalingError | null): void {
    const settle = this.settleHandshake;
    this.settleHandshake = undefined;
    settle?.(error);
  }

  private emit<E extends keyof SignalingClientEvents>(
    event: E,
    ...args: Parameters<SignalingClientEvents[E]>
  ): void {
    for (const listener of [...this.listeners[event]]) {
      try {
        (listener as (...values: Parameters<SignalingClientEvents[E]>) => void)(...args);
      } catch (error) {
        // A throwing listener must not stop the others or the client; report it as uncaught.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}

/**
 * `url` with `?room=` set: edge hosts route a connection to its room's Durable Object before any
 * message is read, so the room must be in the URL as well as in the hello. Servers that do not
 * read the query (the Node host) ignore it; other query parameters are kept.
 */
export function urlWithRoom(url: string, room: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('room', room);
  return parsed.href;
}

const isErrorCode = (text: string): text is SignalingErrorCode =>
  (SIGNALING_ERROR_CODES as readonly string[]).includes(text);
