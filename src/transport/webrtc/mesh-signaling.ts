/**
 * The mesh's view of a SignalingClient: the room's members as they come and go, and a relay of
 * WebRTC signals to each. Members already in the room when the client joined count as joined.
 */
import type { MemberId } from '../../core/types.js';
import type { SignalingClient } from '../../signaling/client.js';
import type { SignalPayload } from '../../signaling/protocol.js';
import type { MeshSignal, MeshSignaling } from './peer-mesh.js';

export function meshSignaling(client: SignalingClient): MeshSignaling {
  return {
    self: client.memberId,
    room: client.room,
    onPeerJoined(handler: (peer: MemberId) => void): void {
      client.on('peer-joined', handler);
      // Already there when we joined: announced after the caller's handlers are all in place.
      queueMicrotask(() => {
        for (const peer of client.peers()) handler(peer);
      });
    },
    onPeerLeft(handler: (peer: MemberId) => void): void {
      client.on('peer-left', handler);
    },
    onSignal(handler: (from: MemberId, payload: unknown) => void): void {
      client.on('signal', handler);
    },
    signal(to: MemberId, payload: MeshSignal): void {
      client.signal(to, payload as unknown as SignalPayload);
    },
  };
}
