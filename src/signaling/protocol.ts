/**
 * The signaling protocol (DESIGN.md decision 9): JSON text messages over one WebSocket between a
 * member and the signaling server, every one carrying `v: 1`. The server holds rooms and relays
 * opaque WebRTC signals between members of one room; it never sees Raft traffic.
 *
 * A session: the server sends `challenge` (a fresh nonce) as soon as the socket opens; the client
 * answers `hello` (room, member id, the proof of the room secret when the room has one, see
 * auth.ts, `hasLog` when the member already belongs to a cluster, and for an edge member the
 * `endpoint` where it accepts raft WebSockets and its `voter` wish, see PeerInfo); the server
 * answers `welcome` (the peers already in the room, whether this member is the room's
 * bootstrapper, and what the peers said of themselves) or an `error` and closes. Joined members
 * then exchange `signal`s, see `peer-joined` / `peer-left`, and may `ping`. A member may be
 * named bootstrapper after its welcome, by `bootstrap` (a server just restarted waits for the old
 * members first, see rooms.ts).
 *
 * Both directions are decoded strictly (decision 4): unknown types, unknown or missing fields,
 * ids outside `ID_PATTERN`, payloads over their bounds are refused with a reason from a closed
 * set, so that the server can count them and nothing a peer sends throws. Message types here omit
 * `v`; `encode*` adds it and `decode*` checks and drops it.
 */
import { isJsonValue, isPlainObject, utf8ByteLength } from '../state/json.js';
import type { JsonValue } from '../state/kv-types.js';

/** The only protocol version this module speaks. */
export const PROTOCOL_VERSION = 1;

/** Room and member ids: short, URL- and log-safe, no separators (auth.ts relies on that). */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Nonces and proofs: 32 bytes in unpadded base64url. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Bytes of randomness in a challenge nonce. */
export const NONCE_BYTES = 32;

/** Longest human-readable text in an `error` message, in UTF-16 code units. */
export const ERROR_TEXT_LENGTH_MAX = 512;

/** Most peers a client accepts in one `welcome` (the server's own room bound is lower). */
export const WELCOME_PEERS_MAX = 1024;

/** Longest `endpoint` URL a member may announce, in UTF-16 code units. */
export const ENDPOINT_LENGTH_MAX = 512;

/**
 * What a member says of itself beyond its id (issue 13), as the server passes it on: where it
 * accepts raft WebSockets (an edge member, which has no WebRTC: the others dial it there), and
 * whether it wants to vote (true: prefer it as a voter; false: never make it one; absent: no
 * preference).
 */
export interface PeerInfo {
  readonly memberId: string;
  readonly endpoint?: string;
  readonly voter?: boolean;
}

/** An opaque WebRTC signal (offer, answer, ICE candidate): any JSON value within bounds. */
export type SignalPayload = JsonValue;

/** Stable codes of `error` messages. */
export const SIGNALING_ERROR_CODES = [
  'BAD_MESSAGE',
  'UNSUPPORTED_VERSION',
  'AUTH_FAILED',
  'ROOM_FULL',
  'SERVER_FULL',
  'TOO_LARGE',
  'RATE_LIMITED',
  'UNKNOWN_PEER',
  'NOT_JOINED',
  'DUPLICATE_MEMBER',
  'HELLO_TIMEOUT',
  'INTERNAL_ERROR',
] as const;
export type SignalingErrorCode = (typeof SIGNALING_ERROR_CODES)[number];

/**
 * Codes after which the server closes the connection (close code `SIGNALING_CLOSE_CODE`, the
 * error code as close reason). The others refuse one message and keep the connection open.
 */
export const FATAL_ERROR_CODES: ReadonlySet<SignalingErrorCode> = new Set<SignalingErrorCode>([
  'UNSUPPORTED_VERSION',
  'AUTH_FAILED',
  'ROOM_FULL',
  'SERVER_FULL',
  'DUPLICATE_MEMBER',
  'HELLO_TIMEOUT',
  'INTERNAL_ERROR',
]);

