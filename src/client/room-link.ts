/**
 * This tab's presence in its room on the signaling server, kept up across server restarts and
 * network blips: when the connection drops it reconnects with backoff under the same member id,
 * and peers it meets again are announced again. WebRTC channels already open do not need the
 * server, so the cluster keeps committing meanwhile; only new tabs wait for it.
 *
 * It also carries the server's bootstrap arbitration (decision 6): every (re)connect says whether
 * this member already belongs to a cluster (`hasLog`), so that a restarted server, which forgot
 * its rooms, hears from the old cluster before it names a new tab bootstrapper (issue 8).
 */
import type { MemberId } from '../core/types.js';
import { SignalingClient } from '../signaling/client.js';
import type { SignalingClientOptions, WebSocketConstructor } from '../signaling/client.js';
import {
  SignalingClosedError,
  SignalingRefusedError,
  SignalingTimeoutError,
} from '../signaling/errors.js';
import type { SignalingError } from '../signaling/errors.js';
import type { PeerInfo, SignalPayload } from '../signaling/protocol.js';

export interface RoomLinkOptions {
  readonly url: string;
  readonly room: string;
  readonly memberId: MemberId;
  readonly secret?: string;
  /**
   * Whether this member already belongs to a cluster (it has a persisted log or identity), asked
   * again on every (re)connect: a tab that joined a cluster since it opened must say so when it
   * reconnects to a restarted server. Once the server named this link bootstrapper it says true
   * on its own. Default false.
   */
  readonly hasLog?: boolean | (() => boolean);
  /** Where this member accepts raft WebSockets, and its wish to vote (see PeerInfo). */
  readonly endpoint?: string;
  readonly voter?: boolean;
  /** Reconnect delays: from min, doubling, up to max. Default 250 ms .. 5 s. */
  readonly retryDelayMs?: { readonly min: number; readonly max: number };
  /** A WebSocket constructor, when the runtime has no global one (Node 20: `ws`). */
  readonly WebSocket?: WebSocketConstructor;
}

/** What a link reports; the first three as SignalingClient does. */
export interface RoomLinkEvents {
  'peer-joined': (memberId: MemberId) => void;
  'peer-left': (memberId: MemberId) => void;
  signal: (from: MemberId, payload: SignalPayload) => void;
  /** Connected again after a drop (`peers` is the room as the server sees it now). */
  reconnected: () => void;
  /**
   * The server named this member the room's bootstrapper: later than the first welcome (a
   * restarted server's grace), or in the welcome of a reconnect. Fires at most once per link. A
   * member named in the first welcome gets no event, since no one could listen yet: read
   * `bootstrapper` after subscribing.
   */
  bootstrap: () => void;
}

type Listeners = { [E in keyof RoomLinkEvents]: Set<RoomLinkEvents[E]> };

/** Refusals that reconnecting cannot fix. */
const FATAL = new Set(['AUTH_FAILED', 'DUPLICATE_MEMBER', 'UNSUPPORTED_VERSION']);

export class RoomLink {
  private client: SignalingClient | null;
  private readonly listeners: Listeners = {
    'peer-joined': new Set(),
    'peer-left': new Set(),
    signal: new Set(),
    reconnected: new Set(),
    bootstrap: new Set(),
  };
  private lastPeers: MemberId[] = [];
  private lastInfos = new Map<MemberId, PeerInfo>();
  private failures = 0;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private named = false;
  /** Why the latest attempt to reach the server failed; null once connected. */
  private lastFailure: unknown = null;

  private constructor(
    private readonly options: RoomLinkOptions,
    first: SignalingClient | null,
    failure: unknown = null,
  ) {
    this.client = first;
    this.lastFailure = failure;
    if (first === null) {
      this.scheduleReconnect();
    } else {
      this.named = first.bootstrapper;
      this.attach(first);
    }
  }

  /** Joins the room; rejects as SignalingClient.connect does if the first attempt fails. */
  static async open(options: RoomLinkOptions): Promise<RoomLink> {
    return new RoomLink(options, await SignalingClient.connect(clientOptions(options, false)));
  }

  /**
   * Joins the room like `open`, but when the server cannot be reached (or is full, or slow)
   * resolves with a link that is not `connected` yet and keeps trying, so a page works offline.
   * Rejects only on refusals that retrying cannot fix (wrong secret, this member id taken over)
   * and on bad options.
   */
  static async join(options: RoomLinkOptions): Promise<RoomLink> {
    try {
      return await RoomLink.open(options);
    } catch (error) {
      if (!isRetryable(error)) throw error;
      return new RoomLink(options, null, error);
    }
  }

