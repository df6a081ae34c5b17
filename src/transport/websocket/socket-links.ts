/**
 * A member's raft WebSockets (issue 13), beside its WebRTC mesh and into the same MeshTransport:
 * it dials the members of its room that accept raft sockets (an edge member's `endpoint`, from
 * signaling) and redials with backoff while they stay in the room; and, on a member that accepts,
 * it authenticates each socket its host upgraded. Either way the authenticated socket is attached
 * to the mesh like a data channel, so the codec, the spoofed-sender check and the bounded queues
 * are the mesh's.
 *
 * Between two members that both accept sockets the smaller id dials, so they never dial each
 * other at once; a member that accepts none (a tab, a Node member) always dials.
 */
import type { MemberId } from '../../core/types.js';
import type { PeerState } from '../webrtc/peer-mesh.js';
import type { FrameChannel } from '../webrtc/frame-channel.js';
import { authenticateSocket, SocketHandshakeError } from './handshake.js';
import { SOCKET_CLOSE } from './socket-channel.js';
import type { RaftSocket, RaftSocketConstructor, SocketCloseReason } from './socket-channel.js';

/** What the links need of the mesh transport. */
export interface SocketMesh {
  attach(peer: MemberId, channel: FrameChannel): void;
  detach(peer: MemberId): void;
}

export interface SocketLinksOptions {
  readonly room: string;
  readonly self: MemberId;
  readonly secret?: string;
  readonly mesh: SocketMesh;
  /** Makes dialed sockets; default the runtime's WebSocket (Node 20: pass `ws`'s). */
  readonly WebSocket?: RaftSocketConstructor;
  /**
   * The endpoint this member announced, if it accepts raft sockets (see the file comment): the
   * proofs of accepted sockets are bound to it.
   */
  readonly endpoint?: string;
  /** Redial delays: from min, doubling, up to max. Default 250 ms .. 5 s. */
  readonly retryDelayMs?: { readonly min: number; readonly max: number };
  /** Sockets accepted at once (handshaking or open); more are closed. Default 64. */
  readonly acceptedMax?: number;
  /** How long a handshake may take. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
}

/** Refusals of raft sockets, by reason: this end's, and the other end's it was told of. */
export type SocketRefusals = Partial<Record<SocketCloseReason | 'refusedByPeer', number>>;

interface Dial {
  readonly endpoint: string;
  socket: RaftSocket | null;
  state: PeerState;
  failures: number;
  retry: ReturnType<typeof setTimeout> | null;
}

export class SocketLinks {
  private readonly dials = new Map<MemberId, Dial>();
  /** Accepted sockets by the peer they authenticated as (null while handshaking). */
  private readonly accepted = new Map<RaftSocket, MemberId | null>();
  private readonly refused = new Map<SocketCloseReason | 'refusedByPeer', number>();
  private closed = false;

  constructor(private readonly options: SocketLinksOptions) {}

  /**
   * The room's members that accept raft sockets, with their endpoints: dials those this member
   * should dial, and hangs up on those that left (or moved to another endpoint).
   */
  setEndpoints(endpoints: ReadonlyMap<MemberId, string>): void {
    if (this.closed) return;
    for (const [peer, dial] of [...this.dials]) {
      if (endpoints.get(peer) !== dial.endpoint) this.hangUp(peer, dial);
    }
    for (const [peer, endpoint] of endpoints) {
      if (this.dials.has(peer) || !this.shouldDial(peer)) continue;
      const dial: Dial = { endpoint, socket: null, state: 'connecting', failures: 0, retry: null };
      this.dials.set(peer, dial);
      this.dial(peer, dial);
    }
  }

  /** An upgraded socket from this member's host: authenticated, then attached to the mesh. */
  accept(socket: RaftSocket): void {
    const { endpoint } = this.options;
    if (
      this.closed ||
      endpoint === undefined ||
      this.accepted.size >= (this.options.acceptedMax ?? 64)
    ) {
      this.count('tooMany');
      try {
        socket.close(SOCKET_CLOSE.tooMany, 'tooMany');
      } catch {
        // Closed already.
      }
      return;
    }
    this.accepted.set(socket, null);
    socket.addEventListener('close', () => this.accepted.delete(socket));
    authenticateSocket(socket, this.handshake('accept', endpoint)).then(
      ({ peer, channel }) => {
        if (this.closed) return channel.close();
        this.accepted.set(socket, peer);
        this.options.mesh.attach(peer, channel);
      },
      () => this.accepted.delete(socket), // Refused (counted) or closed by the dialer.
    );
  }