/** WebSocket close code the server uses after a fatal `error`; the close reason is its code. */
export const SIGNALING_CLOSE_CODE = 4000;

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/** Client -> server: join `room` as `memberId`, with the proof of the room secret if it has one. */
export interface HelloMessage {
  readonly type: 'hello';
  readonly room: string;
  readonly memberId: string;
  readonly proof?: string;
  /**
   * The member already belongs to a cluster (it has a persisted log or identity): it will never
   * bootstrap, and its presence tells the server the room has a cluster. Absent means false, so
   * clients that predate it keep working.
   */
  readonly hasLog?: boolean;
  /** A ws:// or wss:// URL where this member accepts raft WebSockets (see PeerInfo). */
  readonly endpoint?: string;
  /** This member's wish to vote (see PeerInfo). */
  readonly voter?: boolean;
}

/** Client -> server: relay `payload` to member `to` of the same room. */
export interface SignalRequest {
  readonly type: 'signal';
  readonly to: string;
  readonly payload: SignalPayload;
}

/** Either direction's keep-alive probe; the server answers `pong`. */
export interface PingMessage {
  readonly type: 'ping';
}

export type ClientMessage = HelloMessage | SignalRequest | PingMessage;

/** Server -> client, first message on every connection: the nonce the proof must sign. */
export interface ChallengeMessage {
  readonly type: 'challenge';
  readonly nonce: string;
}

/**
 * Server -> client: joined. `peers` are the other members present, in order of joining;
 * `bootstrapper` is true for the member that joined an empty room (decision 6: it alone may
 * bootstrap a cluster there).
 */
export interface WelcomeMessage {
  readonly type: 'welcome';
  readonly room: string;
  readonly memberId: string;
  readonly peers: readonly string[];
  readonly bootstrapper: boolean;
  /**
   * What the peers that said more than their id said (PeerInfo); absent when none did, so
   * clients that predate it read the welcome of a room with no edge member.
   */
  readonly members?: readonly PeerInfo[];
}

/**
 * Server -> client: this member is now the room's bootstrapper, later than its welcome (which
 * said false): after a restart the server waits for the old members to come back before it names
 * anyone (rooms.ts). Sent at most once per room and cluster, like `welcome.bootstrapper: true`.
 */
export interface BootstrapMessage {
  readonly type: 'bootstrap';
}

/**
 * Server -> client: a member joined this room (also after a replacement, see rooms.ts), with
 * what it said of itself (PeerInfo), those fields absent when it said nothing more.
 */
export interface PeerJoinedMessage {
  readonly type: 'peer-joined';
  readonly memberId: string;
  readonly endpoint?: string;
  readonly voter?: boolean;
}

/** Server -> client: a member left this room (also when a newer connection replaced it). */
export interface PeerLeftMessage {
  readonly type: 'peer-left';
  readonly memberId: string;
}

/** Server -> client: a signal from member `from` of this room. */
export interface SignalDelivery {
  readonly type: 'signal';
  readonly from: string;
  readonly payload: SignalPayload;
}

/** Server -> client: something was refused. Codes in FATAL_ERROR_CODES end the connection. */
export interface ErrorMessage {
  readonly type: 'error';
  readonly code: SignalingErrorCode;
  readonly message: string;
}

/** Server -> client: the answer to `ping`. */
export interface PongMessage {
  readonly type: 'pong';
}

export type ServerMessage =
  | ChallengeMessage
  | WelcomeMessage
  | BootstrapMessage
  | PeerJoinedMessage
  | PeerLeftMessage
  | SignalDelivery
  | ErrorMessage
  | PongMessage;

// ---------------------------------------------------------------------------------------------
// Bounds and decode results
// ---------------------------------------------------------------------------------------------

/** Size bounds the decoder enforces. */
export interface ProtocolLimits {
  /** Largest message, in UTF-8 bytes of its text. */
  readonly messageBytesMax: number;
  /** Largest signal payload, in UTF-8 bytes of its JSON text. */
  readonly signalPayloadBytesMax: number;
  /** Deepest nesting of a signal payload (a scalar is depth 0). */
  readonly signalPayloadDepthMax: number;
}

export const PROTOCOL_LIMITS_DEFAULT: ProtocolLimits = Object.freeze({
  messageBytesMax: 64 * 1024,
  signalPayloadBytesMax: 32 * 1024,
  signalPayloadDepthMax: 16,
});

