/**
 * The handshake on a raft WebSocket before any frame (issue 13), the socket twin of the data
 * channels' (peer-mesh.ts): each end sends a fresh nonce and its member id, then proves the room
 * secret (auth.ts, purpose 'socket') over the room, its own id, the other's nonce and a binding
 * that names both ids and both nonces in dialer-then-acceptor order and the endpoint URL (the one
 * the dialer dialed, the one the acceptor announced: a relay at another URL cannot pass the
 * proofs through). A WebSocket has no DTLS certificates to bind to: what keeps a relay out of the
 * middle at the same URL is the TLS of a wss:// endpoint (SECURITY.md). With no secret each end
 * only names itself, as on the mesh.
 *
 *   each end:  hello {room, member, nonce}  ->  proof {proof}  (on the other's hello)
 *              ->  ok (once the other's proof verified)
 *
 * An end is open once it verified the other's proof and got its `ok`: frames then follow on the
 * same ordered socket, so no frame can reach an end still checking a proof. Everything before
 * that is text JSON of at most HANDSHAKE_TEXT_MAX characters; anything else, out of order, or a
 * proof that fails closes the socket with a code from SOCKET_CLOSE, counted by the caller.
 */
import type { MemberId } from '../../core/types.js';
import { encodeBase64Url, proveRoomSecret, verifyRoomProof } from '../../signaling/auth.js';
import { ID_PATTERN, TOKEN_PATTERN } from '../../signaling/protocol.js';
import { SOCKET_CLOSE, SOCKET_OPEN, SocketChannel } from './socket-channel.js';
import type { RaftSocket, SocketCloseReason } from './socket-channel.js';

const LABEL = 'webraft-socket-v1';
/** Longest handshake message, in UTF-16 units (a hello is about 200). */
const HANDSHAKE_TEXT_MAX = 1024;
/** Handshake messages an end reads; a well-behaved peer sends three. */
const HANDSHAKE_MESSAGES_MAX = 3;
const HANDSHAKE_TIMEOUT_MS_DEFAULT = 10_000;

export interface SocketHandshakeOptions {
  readonly room: string;
  readonly self: MemberId;
  /** The room secret both ends must prove; none: each end only names itself. */
  readonly secret?: string;
  /** 'dial': this end opened the socket; 'accept': a host handed it an upgraded one. */
  readonly role: 'dial' | 'accept';
  /** The URL dialed ('dial'), or the endpoint this end announced ('accept'). */
  readonly endpoint: string;
  /** The member a dialer meant to reach: any other id closes the socket (wrongPeer). */
  readonly expectedPeer?: MemberId;
  /** Default 10 s. */
  readonly timeoutMs?: number;
  /** Called with the reason of every refusal (for the caller's counts). */
  readonly onRefused?: (reason: SocketCloseReason) => void;
}

/** A socket whose peer proved itself: its id, and the channel for the mesh. */
export interface AuthenticatedSocket {
  readonly peer: MemberId;
  readonly channel: SocketChannel;
}

/** Why a handshake did not finish: a refusal (this end closed the socket) or the socket ended. */
export class SocketHandshakeError extends Error {
  readonly code = 'SOCKET_HANDSHAKE';
  constructor(
    /** The refusal, or 'closed' when the socket ended (the peer refused us, or the network). */
    readonly reason: SocketCloseReason | 'closed',
    /** The close code the peer or network ended with, when `reason` is 'closed'. */
    readonly closeCode: number | null = null,
  ) {
    super(`raft socket handshake failed: ${reason}${closeCode === null ? '' : ` (${closeCode})`}`);
    this.name = 'SocketHandshakeError';
  }
}

type Step =
  | {
      readonly step: 'hello';
      readonly room: string;
      readonly member: string;
      readonly nonce: string;
    }
  | { readonly step: 'proof'; readonly proof: string }
  | { readonly step: 'ok' };

/**
 * Runs the handshake on `socket` (open, or about to open when dialing). Resolves once both ends
 * proved themselves; rejects with SocketHandshakeError, having closed the socket, otherwise.
 */
