/**
 * The parts of the workerd edge member host that need no workerd: which rooms EDGE_ROOMS names,
 * the member's storage in an object (its id, a member set aside, a crash between naming and
 * creating a member), and the in-process socket pair the member signals over.
 */
import { describe, expect, it } from 'vitest';
import { MemorySocket } from '../../../src/signaling/memory-socket.js';
import {
  durableObjectEdgeStorage,
  edgeSettingsFor,
  raftEndpoint,
} from '../../../src/signaling/workerd-edge.js';
import { MemoryDurableObjectStorage } from '../../../src/storage/durable-object-memory.js';

describe('EDGE_ROOMS', () => {
  it('names rooms by list, by * or by JSON with a voter setting; anything else runs none', () => {
    expect(edgeSettingsFor('board', 'board, chess')).toEqual({ voter: true });
    expect(edgeSettingsFor('lobby', 'board,chess')).toBeNull();
    expect(edgeSettingsFor('lobby', '*')).toEqual({ voter: true });
    const json = '{"board": {"voter": false}, "*": {}}';
    expect(edgeSettingsFor('board', json)).toEqual({ voter: false });
    expect(edgeSettingsFor('lobby', json)).toEqual({ voter: true });
    expect(edgeSettingsFor('lobby', '{"board": {}}')).toBeNull();
    expect(edgeSettingsFor('board', '{broken')).toBeNull();
    expect(edgeSettingsFor('board', undefined)).toBeNull();
    expect(edgeSettingsFor('constructor', '{}')).toBeNull();
  });

  it('puts the raft endpoint on the origin the request came in on', () => {
    expect(raftEndpoint('https://rooms.example.dev', 'board')).toBe(
      'wss://rooms.example.dev/raft?room=board',
    );
    expect(raftEndpoint('http://127.0.0.1:8787', 'a b')).toBe(
      'ws://127.0.0.1:8787/raft?room=a%20b',
    );
  });
});

describe('an edge member storage in a Durable Object', () => {
  const open = { room: 'board', memberId: 'e-1', existing: false };

  it('remembers its member, whose log lives under its own prefix', async () => {
    const medium = new MemoryDurableObjectStorage();
    const edge = durableObjectEdgeStorage(medium);
    expect(await edge.memberId(new Set())).toBeNull();
    const { storage } = await edge.open(open);
    await storage.persist({
      hardState: { term: 2, vote: 'e-1', commit: 0 },
      snapshot: null,
      entries: [],
    });
    await storage.close();
    expect(await edge.memberId(new Set())).toBe('e-1');
    const again = await edge.open({ ...open, existing: true });
    expect((await again.storage.load()).hardState.term).toBe(2);
  });

  it('sets aside a member to avoid, deleting its log: the next member is new', async () => {
    const medium = new MemoryDurableObjectStorage();
    const edge = durableObjectEdgeStorage(medium);
    await (await edge.open(open)).storage.close();
    expect(await edge.memberId(new Set(['e-1']))).toBeNull();
    expect(medium.keys()).toEqual([]);
    expect(await edge.memberId(new Set())).toBeNull();
  });

  it('finds no member where one was named but never created (a crash in between)', async () => {
    const medium = new MemoryDurableObjectStorage();
    await medium.transaction(async (txn) => txn.put({ 'raft/member': 'e-9' }));
    expect(await durableObjectEdgeStorage(medium).memberId(new Set())).toBeNull();
  });
});

describe('the in-process socket pair', () => {
  it('opens after the constructor, delivers in order in later tasks, and closes both ends', async () => {
    const { client, server } = MemorySocket.pair();
    const seen: string[] = [];
    client.addEventListener('open', () => seen.push('open'));
    server.addEventListener('message', (event) => seen.push(`server:${String(event.data)}`));
    client.addEventListener('message', (event) => seen.push(`client:${String(event.data)}`));
    client.addEventListener('close', (event) => seen.push(`closed:${event.code}`));
    client.send('dropped: not open yet');
    expect(seen).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    client.send('a');
    client.send('b');
    server.send('c');
    await new Promise((resolve) => setTimeout(resolve, 5));
    server.close(4000, 'bye');
    client.send('after close');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toEqual(['open', 'server:a', 'server:b', 'client:c', 'closed:4000']);
    expect(client.readyState).toBe(3);
  });
});
