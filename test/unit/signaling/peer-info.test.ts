/**
 * What a member says of itself beyond its id (issue 13): an `endpoint` where it accepts raft
 * WebSockets and a `voter` wish, in its hello; the server passes them to the room in welcomes and
 * peer-joined, only when someone said them (old clients keep reading); every field is validated.
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RoomLink } from '../../../src/client/room-link.js';
import { SignalingClient } from '../../../src/signaling/client.js';
import type { WebSocketConstructor } from '../../../src/signaling/client.js';
import { startSignalingServer } from '../../../src/signaling/node-server.js';
import {
  decodeClientMessage,
  decodeServerMessage,
  ENDPOINT_LENGTH_MAX,
  isEndpoint,
} from '../../../src/signaling/protocol.js';
import type { HelloMessage } from '../../../src/signaling/protocol.js';
import { createHarness } from './harness.js';

const hello = (fields: Record<string, unknown>): string =>
  JSON.stringify({ v: 1, type: 'hello', room: 'r', memberId: 'e-1', ...fields });

describe('PeerInfo fields', () => {
  it('a hello may carry a ws/wss endpoint and a voter wish', () => {
    const decoded = decodeClientMessage(
      hello({ endpoint: 'wss://edge.example/raft', voter: true }),
    );
    expect(decoded).toEqual({
      ok: true,
      message: {
        type: 'hello',
        room: 'r',
        memberId: 'e-1',
        endpoint: 'wss://edge.example/raft',
        voter: true,
      },
    });
  });

  it('refuses endpoints that are not ws/wss URLs with a host, or too long, and non-boolean voters', () => {
    const bad: unknown[] = [
      'http://edge.example/raft',
      'javascript:alert(1)',
      'ws://user:pw@edge.example/',
      'ws://edge.example/#frag',
      'ws://edge.example/a b',
      'ws://edge.example/\n',
      'not a url',
      `ws://edge.example/${'a'.repeat(ENDPOINT_LENGTH_MAX)}`,
      42,
      null,
    ];
    for (const endpoint of bad) {
      expect(isEndpoint(endpoint)).toBe(false);
      expect(decodeClientMessage(hello({ endpoint }))).toMatchObject({
        ok: false,
        reason: 'badField',
      });
    }
    expect(decodeClientMessage(hello({ voter: 'yes' }))).toMatchObject({ ok: false });
    expect(isEndpoint('ws://127.0.0.1:8790/raft')).toBe(true);
  });

  it('peer-joined and welcome members are validated too', () => {
    const server = (fields: Record<string, unknown>) =>
      decodeServerMessage(JSON.stringify({ v: 1, ...fields }));
    expect(server({ type: 'peer-joined', memberId: 'e-1', endpoint: 'ftp://x' }).ok).toBe(false);
    expect(server({ type: 'peer-left', memberId: 'e-1', endpoint: 'ws://x' }).ok).toBe(false);
    const welcome = {
      type: 'welcome',
      room: 'r',
      memberId: 'm-1',
      peers: ['e-1'],
      bootstrapper: false,
    };
    expect(server({ ...welcome, members: [{ memberId: 'e-1', voter: false }] }).ok).toBe(true);
    // A member not among the peers, twice, with an unknown field, or not a list.
    for (const members of [
      [{ memberId: 'e-2', voter: true }],
      [{ memberId: 'e-1' }, { memberId: 'e-1' }],
      [{ memberId: 'e-1', extra: 1 }],
      { memberId: 'e-1' },
    ]) {
      expect(server({ ...welcome, members }).ok).toBe(false);
    }
  });
});

describe('the server carries PeerInfo to the room', () => {
  async function joinWith(
    harness: ReturnType<typeof createHarness>,
    memberId: string,
    info: Partial<HelloMessage> = {},
  ) {
    const connection = harness.connect();
    connection.deliver({ type: 'hello', room: 'r', memberId, ...info });
    await harness.rooms.whenIdle();
    return connection;
  }

  it('in the welcome of later members and in peer-joined, and nothing when nobody said more', async () => {
    const harness = createHarness();
    const tab = await joinWith(harness, 'm-1');
    const edge = await joinWith(harness, 'e-1', {
      endpoint: 'ws://127.0.0.1:8790/raft',
      voter: true,
    });
    const later = await joinWith(harness, 'm-2');
    expect(tab.ofType('welcome')[0]).not.toHaveProperty('members');
    expect(tab.ofType('peer-joined')[0]).toEqual({
      type: 'peer-joined',
      memberId: 'e-1',
      endpoint: 'ws://127.0.0.1:8790/raft',
      voter: true,
    });
    expect(edge.ofType('peer-joined')[0]).toEqual({ type: 'peer-joined', memberId: 'm-2' });
    expect(later.ofType('welcome')[0]?.members).toEqual([
      { memberId: 'e-1', endpoint: 'ws://127.0.0.1:8790/raft', voter: true },
    ]);
  });
});

describe('SignalingClient and RoomLink read PeerInfo', () => {
  it('from the welcome and from peer-joined, and forget it when the peer leaves', async () => {
    const server = await startSignalingServer({ port: 0, host: '127.0.0.1' });
    const Socket = WebSocket as unknown as WebSocketConstructor;
    const clients: SignalingClient[] = [];
    try {
      const edge = await SignalingClient.connect({
        url: server.url,
        room: 'r',
        memberId: 'e-1',
        endpoint: 'ws://127.0.0.1:9/raft',
        voter: false,
        WebSocket: Socket,
      });
      clients.push(edge);
      const tab = await RoomLink.open({
        url: server.url,
        room: 'r',
        memberId: 'm-1',
        WebSocket: Socket,
      });
      expect(tab.peerInfo('e-1')).toEqual({
        memberId: 'e-1',
        endpoint: 'ws://127.0.0.1:9/raft',
        voter: false,
      });
      const joined = new Promise<void>((resolve) =>
        edge.on('peer-joined', (id) => id === 'e-2' && resolve()),
      );
      const other = await SignalingClient.connect({
        url: server.url,
        room: 'r',
        memberId: 'e-2',
        voter: true,
        WebSocket: Socket,
      });
      clients.push(other);
      await joined;
      expect(edge.peerInfo('e-2')).toEqual({ memberId: 'e-2', voter: true });
      expect(edge.peerInfo('m-1')).toEqual({ memberId: 'm-1' });
      const left = new Promise<string>((resolve) => tab.on('peer-left', resolve));
      edge.close();
      await left;
      expect(tab.peerInfo('e-1')).toEqual({ memberId: 'e-1' });
      tab.close();
    } finally {
      for (const client of clients) client.close();
      await server.close();
    }
  });
});