/** Every way a message can fail to decode; the server counts each. */
export const DECODE_FAILURE_REASONS = [
  'notText',
  'tooLarge',
  'notJson',
  'notObject',
  'unsupportedVersion',
  'unknownType',
  'unknownField',
  'missingField',
  'badField',
  'payloadTooLarge',
] as const;
export type DecodeFailureReason = (typeof DECODE_FAILURE_REASONS)[number];

export type DecodeResult<M> =
  | { readonly ok: true; readonly message: M }
  | { readonly ok: false; readonly reason: DecodeFailureReason; readonly detail: string };

/** The error code the server answers a decode failure with. */
export function errorCodeForDecodeFailure(reason: DecodeFailureReason): SignalingErrorCode {
  if (reason === 'tooLarge' || reason === 'payloadTooLarge') return 'TOO_LARGE';
  if (reason === 'unsupportedVersion') return 'UNSUPPORTED_VERSION';
  return 'BAD_MESSAGE';
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** The wire text of a client message. */
export function encodeClientMessage(message: ClientMessage): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, ...message });
}

/** The wire text of a server message. */
export function encodeServerMessage(message: ServerMessage): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, ...message });
}

/** UTF-8 length of `text` without encoding it (shared with the state machine's limits). */
export { utf8ByteLength };

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

type Fields = Record<string, unknown>;
type Failure = {
  readonly ok: false;
  readonly reason: DecodeFailureReason;
  readonly detail: string;
};

const fail = (reason: DecodeFailureReason, detail: string): Failure => ({
  ok: false,
  reason,
  detail,
});
const ok = <M>(message: M): DecodeResult<M> => ({ ok: true, message });

/**
 * Decodes one client -> server message, checking every field. Never throws: anything that is not
 * exactly a v1 message within `limits` is a failure with a reason and a human-readable detail.
 */
export function decodeClientMessage(
  text: string,
  limits: ProtocolLimits = PROTOCOL_LIMITS_DEFAULT,
): DecodeResult<ClientMessage> {
  const envelope = decodeEnvelope(text, limits.messageBytesMax);
  if (!envelope.ok) return envelope;
  const fields = envelope.message;
  switch (fields.type) {
    case 'hello':
      return decodeHello(fields);
    case 'signal': {
      const shape = checkFields(fields, ['to', 'payload'], []);
      if (shape !== null) return shape;
      if (!isId(fields.to)) return badId('to');
      const payload = checkPayload(fields.payload, limits);
      return payload ?? ok({ type: 'signal', to: fields.to, payload: fields.payload as JsonValue });
    }
    case 'ping':
      return checkFields(fields, [], []) ?? ok({ type: 'ping' });
    default:
      return fail('unknownType', 'type must be hello, signal or ping');
  }
}

function decodeHello(fields: Fields): DecodeResult<HelloMessage> {
  const shape = checkFields(fields, ['room', 'memberId'], ['proof', 'hasLog', ...INFO_FIELDS]);
  if (shape !== null) return shape;
  const { room, memberId, proof, hasLog } = fields;
  if (!isId(room)) return badId('room');
  if (!isId(memberId)) return badId('memberId');
  // JSON has no undefined: a field is absent exactly when it reads undefined.
  if (proof !== undefined && !isToken(proof)) {
    return fail('badField', 'proof must be 43 base64url characters');
  }
  if (hasLog !== undefined && typeof hasLog !== 'boolean') {
    return fail('badField', 'hasLog must be a boolean');
  }
  const info = decodeInfo(fields);
  if (!info.ok) return info;
  return ok({
    type: 'hello',
    room,
    memberId,
    ...(proof === undefined ? {} : { proof }),
    ...(hasLog === undefined ? {} : { hasLog }),
    ...info.message,
  });
}

/**
 * Decodes one server -> client message, as strictly as the server decodes clients (a client may
 * talk to a server it does not trust). Never throws.
 */