export function authenticateSocket(
  socket: RaftSocket,
  options: SocketHandshakeOptions,
): Promise<AuthenticatedSocket> {
  return new Promise((resolve, reject) => {
    const { room, self, secret, role } = options;
    const nonce = newNonce();
    const channel = new SocketChannel(socket, options.onRefused);
    let peer: { member: MemberId; nonce: string } | null = null;
    let verified = false;
    let peerOk = false;
    let received = 0;
    let settled = false;
    let chain = Promise.resolve();
    socket.binaryType = 'arraybuffer';

    const refuse = (reason: SocketCloseReason): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.onRefused?.(reason);
      channel.end(SOCKET_CLOSE[reason], reason);
      reject(new SocketHandshakeError(reason));
    };
    const timer = setTimeout(
      () => refuse('handshakeTimeout'),
      options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS_DEFAULT,
    );
    const send = (message: Step): void => socket.send(JSON.stringify({ label: LABEL, ...message }));
    const binding = (peerNonce: string, peerId: MemberId): string => {
      const [dialer, acceptor] = role === 'dial' ? [self, peerId] : [peerId, self];
      const [dialerNonce, acceptorNonce] =
        role === 'dial' ? [nonce, peerNonce] : [peerNonce, nonce];
      return `socket ${dialer} ${acceptor} ${dialerNonce} ${acceptorNonce} ${options.endpoint}`;
    };

    const handle = async (data: unknown): Promise<void> => {
      if (settled) return channel.deliver(data);
      if (++received > HANDSHAKE_MESSAGES_MAX) return refuse('badHandshake');
      const message = parseStep(data);
      if (message === null) return refuse('badHandshake');
      if (message.step === 'hello') {
        if (peer !== null) return refuse('badHandshake');
        const wrong =
          message.room !== room ||
          message.member === self ||
          (options.expectedPeer !== undefined && message.member !== options.expectedPeer);
        if (wrong) return refuse('wrongPeer');
        peer = { member: message.member, nonce: message.nonce };
        const proof =
          secret === undefined
            ? ''
            : await proveRoomSecret(
                secret,
                peer.nonce,
                room,
                self,
                'socket',
                binding(peer.nonce, peer.member),
              );
        if (!settled) send({ step: 'proof', proof });
      } else if (message.step === 'proof') {
        if (peer === null || verified) return refuse('badHandshake');
        const ok =
          secret === undefined ||
          (await verifyRoomProof(
            secret,
            nonce,
            room,
            peer.member,
            message.proof,
            'socket',
            binding(peer.nonce, peer.member),
          ));
        if (!ok) return refuse('authFailed');
        verified = true;
        if (!settled) send({ step: 'ok' });
      } else {
        // The other end's ok says it verified our proof: it comes after its own proof.
        if (peer === null || peerOk) return refuse('badHandshake');
        peerOk = true;
      }
      if (verified && peerOk && peer !== null && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ peer: peer.member, channel });
      }
    };

    // One listener for the socket's life: handshake messages in order (proofs are async), then
    // frames to the channel.
    socket.addEventListener('message', (event) => {
      chain = chain.then(() => handle(event.data)).catch(() => refuse('badHandshake'));
    });
    socket.addEventListener('close', (event) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new SocketHandshakeError('closed', event.code ?? null));
    });
    // Every failure is followed by a close event, which settles the handshake.
    socket.addEventListener('error', () => undefined);
    const hello = (): void => {
      if (!settled) send({ step: 'hello', room, member: self, nonce });
    };
    if (socket.readyState === SOCKET_OPEN) hello();
    else socket.addEventListener('open', hello);
  });
}

function parseStep(data: unknown): Step | null {
  if (typeof data !== 'string' || data.length > HANDSHAKE_TEXT_MAX) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const value = raw as Record<string, unknown>;
  if (value['label'] !== LABEL) return null;
  const { step, room, member, nonce, proof } = value;
  const keys = Object.keys(value).length;
  if (step === 'hello' && keys === 5 && isId(room) && isId(member) && isToken(nonce))
    return { step, room, member, nonce };
  // An empty proof: the prover has no secret (refused by a verifier that has one).
  if (step === 'proof' && keys === 3 && (proof === '' || isToken(proof))) return { step, proof };
  if (step === 'ok' && keys === 2) return { step };
  return null;
}

const isId = (value: unknown): value is string =>
  typeof value === 'string' && ID_PATTERN.test(value);
const isToken = (value: unknown): value is string =>
  typeof value === 'string' && TOKEN_PATTERN.test(value);

/** 32 random bytes, unpadded base64url (the proof nonce pattern). */
const newNonce = (): string => encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
