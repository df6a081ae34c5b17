/**
 * Raft WebSockets (issue 13) on loopback, with `ws` at both ends: the handshake admits a peer that
 * proves the room secret and refuses, with a clear close code and a count, everything else —
 * a wrong secret, a spoofed or unexpected id, garbage before or after the handshake, an oversized
 * frame, a silent peer — without throwing; the links redial a socket that drops.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { Message } from '../../../src/core/messages.js';
import { encodeFrame } from '../../../src/transport/codec.js';
import { MeshTransport } from '../../../src/transport/webrtc/mesh-transport.js';
import {
  authenticateSocket,
  SocketHandshakeError,
} from '../../../src/transport/websocket/handshake.js';
import type { SocketHandshakeOptions } from '../../../src/transport/websocket/handshake.js';
import { SOCKET_CLOSE } from '../../../src/transport/websocket/socket-channel.js';
import type {
  RaftSocket,
  RaftSocketConstructor,
} from '../../../src/transport/websocket/socket-channel.js';
import { SocketLinks } from '../../../src/transport/websocket/socket-links.js';
import type { SocketLinksOptions } from '../../../src/transport/websocket/socket-links.js';
import { appendMessage } from './conformance.js';

const ROOM = 'room';
const SECRET = 'correct horse';
const Socket = WebSocket as unknown as RaftSocketConstructor;
const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(probe: () => T | null | undefined, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** An edge-like acceptor: a ws server whose sockets go to SocketLinks over a MeshTransport. */
async function acceptor(self = 'e-edge', secret: string | null = SECRET, acceptedMax = 64) {
  const mesh = new MeshTransport({ cluster: ROOM, self });
  const got: Message[] = [];
  mesh.onMessage((message) => got.push(message));
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/raft`;
  const links = new SocketLinks({
    room: ROOM,
    self,
    mesh,
    endpoint: url,
    acceptedMax,
    handshakeTimeoutMs: 300,
    ...(secret === null ? {} : { secret }),
  });
  server.on('connection', (socket) => links.accept(socket as unknown as RaftSocket));
  cleanups.push(
    () => new Promise<void>((resolve) => server.close(() => resolve())),
    () => {
      for (const client of server.clients) client.terminate();
    },
    () => links.close(),
  );
  return { mesh, links, got, url, server };
}

/** A tab's mesh transport whose SocketLinks dial the edge member `e-edge` at `url`. */
function dialer(url: string, options: Partial<SocketLinksOptions> = {}) {
  const tab = new MeshTransport({ cluster: ROOM, self: 'm-tab' });
  const links = new SocketLinks({
    room: ROOM,
    self: 'm-tab',
    secret: SECRET,
    mesh: tab,
    WebSocket: Socket,
    ...options,
  });
  cleanups.push(() => links.close());
  links.setEndpoints(new Map([['e-edge', url]]));
  return { tab, links };
}

/** The handshake of tab `m-tab` dialing `e-edge` at `url` with the right secret. */
const asTab = (
  url: string,
  options: Partial<SocketHandshakeOptions> = {},
): SocketHandshakeOptions => ({
  room: ROOM,
  self: 'm-tab',
  secret: SECRET,
  role: 'dial',
  endpoint: url,
  expectedPeer: 'e-edge',
  ...options,
});

/** A socket dialed to `url`, for `authenticateSocket` at once (the acceptor speaks first). */
function dialed(url: string): RaftSocket {
  const socket = new WebSocket(url);
  cleanups.push(() => socket.terminate());
  return socket as unknown as RaftSocket;
}

/** A raw client socket, and what it was sent and how it ended. */
async function rawClient(url: string) {
  const socket = new WebSocket(url);
  const received: unknown[] = [];
  let closed: number | null = null;
  socket.on('message', (data, isBinary) => received.push(isBinary ? data : data.toString()));
  socket.on('close', (code) => (closed = code));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  cleanups.push(() => socket.terminate());
  return { socket, received, closedWith: () => closed };
}

describe('raft WebSocket handshake', () => {
  it('admits a dialer that proves the secret; frames flow both ways through the mesh', async () => {
    const edge = await acceptor();
    const { tab, links } = dialer(edge.url);
    const got: Message[] = [];
    tab.onMessage((message) => got.push(message));
    await until(() => links.states()['e-edge'] === 'open', 'the socket to open');
    tab.send([appendMessage('m-tab', 'e-edge', 1)]);
    await until(() => edge.got.length === 1, 'the frame at the edge');
    edge.mesh.send([appendMessage('e-edge', 'm-tab', 2)]);
    await until(() => got.length === 1, 'the frame at the tab');
    expect(got[0]).toMatchObject({ from: 'e-edge', term: 2 });
    expect(edge.links.states()).toEqual({ 'm-tab': 'open' });
  });

  it('refuses a wrong secret with 4401, counted on both ends, and does not redial', async () => {
    const edge = await acceptor();
    const { tab, links } = dialer(edge.url, {
      secret: 'wrong',
      retryDelayMs: { min: 10, max: 10 },
    });
    await until(() => links.states()['e-edge'] === 'refused', 'the refusal');
    expect(edge.links.refusals()).toMatchObject({ authFailed: 1 });
    // Which end the dialer counts it under depends on whose proof fails first: either will do.
    const { authFailed = 0, refusedByPeer = 0 } = links.refusals();
    expect(authFailed + refusedByPeer).toBeGreaterThan(0);
    await sleep(100);
    expect(edge.links.refusals()).toMatchObject({ authFailed: 1 }); // Not redialed.
    expect(tab.peers()).toEqual([]);
  });

  it('refuses a dialer with no secret when the acceptor has one', async () => {
    const edge = await acceptor();
    await expect(
      authenticateSocket(dialed(edge.url), {
        room: ROOM,
        self: 'm-tab',
        role: 'dial',
        endpoint: edge.url,
      }),
    ).rejects.toBeInstanceOf(SocketHandshakeError);
    expect(edge.links.refusals()).toMatchObject({ authFailed: 1 });
  });

  it('closes with 4403 when the acceptor is not the member the dialer meant', async () => {
    const edge = await acceptor('e-other');
    const attempt = authenticateSocket(dialed(edge.url), asTab(edge.url));
    await expect(attempt).rejects.toMatchObject({ reason: 'wrongPeer' });
  });

  it('refuses a hello for another room, or one naming the acceptor itself', async () => {
    const edge = await acceptor();
    for (const [room, member] of [
      ['other', 'm-tab'],
      [ROOM, 'e-edge'],
    ] as const) {
      const client = await rawClient(edge.url);
      client.socket.send(
        JSON.stringify({
          label: 'webraft-socket-v1',
          step: 'hello',
          room,
          member,
          nonce: 'A'.repeat(43),
        }),
      );
      await until(() => client.closedWith(), 'the close');
      expect(client.closedWith()).toBe(SOCKET_CLOSE.wrongPeer);
    }
    expect(edge.links.refusals()).toMatchObject({ wrongPeer: 2 });
  });

  it('closes with 4400 on garbage before the handshake: binary, not JSON, wrong shape, too long', async () => {
    const edge = await acceptor();
    const garbage: (string | Uint8Array)[] = [
      new Uint8Array([1, 2, 3]),
      '{not json',
      JSON.stringify({ label: 'webraft-socket-v1', step: 'proof', proof: 'x' }),
      JSON.stringify({ label: 'webraft-socket-v1', step: 'ok' }), // Out of order.
      JSON.stringify({ label: 'webraft-socket-v1', step: 'hello', extra: 1 }),
      'x'.repeat(5000),
      JSON.stringify([1, 2]),
    ];
    for (const message of garbage) {
      const client = await rawClient(edge.url);
      client.socket.send(message);
      await until(() => client.closedWith(), 'the close');
      expect(client.closedWith()).toBe(SOCKET_CLOSE.badHandshake);
    }
    expect(edge.links.refusals()).toMatchObject({ badHandshake: garbage.length });
  });

  it('closes a silent peer with 4408 after the handshake timeout', async () => {
    const edge = await acceptor();
    const client = await rawClient(edge.url);
    await until(() => client.closedWith(), 'the timeout', 2000);
    expect(client.closedWith()).toBe(SOCKET_CLOSE.handshakeTimeout);
    expect(edge.links.refusals()).toMatchObject({ handshakeTimeout: 1 });
  });

  it('closes sockets beyond acceptedMax with 4429', async () => {
    const edge = await acceptor('e-edge', SECRET, 1);
    await rawClient(edge.url);
    const second = await rawClient(edge.url);
    await until(() => second.closedWith(), 'the close');
    expect(second.closedWith()).toBe(SOCKET_CLOSE.tooMany);
  });

  it('after the handshake: drops spoofed senders, garbage and text (counted), closes an oversized frame with 1009', async () => {
    const edge = await acceptor();
    const socket = dialed(edge.url);
    let closedWith: number | null = null;
    socket.addEventListener('close', (event) => (closedWith = event.code ?? null));
    const { channel } = await authenticateSocket(socket, asTab(edge.url));
    channel.send(encodeFrame(ROOM, appendMessage('m-someone-else', 'e-edge', 1)));
    channel.send(new Uint8Array([0xc1, 0xff, 0x00]));
    socket.send('text after the handshake');
    channel.send(encodeFrame(ROOM, appendMessage('m-tab', 'e-edge', 3)));
    await until(() => edge.got.length === 1, 'the one good frame');
    expect(edge.got[0]).toMatchObject({ from: 'm-tab', term: 3 });
    expect(edge.mesh.drops()).toMatchObject({ spoofedSender: 1, undecodable: 1, notBytes: 1 });
    channel.send(new Uint8Array(300 * 1024));
    await until(() => closedWith, 'the close');
    expect(closedWith).toBe(SOCKET_CLOSE.tooLarge);
    expect(edge.links.refusals()).toMatchObject({ tooLarge: 1 });
  });

  it('refuses proofs made for another endpoint: a relay at another URL cannot pass them on', async () => {
    const edge = await acceptor();
    // The dialer believes it dialed a relay's URL; the relay passes every byte to the edge.
    const attempt = authenticateSocket(
      dialed(edge.url),
      asTab(edge.url, { endpoint: 'wss://relay.example/raft' }),
    );
    await expect(attempt).rejects.toBeInstanceOf(SocketHandshakeError);
    expect(edge.links.refusals()).toMatchObject({ authFailed: 1 });
  });

  it('admits anyone naming itself when neither end has a secret', async () => {
    const edge = await acceptor('e-edge', null);
    const { peer } = await authenticateSocket(dialed(edge.url), {
      room: ROOM,
      self: 'm-tab',
      role: 'dial',
      endpoint: edge.url,
    });
    expect(peer).toBe('e-edge');
  });
});

describe('SocketLinks', () => {
  it('redials with backoff when the socket drops, and hangs up when the peer leaves', async () => {
    const edge = await acceptor();
    const { tab, links } = dialer(edge.url, { retryDelayMs: { min: 20, max: 100 } });
    await until(() => tab.peers().includes('e-edge'), 'the first link');
    for (const client of edge.server.clients) client.terminate();
    await until(() => links.states()['e-edge'] !== 'open', 'the drop');
    await until(() => links.states()['e-edge'] === 'open', 'the redial');
    expect(tab.peers()).toEqual(['e-edge']);
    links.setEndpoints(new Map());
    expect(links.states()).toEqual({});
    expect(tab.peers()).toEqual([]);
  });

  it('between two accepting members only the smaller id dials', () => {
    const mesh = new MeshTransport({ cluster: ROOM, self: 'e-b' });
    const dialed: string[] = [];
    const Recording = class {
      constructor(url: string) {
        dialed.push(url);
        throw new Error('not really');
      }
    } as unknown as RaftSocketConstructor;
    const links = new SocketLinks({
      room: ROOM,
      self: 'e-b',
      mesh,
      endpoint: 'ws://127.0.0.1:1/b',
      WebSocket: Recording,
    });
    cleanups.push(() => links.close());
    links.setEndpoints(
      new Map([
        ['e-a', 'ws://127.0.0.1:1/a'],
        ['e-c', 'ws://127.0.0.1:1/c'],
      ]),
    );
    expect(dialed).toEqual(['ws://127.0.0.1:1/c']);
  });
});