export function decodeServerMessage(
  text: string,
  limits: ProtocolLimits = PROTOCOL_LIMITS_DEFAULT,
): DecodeResult<ServerMessage> {
  const envelope = decodeEnvelope(text, limits.messageBytesMax);
  if (!envelope.ok) return envelope;
  const fields = envelope.message;
  switch (fields.type) {
    case 'challenge': {
      const shape = checkFields(fields, ['nonce'], []);
      if (shape !== null) return shape;
      if (!isToken(fields.nonce)) return fail('badField', 'nonce must be 43 base64url characters');
      return ok({ type: 'challenge', nonce: fields.nonce });
    }
    case 'welcome':
      return decodeWelcome(fields);
    case 'bootstrap':
      return checkFields(fields, [], []) ?? ok({ type: 'bootstrap' });
    case 'peer-joined': {
      const shape = checkFields(fields, ['memberId'], INFO_FIELDS);
      if (shape !== null) return shape;
      if (!isId(fields.memberId)) return badId('memberId');
      const info = decodeInfo(fields);
      if (!info.ok) return info;
      return ok({ type: 'peer-joined', memberId: fields.memberId, ...info.message });
    }
    case 'peer-left': {
      const shape = checkFields(fields, ['memberId'], []);
      if (shape !== null) return shape;
      if (!isId(fields.memberId)) return badId('memberId');
      return ok({ type: 'peer-left', memberId: fields.memberId });
    }
    case 'signal': {
      const shape = checkFields(fields, ['from', 'payload'], []);
      if (shape !== null) return shape;
      if (!isId(fields.from)) return badId('from');
      const payload = checkPayload(fields.payload, limits);
      return (
        payload ?? ok({ type: 'signal', from: fields.from, payload: fields.payload as JsonValue })
      );
    }
    case 'error':
      return decodeError(fields);
    case 'pong':
      return checkFields(fields, [], []) ?? ok({ type: 'pong' });
    default:
      return fail('unknownType', `unknown server message type`);
  }
}

function decodeWelcome(fields: Fields): DecodeResult<WelcomeMessage> {
  const shape = checkFields(fields, ['room', 'memberId', 'peers', 'bootstrapper'], ['members']);
  if (shape !== null) return shape;
  if (!isId(fields.room)) return badId('room');
  if (!isId(fields.memberId)) return badId('memberId');
  if (typeof fields.bootstrapper !== 'boolean') {
    return fail('badField', 'bootstrapper must be a boolean');
  }
  const peers = fields.peers;
  if (!Array.isArray(peers) || peers.length > WELCOME_PEERS_MAX || !peers.every(isId)) {
    return fail('badField', `peers must be an array of at most ${WELCOME_PEERS_MAX} member ids`);
  }
  const members = decodeMembers(fields.members, peers as string[]);
  if (!members.ok) return members;
  return ok({
    type: 'welcome',
    room: fields.room,
    memberId: fields.memberId,
    peers: [...(peers as string[])],
    bootstrapper: fields.bootstrapper,
    ...(members.message === undefined ? {} : { members: members.message }),
  });
}

/** A welcome's `members`: absent, or PeerInfo of listed peers, one each, with some info. */
function decodeMembers(
  value: unknown,
  peers: readonly string[],
): DecodeResult<PeerInfo[] | undefined> {
  if (value === undefined) return ok(undefined);
  const problem = fail('badField', 'members must list PeerInfo of distinct listed peers');
  if (!Array.isArray(value) || value.length > peers.length) return problem;
  const members: PeerInfo[] = [];
  const seen = new Set<string>();
  for (const item of value) {
    if (!isPlainObject(item)) return problem;
    const shape = checkFields(item, ['memberId'], INFO_FIELDS);
    if (shape !== null) return shape;
    if (!isId(item.memberId) || !peers.includes(item.memberId) || seen.has(item.memberId))
      return problem;
    seen.add(item.memberId);
    const info = decodeInfo(item);
    if (!info.ok) return info;
    members.push({ memberId: item.memberId, ...info.message });
  }
  return ok(members);
}

/** The optional PeerInfo fields of a hello, a peer-joined or a welcome's member. */
const INFO_FIELDS = ['endpoint', 'voter'] as const;

function decodeInfo(fields: Fields): DecodeResult<Omit<PeerInfo, 'memberId'>> {
  const { endpoint, voter } = fields;
  if (endpoint !== undefined && !isEndpoint(endpoint)) {
    return fail(
      'badField',
      `endpoint must be a ws:// or wss:// URL of at most ${ENDPOINT_LENGTH_MAX}`,
    );
  }
  if (voter !== undefined && typeof voter !== 'boolean') {
    return fail('badField', 'voter must be a boolean');
  }
  return ok({
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(voter === undefined ? {} : { voter }),
  });
}

