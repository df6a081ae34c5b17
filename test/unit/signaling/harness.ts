/**
 * In-process harness for the room logic: fake connections that record what the server sent them,
 * a fake clock, deterministic nonces, and a `join` that walks the whole handshake. The bootstrap
 * grace is off unless a test sets `bootstrapGraceMs`: most tests are about a server running for
 * a while.
 */
import { proveRoomSecret } from '../../../src/signaling/auth.js';
import type { SignalingLimits } from '../../../src/signaling/limits.js';
import { decodeServerMessage, encodeClientMessage } from '../../../src/signaling/protocol.js';
import type { ClientMessage, ServerMessage } from '../../../src/signaling/protocol.js';
import { SignalingRooms } from '../../../src/signaling/rooms.js';
import type { RoomSecrets } from '../../../src/signaling/room-secrets.js';
import type {
  SignalingConnection,
  SignalingConnectionHandle,
} from '../../../src/signaling/rooms.js';

/** A connection that keeps every message the server sent it, decoded (and checks they decode). */
export class FakeConnection implements SignalingConnection {
  readonly sent: ServerMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  handle: SignalingConnectionHandle | null = null;
  /** Set to make `send` throw, as a host whose socket is gone might. */
  failSends = false;

  send(text: string): void {
    if (this.failSends) throw new Error('socket gone');
    const decoded = decodeServerMessage(text);
    if (!decoded.ok) throw new Error(`server sent an undecodable message: ${decoded.detail}`);
    this.sent.push(decoded.message);
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
    // Like a real host: the close comes back as a disconnect.
    this.handle?.disconnected();
  }

  /** Sends a client message (encoded) or raw data to the server. */
  deliver(message: ClientMessage | string | Uint8Array): void {
    if (this.handle === null) throw new Error('not connected');
    const data =
      typeof message === 'string' || message instanceof Uint8Array
        ? message
        : encodeClientMessage(message);
    this.handle.receive(data);
  }

  /** Messages of one type, in order. */
  ofType<T extends ServerMessage['type']>(type: T): Extract<ServerMessage, { type: T }>[] {
    return this.sent.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }

  /** Error codes received, in order. */
  errorCodes(): string[] {
    return this.ofType('error').map((m) => m.code);
  }

  nonce(): string {
    const challenge = this.ofType('challenge')[0];
    if (challenge === undefined) throw new Error('no challenge received');
    return challenge.nonce;
  }
}

/** How `join` says hello: with the proof of `secret`, and `hasLog` as given (absent if not). */
export interface JoinOptions {
  readonly secret?: string;
  readonly hasLog?: boolean;
}

export interface Harness {
  readonly rooms: SignalingRooms;
  /** Moves the fake clock forward. */
  advance(ms: number): void;
  connect(): FakeConnection;
  /** Connects and sends hello (a string is the room secret); waits for the outcome. */
  join(room: string, memberId: string, options?: string | JoinOptions): Promise<FakeConnection>;
}

export function createHarness(
  options: { secrets?: RoomSecrets; limits?: Partial<SignalingLimits>; room?: string } = {},
): Harness {
  let nowMs = 1_000;
  let nonceCounter = 0;
  const rooms = new SignalingRooms({
    now: () => nowMs,
    randomBytes: (length) => new Uint8Array(length).fill(++nonceCounter % 256),
    ...options,
    limits: { bootstrapGraceMs: 0, ...options.limits },
  });
  const connect = (): FakeConnection => {
    const connection = new FakeConnection();
    connection.handle = rooms.connect(connection);
    return connection;
  };
  return {
    rooms,
    advance: (ms) => {
      nowMs += ms;
    },
    connect,
    join: async (room, memberId, joinOptions = {}) => {
      const { secret, hasLog } =
        typeof joinOptions === 'string' ? { secret: joinOptions, hasLog: undefined } : joinOptions;
      const connection = connect();
      const proof =
        secret === undefined
          ? undefined
          : await proveRoomSecret(secret, connection.nonce(), room, memberId);
      connection.deliver({
        type: 'hello',
        room,
        memberId,
        ...(proof === undefined ? {} : { proof }),
        ...(hasLog === undefined ? {} : { hasLog }),
      });
      await rooms.whenIdle();
      return connection;
    },
  };
}
