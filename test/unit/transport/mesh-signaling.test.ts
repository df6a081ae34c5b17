import { describe, expect, it } from 'vitest';
import type { MemberId } from '../../../src/core/types.js';
import type { SignalPayload } from '../../../src/signaling/protocol.js';
import { meshSignaling } from '../../../src/transport/webrtc/mesh-signaling.js';
import type { RoomConnection } from '../../../src/transport/webrtc/mesh-signaling.js';

/** A room connection whose members come and go by hand. */
class FakeRoom implements RoomConnection {
  readonly memberId = 'self';
  readonly room = 'r';
  private readonly members: Set<MemberId>;
  private readonly listeners = new Map<string, ((...args: never[]) => void)[]>();

  constructor(members: readonly MemberId[]) {
    this.members = new Set(members);
  }

  peers(): MemberId[] {
    return [...this.members];
  }

  on(event: string, listener: (...args: never[]) => void): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
  }

  signal(): void {}

  emit(event: 'peer-joined' | 'peer-left', peer: MemberId): void {
    if (event === 'peer-joined') this.members.add(peer);
    else this.members.delete(peer);
    for (const listener of this.listeners.get(event) ?? [])
      (listener as (p: MemberId) => void)(peer);
  }

  emitSignal(from: MemberId, payload: SignalPayload): void {
    for (const listener of this.listeners.get('signal') ?? [])
      (listener as (f: MemberId, p: SignalPayload) => void)(from, payload);
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function watch(room: FakeRoom, nearby: (peer: MemberId) => Promise<boolean>) {
  const signaling = meshSignaling(room, (peer) => peer.startsWith('edge'), nearby);
  const joined: MemberId[] = [];
  const signals: MemberId[] = [];
  signaling.onPeerJoined((peer) => joined.push(peer));
  signaling.onPeerLeft(() => undefined);
  signaling.onSignal((from) => signals.push(from));
  return { joined, signals };
}

describe('meshSignaling', () => {
  it('passes on the joins of peers that are neither elsewhere nor nearby', async () => {
    const room = new FakeRoom(['tab-here', 'tab-far', 'edge-1']);
    const { joined } = watch(room, async (peer) => peer.endsWith('here'));
    await settle();
    expect(joined).toEqual(['tab-far']);
    room.emit('peer-joined', 'new-here');
    room.emit('peer-joined', 'new-far');
    await settle();
    expect(joined).toEqual(['tab-far', 'new-far']);
  });

  it('does not pass on a peer that left while it was being looked at', async () => {
    const room = new FakeRoom([]);
    let answer: (near: boolean) => void = () => undefined;
    const { joined } = watch(room, () => new Promise((resolve) => (answer = resolve)));
    room.emit('peer-joined', 'tab-far');
    room.emit('peer-left', 'tab-far');
    answer(false);
    await settle();
    expect(joined).toEqual([]);
  });

  it('dials a peer when it cannot tell whether it is nearby', async () => {
    const room = new FakeRoom(['tab-x']);
    const { joined } = watch(room, () => Promise.reject(new Error('no Web Locks')));
    await settle();
    expect(joined).toEqual(['tab-x']);
  });

  it('still passes on the signals of a nearby peer, so its offer is answered', async () => {
    const room = new FakeRoom(['tab-here']);
    const { joined, signals } = watch(room, async () => true);
    await settle();
    room.emitSignal('tab-here', { kind: 'candidate' } as unknown as SignalPayload);
    expect(joined).toEqual([]);
    expect(signals).toEqual(['tab-here']);
  });
});