  /**
   * Whether the signaling server named this member the room's bootstrapper (it alone may
   * bootstrap a cluster there): in a welcome, or later (`bootstrap` event). Stays true.
   */
  get bootstrapper(): boolean {
    return this.named;
  }

  get memberId(): MemberId {
    return this.options.memberId;
  }

  get room(): string {
    return this.options.room;
  }

  get connected(): boolean {
    return this.client !== null;
  }

  /**
   * Not connected because the server could not be reached at all (no answer, connection
   * refused or dropped) — not because it refused this member or its room is full, which says
   * the server and the room are there.
   */
  get unreachable(): boolean {
    const failure = this.lastFailure;
    return (
      this.client === null &&
      (failure instanceof SignalingClosedError || failure instanceof SignalingTimeoutError)
    );
  }

  /** The other members in the room (as last known while disconnected). */
  peers(): MemberId[] {
    return this.client?.peers() ?? [...this.lastPeers];
  }

  /** What `peer` said of itself (endpoint, wish to vote), as last known while disconnected. */
  peerInfo(peer: MemberId): PeerInfo {
    return this.client?.peerInfo(peer) ?? this.lastInfos.get(peer) ?? { memberId: peer };
  }

  on<E extends keyof RoomLinkEvents>(event: E, listener: RoomLinkEvents[E]): () => void {
    const set = this.listeners[event] as Set<RoomLinkEvents[E]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Relays `payload` to `to`; dropped while disconnected (WebRTC retries its own attempts). */
  signal(to: MemberId, payload: SignalPayload): void {
    this.client?.signal(to, payload);
  }

  close(): void {
    this.closed = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.client?.close();
    this.client = null;
  }

  private attach(client: SignalingClient): void {
    client.on('peer-joined', (id) => this.emit('peer-joined', id));
    client.on('peer-left', (id) => this.emit('peer-left', id));
    client.on('signal', (from, payload) => this.emit('signal', from, payload));
    client.on('bootstrap', () => this.nameBootstrapper());
    client.on('close', (error) => this.dropped(client, error));
  }

  private nameBootstrapper(): void {
    if (this.named) return;
    this.named = true;
    this.emit('bootstrap');
  }

  private dropped(client: SignalingClient, error: SignalingError | null): void {
    if (this.client !== client) return;
    this.lastPeers = client.peers();
    this.lastInfos = new Map(this.lastPeers.map((peer) => [peer, client.peerInfo(peer)]));
    this.client = null;
    this.lastFailure = error;
    if (this.closed || error === null || FATAL.has(error.code)) return;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const { min, max } = this.options.retryDelayMs ?? { min: 250, max: 5000 };
    const delay = Math.min(max, min * 2 ** this.failures);
    this.retry = setTimeout(() => void this.reconnect(), delay);
  }

  private async reconnect(): Promise<void> {
    this.retry = null;
    if (this.closed) return;
    try {
      const client = await SignalingClient.connect(clientOptions(this.options, this.named));
      if (this.closed) return client.close();
      this.failures = 0;
      this.client = client;
      this.lastFailure = null;
      this.attach(client);
      for (const peer of client.peers()) this.emit('peer-joined', peer);
      this.emit('reconnected');
      if (client.bootstrapper) this.nameBootstrapper();
    } catch (error) {
      this.lastFailure = error;
      if (FATAL.has((error as { code?: string }).code ?? '')) return;
      this.failures++;
      this.scheduleReconnect();
    }
  }

  private emit<E extends keyof RoomLinkEvents>(
    event: E,
    ...args: Parameters<RoomLinkEvents[E]>
  ): void {
    for (const listener of this.listeners[event] as Set<(...a: unknown[]) => void>) {
      listener(...args);
    }
  }
}

/** A member named bootstrapper has, or is about to have, a log: it never needs naming again. */
function clientOptions(options: RoomLinkOptions, named: boolean): SignalingClientOptions {
  const { url, room, memberId, secret, WebSocket, endpoint, voter } = options;
  const hasLog =
    named || (typeof options.hasLog === 'function' ? options.hasLog() : options.hasLog);
  return {
    url,
    room,
    memberId,
    ...(secret ? { secret } : {}),
    ...(hasLog === true ? { hasLog } : {}),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(voter === undefined ? {} : { voter }),
    ...(WebSocket === undefined ? {} : { WebSocket }),
  };
}

/** Failures of a first join that a later attempt may not have, as for a reconnect. */
function isRetryable(error: unknown): boolean {
  const signaling =
    error instanceof SignalingClosedError ||
    error instanceof SignalingTimeoutError ||
    error instanceof SignalingRefusedError;
  return signaling && !FATAL.has(error.code);
}