  /** The state of each dialed peer, and 'open' for each peer that dialed in. */
  states(): Record<MemberId, PeerState> {
    const states: Record<MemberId, PeerState> = {};
    for (const peer of this.accepted.values()) if (peer !== null) states[peer] = 'open';
    for (const [peer, dial] of this.dials) states[peer] = dial.state;
    return states;
  }

  refusals(): SocketRefusals {
    return Object.fromEntries(this.refused);
  }

  close(): void {
    this.closed = true;
    for (const [peer, dial] of [...this.dials]) this.hangUp(peer, dial);
    for (const socket of [...this.accepted.keys()]) closeQuietly(socket);
    this.accepted.clear();
  }

  /** Whether this member dials `peer` (which accepts sockets). */
  private shouldDial(peer: MemberId): boolean {
    const accepting = this.options.endpoint !== undefined;
    return peer !== this.options.self && (!accepting || this.options.self < peer);
  }

  private dial(peer: MemberId, dial: Dial): void {
    dial.retry = null;
    if (this.closed || this.dials.get(peer) !== dial) return;
    const Socket = this.options.WebSocket ?? (globalThis.WebSocket as RaftSocketConstructor);
    let socket: RaftSocket;
    try {
      socket = new Socket(dial.endpoint);
    } catch {
      return this.failed(peer, dial); // A URL the runtime refuses: signaling checked its shape.
    }
    dial.socket = socket;
    dial.state = 'authenticating';
    authenticateSocket(socket, {
      ...this.handshake('dial', dial.endpoint),
      expectedPeer: peer,
    }).then(
      ({ channel }) => {
        if (this.dials.get(peer) !== dial || dial.socket !== socket) return channel.close();
        dial.state = 'open';
        dial.failures = 0;
        channel.onClose(() => {
          if (dial.socket === socket) this.failed(peer, dial);
        });
        this.options.mesh.attach(peer, channel);
      },
      (error: unknown) => {
        if (dial.socket !== socket) return;
        const closeCode = error instanceof SocketHandshakeError ? error.closeCode : null;
        const reason = error instanceof SocketHandshakeError ? error.reason : 'closed';
        // A wrong secret on either end: redialing cannot fix it (as a refused data channel).
        if (reason === 'authFailed' || closeCode === SOCKET_CLOSE.authFailed) {
          if (closeCode === SOCKET_CLOSE.authFailed) this.count('refusedByPeer');
          dial.socket = null;
          dial.state = 'refused';
          return;
        }
        this.failed(peer, dial);
      },
    );
  }

  private failed(peer: MemberId, dial: Dial): void {
    dial.socket = null;
    if (this.closed || this.dials.get(peer) !== dial) return;
    dial.failures++;
    dial.state = 'waiting';
    const { min, max } = this.options.retryDelayMs ?? { min: 250, max: 5000 };
    const delay = Math.min(max, min * 2 ** (dial.failures - 1));
    dial.retry = setTimeout(() => this.dial(peer, dial), delay);
  }

  private hangUp(peer: MemberId, dial: Dial): void {
    this.dials.delete(peer);
    if (dial.retry !== null) clearTimeout(dial.retry);
    const socket = dial.socket;
    dial.socket = null;
    if (socket !== null) {
      closeQuietly(socket);
      this.options.mesh.detach(peer);
    }
  }

  private handshake(role: 'dial' | 'accept', endpoint: string) {
    const { room, self, secret, handshakeTimeoutMs } = this.options;
    return {
      room,
      self,
      role,
      endpoint,
      ...(secret ? { secret } : {}),
      ...(handshakeTimeoutMs === undefined ? {} : { timeoutMs: handshakeTimeoutMs }),
      onRefused: (reason: SocketCloseReason) => this.count(reason),
    };
  }

  private count(reason: SocketCloseReason | 'refusedByPeer'): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
  }
}

function closeQuietly(socket: RaftSocket): void {
  try {
    socket.close(SOCKET_CLOSE.normal, 'closed');
  } catch {
    // Closed already.
  }
}
