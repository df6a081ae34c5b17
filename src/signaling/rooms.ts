/**
 * The signaling server's room logic, runtime-agnostic (decision 9): no Node APIs and no WebSocket
 * library, only an abstract connection (`send`, `close`), an injected clock and an injected source
 * of random bytes, so Node (node-server.ts) and edge runtimes (Deno, workerd) mount the same code.
 *
 * Per connection: challenge -> hello -> (proof checked) -> joined -> closed. A member is introduced
 * to no one before its proof passes: it gets no welcome, nobody gets its peer-joined, and it cannot
 * signal. Everything is bounded (limits.ts) and every refusal is counted in `stats()`; nothing a
 * client sends throws out of this module.
 *
 * Replacement: a member id that joins a room where the same id is already connected (a reloaded
 * tab) replaces the old connection. The old one gets `error DUPLICATE_MEMBER` and is closed; the
 * others see `peer-left` then `peer-joined` for that id, so they drop their WebRTC connection to
 * the old tab and build one to the new one, with no event type of its own to learn. The newcomer
 * is not the bootstrapper: the room was not empty.
 *
 * Bootstrap: bootstrap-arbiter.ts decides who may bootstrap a room's cluster. Usually the member
 * that joins an empty room, in its welcome; for `bootstrapGraceMs` after the server starts, no
 * one, and then the earliest member of each room without a cluster, by a `bootstrap` message.
 */
import { assert } from '../core/errors.js';
import { encodeBase64Url, verifyRoomProof } from './auth.js';
import { BootstrapArbiter } from './bootstrap-arbiter.js';
import type { BootstrapRoom } from './bootstrap-arbiter.js';
import { resolveLimits } from './limits.js';
import type { SignalingLimits } from './limits.js';
import {
  DECODE_FAILURE_REASONS,
  decodeClientMessage,
  encodeServerMessage,
  errorCodeForDecodeFailure,
  FATAL_ERROR_CODES,
  NONCE_BYTES,
  SIGNALING_CLOSE_CODE,
  SIGNALING_ERROR_CODES,
} from './protocol.js';
import type {
  DecodeFailureReason,
  HelloMessage,
  PeerInfo,
  ServerMessage,
  SignalingErrorCode,
  SignalRequest,
} from './protocol.js';
import { secretLookup } from './room-secrets.js';
import type { RoomSecretLookup, RoomSecrets } from './room-secrets.js';
import { TokenBucket } from './token-bucket.js';

/** One client connection as the host runtime sees it. A method that throws is caught and counted. */
export interface SignalingConnection {
  /** Sends one text message; messages arrive in the order sent. */
  send(text: string): void;
  /** Closes the connection; the host then calls `disconnected()` on its handle (or not: both work). */
  close(code: number, reason: string): void;
}

/** What the host calls for a connection it registered with `SignalingRooms.connect`. */
export interface SignalingConnectionHandle {
  /** One message as received: a string for a text frame, anything else is refused as binary. */
  receive(data: unknown): void;
  /** The connection is gone (closed by either side, or failed). Idempotent. */
  disconnected(): void;
}

export interface SignalingRoomsOptions {
  /** Milliseconds on any monotonic-enough clock (rate limits, hello timeouts, bootstrap grace). */
  readonly now: () => number;
  /** `length` cryptographically random bytes (challenge nonces). */
  readonly randomBytes: (length: number) => Uint8Array;
  readonly secrets?: RoomSecrets;
  readonly limits?: Partial<SignalingLimits>;
  /**
   * The one room this host serves (a Durable Object per room routes connections by the room in
   * their URL): a hello for any other room is refused, else that room would live, split, in the
   * wrong object and could get a second bootstrapper. Undefined: any room.
   */
  readonly room?: string;
}

