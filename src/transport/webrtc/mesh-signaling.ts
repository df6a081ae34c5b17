/**
 * The mesh's view of a SignalingClient: the room's members as they come and go, and a relay of
 * WebRTC signals to each. It listens from the moment it is made and holds what arrives until the
 * mesh registers its handlers, so an offer that comes while the page is still starting its member
 * is not lost. Members already in the room when the client joined count as joined.
 */
import type { MemberId } from '../../core/types.js';
import type { SignalPayload } from '../../signaling/protocol.js';
import type { MeshSignal, MeshSignaling } from './peer-mesh.js';

/** Events held before the mesh listens; a room has at most a few dozen members. */
const HELD_EVENTS_MAX = 1024;

type Held =
  | { readonly kind: 'joined' | 'left'; readonly peer: MemberId }
  | { readonly kind: 'signal'; readonly peer: MemberId; readonly payload: unknown };

/** What the mesh needs of a room connection (a SignalingClient, or a reconnecting RoomLink). */
export interface RoomConnection {
  readonly memberId: MemberId;
  readonly room: string;
  peers(): MemberId[];
  on(event: 'peer-joined' | 'peer-left', listener: (memberId: MemberId) => void): unknown;
  on(event: 'signal', listener: (from: MemberId, payload: SignalPayload) => void): unknown;
  signal(to: MemberId, payload: SignalPayload): void;
}

/**
 * The mesh's view of `client`. Peers for which `elsewhere` is true (edge members, reached over
 * WebSocket instead) are left out: the mesh never tries WebRTC with them. Peers for which
 * `nearby` resolves true (tabs of this browser, reached over BroadcastChannel) are not dialed:
 * their joins are not passed on. An offer from one is still answered: it looked before our lock
 * showed, and the link it starts works like any other (unused while BroadcastChannel reaches us).
 */
export function meshSignaling(
  client: RoomConnection,
  elsewhere: (peer: MemberId) => boolean = () => false,
  nearby?: (peer: MemberId) => Promise<boolean>,
): MeshSignaling {
  const held: Held[] = [];
  const handlers: {
    joined?: (peer: MemberId) => void;
    left?: (peer: MemberId) => void;
    signal?: (from: MemberId, payload: unknown) => void;
  } = {};
  const deliver = (event: Held): boolean => {
    if (event.kind === 'signal') {
      if (handlers.signal === undefined) return false;
      handlers.signal(event.peer, event.payload);
    } else {
      const handler = event.kind === 'joined' ? handlers.joined : handlers.left;
      if (handler === undefined) return false;
      handler(event.peer);
    }
    return true;
  };
  const arrive = (event: Held): void => {
    if (held.length === 0 && deliver(event)) return;
    if (held.length < HELD_EVENTS_MAX) held.push(event);
  };
  const flush = (): void => {
    while (held.length > 0 && deliver(held[0]!)) held.shift();
  };
  const joined = (peer: MemberId): void => {
    if (elsewhere(peer)) return;
    if (nearby === undefined) return arrive({ kind: 'joined', peer });
    void nearby(peer)
      .catch(() => false)
      .then((near) => {
        // Only if it is still in the room: it may have left while we looked.
        if (!near && client.peers().includes(peer)) arrive({ kind: 'joined', peer });
      });
  };
  for (const peer of client.peers()) joined(peer);
  client.on('peer-joined', joined);
  client.on('peer-left', (peer) => arrive({ kind: 'left', peer }));
  client.on('signal', (peer, payload) => {
    if (!elsewhere(peer)) arrive({ kind: 'signal', peer, payload });
  });
  return {
    self: client.memberId,
    room: client.room,
    onPeerJoined(handler) {
      handlers.joined = handler;
      queueMicrotask(flush); // Once the mesh has registered every handler.
    },
    onPeerLeft(handler) {
      handlers.left = handler;
      queueMicrotask(flush);
    },
    onSignal(handler) {
      handlers.signal = handler;
      queueMicrotask(flush);
    },
    signal(to: MemberId, payload: MeshSignal): void {
      client.signal(to, payload as unknown as SignalPayload);
    },
  };
}