/**
 * Whether `value` is an endpoint a member may announce: a ws:// or wss:// URL with a host, no
 * credentials and no fragment, at most ENDPOINT_LENGTH_MAX long. Others would dial it, so it is
 * checked before it reaches them.
 */
export function isEndpoint(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > ENDPOINT_LENGTH_MAX) return false;
  // No whitespace or control characters: the URL goes verbatim into raft socket proofs.
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f || /\s/.test(value[i]!)) return false;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  const scheme = url.protocol === 'ws:' || url.protocol === 'wss:';
  return (
    scheme && url.hostname !== '' && url.username === '' && url.password === '' && url.hash === ''
  );
}

function decodeError(fields: Fields): DecodeResult<ErrorMessage> {
  const shape = checkFields(fields, ['code', 'message'], []);
  if (shape !== null) return shape;
  const code = fields.code;
  if (typeof code !== 'string' || !(SIGNALING_ERROR_CODES as readonly string[]).includes(code)) {
    return fail('badField', 'code must be a known error code');
  }
  if (typeof fields.message !== 'string' || fields.message.length > ERROR_TEXT_LENGTH_MAX) {
    return fail('badField', `message must be a string of at most ${ERROR_TEXT_LENGTH_MAX} chars`);
  }
  return ok({ type: 'error', code: code as SignalingErrorCode, message: fields.message });
}

/** Size, JSON, object shape and version: what every message shares. */
function decodeEnvelope(text: unknown, messageBytesMax: number): DecodeResult<Fields> {
  if (typeof text !== 'string') return fail('notText', 'messages are JSON text');
  // Every UTF-16 unit is at least one UTF-8 byte: a long text is refused before it is scanned.
  if (text.length > messageBytesMax || utf8ByteLength(text) > messageBytesMax) {
    return fail('tooLarge', `messages are at most ${messageBytesMax} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail('notJson', 'not valid JSON');
  }
  if (!isPlainObject(parsed)) return fail('notObject', 'a message is a JSON object');
  if (!Object.hasOwn(parsed, 'v')) return fail('missingField', 'missing field v');
  if (parsed.v !== PROTOCOL_VERSION) {
    return fail('unsupportedVersion', `protocol version must be ${PROTOCOL_VERSION}`);
  }
  if (!Object.hasOwn(parsed, 'type')) return fail('missingField', 'missing field type');
  if (typeof parsed.type !== 'string') return fail('unknownType', 'type must be a string');
  return ok(parsed);
}

/** Null when `fields` holds v, type, every required field and nothing beyond the optional ones. */
function checkFields(
  fields: Fields,
  required: readonly string[],
  optional: readonly string[],
): Failure | null {
  for (const name of required) {
    if (!Object.hasOwn(fields, name)) return fail('missingField', `missing field ${name}`);
  }
  for (const name of Object.keys(fields)) {
    if (name !== 'v' && name !== 'type' && !required.includes(name) && !optional.includes(name)) {
      // The name is not echoed: it is attacker-chosen and may be long.
      return fail('unknownField', `unknown field in ${String(fields.type)}`);
    }
  }
  return null;
}

function checkPayload(payload: unknown, limits: ProtocolLimits): Failure | null {
  if (!isJsonValue(payload, limits.signalPayloadDepthMax)) {
    return fail('badField', `payload must be JSON nested at most ${limits.signalPayloadDepthMax}`);
  }
  if (utf8ByteLength(JSON.stringify(payload)) > limits.signalPayloadBytesMax) {
    return fail('payloadTooLarge', `payloads are at most ${limits.signalPayloadBytesMax} bytes`);
  }
  return null;
}

const isId = (value: unknown): value is string =>
  typeof value === 'string' && ID_PATTERN.test(value);
const isToken = (value: unknown): value is string =>
  typeof value === 'string' && TOKEN_PATTERN.test(value);
const badId = (name: string): Failure =>
  fail('badField', `${name} must match ${ID_PATTERN.source}`);