/** Counters and gauges of a running server. */
export interface SignalingStats {
  /** Open connections, in any state. */
  readonly connections: number;
  /** Connections not joined yet (waiting for hello, or for their proof to be checked). */
  readonly handshakes: number;
  readonly rooms: number;
  readonly members: number;
  readonly joins: number;
  /** Members named bootstrapper, in their welcome or later (at most one per room and cluster). */
  readonly bootstrappersNamed: number;
  /** Joins that replaced a connection with the same member id. */
  readonly replacements: number;
  readonly messagesReceived: number;
  readonly signalsRelayed: number;
  /** Messages or connections refused, by the error code they got (or would have got). */
  readonly refused: Readonly<Record<SignalingErrorCode, number>>;
  /** Messages that failed to decode, by reason (also counted in `refused`). */
  readonly malformed: Readonly<Record<DecodeFailureReason, number>>;
  /** Sends the host connection threw on (the message was lost). */
  readonly sendFailures: number;
  /** Bugs caught at the boundary: the connection was closed, the server kept running. */
  readonly internalErrors: number;
}

type PeerState = 'challenged' | 'authenticating' | 'joined' | 'closed';

/** The server's record of one connection. */
class Peer {
  state: PeerState = 'challenged';
  room: string | null = null;
  memberId: string | null = null;
  /** It said `hasLog` in its hello: it belongs to a cluster already. */
  hasLog = false;
  /** What it said of itself in its hello (an endpoint, a wish to vote), passed on to the room. */
  info: Omit<PeerInfo, 'memberId'> = {};
  /** Whether the client was already told it is rate limited, since its last accepted message. */
  rateLimitNoticeSent = false;

  constructor(
    readonly connection: SignalingConnection,
    readonly nonce: string,
    readonly connectedAtMs: number,
    readonly bucket: TokenBucket,
  ) {}
}

/** One room: its joined connections by member id, in order of joining, and its bootstrap state. */
interface Room extends BootstrapRoom<Peer> {
  readonly members: Map<string, Peer>;
}

type Counter =
  'joins' | 'bootstrappersNamed' | 'replacements' | 'messagesReceived' | 'signalsRelayed';

/** Rooms of members and the relay between them. See the file comment for the lifecycle. */
export class SignalingRooms {
  readonly limits: SignalingLimits;
  private readonly now: () => number;
  private readonly randomBytes: (length: number) => Uint8Array;
  private readonly lookupSecret: RoomSecretLookup;
  private readonly onlyRoom: string | undefined;
  private readonly rooms = new Map<string, Room>();
  private readonly peers = new Set<Peer>();
  private readonly handshakesInFlight = new Set<Promise<void>>();
  private readonly arbiter: BootstrapArbiter;
  private readonly counters: Record<Counter, number> = {
    joins: 0,
    bootstrappersNamed: 0,
    replacements: 0,
    messagesReceived: 0,
    signalsRelayed: 0,
  };
  private readonly refused = zeroCounts(SIGNALING_ERROR_CODES);
  private readonly malformed = zeroCounts(DECODE_FAILURE_REASONS);
  private sendFailures = 0;
  private internalErrors = 0;

  constructor(options: SignalingRoomsOptions) {
    this.limits = resolveLimits(options.limits);
    this.now = options.now;
    this.randomBytes = options.randomBytes;
    this.lookupSecret = secretLookup(options.secrets);
    this.onlyRoom = options.room;
    // The grace runs from now: the host makes its rooms as it starts.
    this.arbiter = new BootstrapArbiter(this.now(), this.limits.bootstrapGraceMs);
  }

  /** Registers a new connection and sends it its challenge (or SERVER_FULL and closes it). */
  connect(connection: SignalingConnection): SignalingConnectionHandle {
    const nowMs = this.now();
    const nonceBytes = this.randomBytes(NONCE_BYTES);
    if (!(nonceBytes instanceof Uint8Array) || nonceBytes.length !== NONCE_BYTES) {
      throw new RangeError(`randomBytes(${NONCE_BYTES}) returned the wrong number of bytes`);
    }
    const { messagesPerSecondMax, messagesBurstMax } = this.limits;
    const bucket = new TokenBucket(messagesPerSecondMax, messagesBurstMax, nowMs);
    const peer = new Peer(connection, encodeBase64Url(nonceBytes), nowMs, bucket);
    const handle: SignalingConnectionHandle = {
      receive: (data) => this.receive(peer, data),
      disconnected: () => this.disconnected(peer),
    };
    if (this.peers.size >= this.limits.connectionsMax) {
      this.refuse(peer, 'SERVER_FULL', `this server holds at most ${this.limits.connectionsMax}`);
      return handle;
    }
    this.peers.add(peer);
    this.send(peer, { type: 'challenge', nonce: peer.nonce });
    return handle;
  }

  /**
   * Closes connections whose hello (proof included) did not finish within `helloTimeoutMs`, and
   * names the bootstrappers that waited for the end of `bootstrapGraceMs`. The host calls it
   * periodically (about once a second, and best also right after the grace); the room logic owns
   * no timers.
   */
  sweep(): void {
    const nowMs = this.now();
    const deadlineMs = nowMs - this.limits.helloTimeoutMs;
    for (const peer of this.peers) {
      if (peer.state !== 'joined' && peer.connectedAtMs <= deadlineMs) {
        this.refuse(peer, 'HELLO_TIMEOUT', `no hello within ${this.limits.helloTimeoutMs} ms`);
      }
    }
    for (const named of this.arbiter.graceEnded(this.rooms.values(), nowMs)) {
      assert(named.state === 'joined', 'only a member present is named bootstrapper');
      this.counters.bootstrappersNamed++;
      this.send(named, { type: 'bootstrap' });
    }
  }

  /** Closes every connection (server shutdown) without peer-left storms; the rooms empty. */
  closeAll(code: number, reason: string): void {
    const peers = [...this.peers];
    for (const peer of peers) peer.state = 'closed';
    this.peers.clear();
    this.rooms.clear();
    for (const peer of peers) this.closeConnection(peer, code, reason);
  }

  /** Resolves once every handshake in flight (secret lookup, proof check) has finished. */
  async whenIdle(): Promise<void> {
    while (this.handshakesInFlight.size > 0) await Promise.all(this.handshakesInFlight);
  }

  stats(): SignalingStats {
    let members = 0;
    for (const room of this.rooms.values()) members += room.members.size;
    return {
      connections: this.peers.size,
      handshakes: this.peers.size - members,
      rooms: this.rooms.size,
      members,
      ...this.counters,
      refused: { ...this.refused },
      malformed: { ...this.malformed },
      sendFailures: this.sendFailures,
      internalErrors: this.internalErrors,
    };
  }

  private receive(peer: Peer, data: unknown): void {
    if (peer.state === 'closed') return;
    try {
      this.counters.messagesReceived++;
      if (!peer.bucket.take(this.now())) return this.rateLimited(peer);
      peer.rateLimitNoticeSent = false;
      if (typeof data !== 'string') {
        this.malformed.notText++;
        return this.refuse(peer, 'BAD_MESSAGE', 'messages are JSON text, not binary');
      }
      const decoded = decodeClientMessage(data, this.limits);
      if (!decoded.ok) {
        this.malformed[decoded.reason]++;
        return this.refuse(peer, errorCodeForDecodeFailure(decoded.reason), decoded.detail);
      }
      const message = decoded.message;
      if (message.type === 'hello') return this.hello(peer, message);
      if (message.type === 'signal') return this.relay(peer, message);
      this.send(peer, { type: 'pong' });
    } catch (_bug) {
      this.internalErrors++;
      this.refuse(peer, 'INTERNAL_ERROR', 'the server failed on this message');
    }
  }

  private disconnected(peer: Peer): void {
    if (peer.state !== 'closed') this.forget(peer);
  }

  private rateLimited(peer: Peer): void {
    this.refused.RATE_LIMITED++;
    // One notice per episode: answering every dropped message would amplify a flood.
    if (peer.rateLimitNoticeSent) return;
    peer.rateLimitNoticeSent = true;
    const { messagesPerSecondMax, messagesBurstMax } = this.limits;
    this.sendError(
      peer,
      'RATE_LIMITED',
      `at most ${messagesPerSecondMax} messages per second (bursts of ${messagesBurstMax}); ` +
        'messages over the rate are dropped',
    );
  }

  private hello(peer: Peer, hello: HelloMessage): void {
    if (peer.state !== 'challenged') {
      return this.refuse(peer, 'BAD_MESSAGE', 'hello was already sent on this connection');
    }
    if (this.onlyRoom !== undefined && hello.room !== this.onlyRoom) {
      return this.refuse(
        peer,
        'BAD_MESSAGE',
        `this connection was opened for room ${this.onlyRoom}`,
      );
    }
    peer.state = 'authenticating';
    peer.room = hello.room;
    peer.memberId = hello.memberId;
    peer.hasLog = hello.hasLog === true;
    peer.info = {
      ...(hello.endpoint === undefined ? {} : { endpoint: hello.endpoint }),
      ...(hello.voter === undefined ? {} : { voter: hello.voter }),
    };
    const handshake = this.authenticate(peer, hello)
      .then(
        (failure) =>
          failure === null ? this.admit(peer) : this.refuse(peer, 'AUTH_FAILED', failure),
        () => this.refuse(peer, 'AUTH_FAILED', 'the room secret could not be checked'),
      )
      .catch(() => {
        this.internalErrors++;
        this.refuse(peer, 'INTERNAL_ERROR', 'the server failed to admit this member');
      })
      .finally(() => this.handshakesInFlight.delete(handshake));
    this.handshakesInFlight.add(handshake);
  }

  /** Null if `hello` may join its room, else why not (sent to the client). */
  private async authenticate(peer: Peer, hello: HelloMessage): Promise<string | null> {
    const secret = await this.lookupSecret(hello.room);
    if (secret === undefined) return null;
    if (typeof secret !== 'string' || secret.length === 0) {
      throw new TypeError('a room secret must be a non-empty string');
    }
    if (hello.proof === undefined) return 'this room requires a proof of its secret';
    const valid = await verifyRoomProof(
      secret,
      peer.nonce,
      hello.room,
      hello.memberId,
      hello.proof,
    );
    return valid ? null : 'wrong proof of the room secret';
  }

  private admit(peer: Peer): void {
    // Closed (or timed out) while its proof was being checked.
    if (peer.state !== 'authenticating' || peer.room === null || peer.memberId === null) return;
    const { room: roomId, memberId } = peer;
    const existing = this.rooms.get(roomId);
    const previous = existing?.members.get(memberId);
    if (existing === undefined && this.rooms.size >= this.limits.roomsMax) {
      return this.refuse(
        peer,
        'SERVER_FULL',
        `this server holds at most ${this.limits.roomsMax} rooms`,
      );
    }
    if (
      existing !== undefined &&
      previous === undefined &&
      existing.members.size >= this.limits.membersPerRoomMax
    ) {
      return this.refuse(
        peer,
        'ROOM_FULL',
        `a room holds at most ${this.limits.membersPerRoomMax} members`,
      );
    }
    const room: Room = existing ?? { members: new Map<string, Peer>(), hasCluster: false };
    this.rooms.set(roomId, room);
    if (previous !== undefined) this.replace(room, previous);
    const peers = [...room.members.keys()];
    // Only peers that said more than their id, and only when one did: old clients keep reading.
    const members = [...room.members.values()]
      .filter((other) => Object.keys(other.info).length > 0)
      .map((other) => ({ memberId: other.memberId as string, ...other.info }));
    peer.state = 'joined';
    room.members.set(memberId, peer);
    this.counters.joins++;
    assert(
      room.members.size <= this.limits.membersPerRoomMax,
      'a room holds at most membersPerRoomMax',
    );
    assert(this.rooms.size <= this.limits.roomsMax, 'the server holds at most roomsMax rooms');
    const named = this.arbiter.joined(room, peer, this.now());
    if (named !== null) this.counters.bootstrappersNamed++;
    const bootstrapper = named === peer;
    this.send(peer, {
      type: 'welcome',
      room: roomId,
      memberId,
      peers,
      bootstrapper,
      ...(members.length === 0 ? {} : { members }),
    });
    this.broadcast(room, peer, { type: 'peer-joined', memberId, ...peer.info });
    // A room left without a cluster by the grace, joined before the host's sweep named anyone.
    if (named !== null && !bootstrapper) this.send(named, { type: 'bootstrap' });
  }

  private replace(room: Room, previous: Peer): void {
    const memberId = previous.memberId as string;
    room.members.delete(memberId);
    this.counters.replacements++;
    this.refuse(previous, 'DUPLICATE_MEMBER', 'replaced by a newer connection of the same member');
    this.broadcast(room, previous, { type: 'peer-left', memberId });
  }

  private relay(peer: Peer, signal: SignalRequest): void {
    if (peer.state !== 'joined' || peer.room === null || peer.memberId === null) {
      return this.refuse(peer, 'NOT_JOINED', 'join a room (hello, then welcome) before signaling');
    }
    const target = this.rooms.get(peer.room)?.members.get(signal.to);
    if (target === undefined || target === peer) {
      return this.refuse(peer, 'UNKNOWN_PEER', `${signal.to} is not another member of this room`);
    }
    this.counters.signalsRelayed++;
    this.send(target, { type: 'signal', from: peer.memberId, payload: signal.payload });
  }

  /** Counts `code`, tells the client, and closes the connection if the code is fatal. */
  private refuse(peer: Peer, code: SignalingErrorCode, message: string): void {
    this.refused[code]++;
    this.sendError(peer, code, message);
    if (FATAL_ERROR_CODES.has(code)) {
      this.forget(peer);
      this.closeConnection(peer, SIGNALING_CLOSE_CODE, code);
    }
  }

  private sendError(peer: Peer, code: SignalingErrorCode, message: string): void {
    this.send(peer, { type: 'error', code, message });
  }

  /** Marks `peer` closed and takes it out of its room, telling the others it left. */
  private forget(peer: Peer): void {
    const wasMember = peer.state === 'joined';
    peer.state = 'closed';
    this.peers.delete(peer);
    if (!wasMember || peer.room === null || peer.memberId === null) return;
    const room = this.rooms.get(peer.room);
    // A replaced connection is no longer the room's entry for its id: nothing to announce.
    if (room === undefined || room.members.get(peer.memberId) !== peer) return;
    room.members.delete(peer.memberId);
    if (room.members.size === 0) this.rooms.delete(peer.room);
    else this.broadcast(room, peer, { type: 'peer-left', memberId: peer.memberId });
  }

  private broadcast(room: Room, except: Peer, message: ServerMessage): void {
    const text = encodeServerMessage(message);
    for (const member of room.members.values()) if (member !== except) this.sendText(member, text);
  }

  private send(peer: Peer, message: ServerMessage): void {
    this.sendText(peer, encodeServerMessage(message));
  }

  private sendText(peer: Peer, text: string): void {
    try {
      peer.connection.send(text);
    } catch (_closedUnderUs) {
      this.sendFailures++;
    }
  }

  private closeConnection(peer: Peer, code: number, reason: string): void {
    try {
      peer.connection.close(code, reason);
    } catch (_alreadyClosed) {
      this.sendFailures++;
    }
  }
}

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}
