/**
 * SignalingClient against scripted servers (raw `ws` servers on 127.0.0.1): what it does when the
 * server is silent, misbehaves, or stops answering pings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { SignalingClient, urlWithRoom } from '../../../src/signaling/client.js';
import { SignalingTimeoutError } from '../../../src/signaling/errors.js';
import type { SignalingError } from '../../../src/signaling/errors.js';
import { encodeServerMessage } from '../../../src/signaling/protocol.js';
import type { ServerMessage } from '../../../src/signaling/protocol.js';

const NONCE = 'n'.repeat(43);
const servers: WebSocketServer[] = [];
const clients: SignalingClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) {
    for (const socket of server.clients) socket.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A server that runs `script` on each connection; resolves with its URL. */
async function scripted(script: (socket: WebSocket) => void): Promise<string> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', script);
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return `ws://127.0.0.1:${address.port}`;
}

const send = (socket: WebSocket, message: ServerMessage): void =>
  socket.send(encodeServerMessage(message));

/** Challenges, then welcomes the hello as a lone bootstrapper. */
function welcoming(socket: WebSocket): void {
  send(socket, { type: 'challenge', nonce: NONCE });
  socket.once('message', () =>
    send(socket, { type: 'welcome', room: 'r', memberId: 'a', peers: [], bootstrapper: true }),
  );
}

async function connect(url: string, extra: { pingIntervalMs?: number; hasLog?: boolean } = {}) {
  const client = await SignalingClient.connect({
    url,
    room: 'r',
    memberId: 'a',
    WebSocket,
    handshakeTimeoutMs: 300,
    ...extra,
  });
  clients.push(client);
  return client;
}

describe('SignalingClient', () => {
  it('gives up with SignalingTimeoutError when the server never welcomes', async () => {
    const url = await scripted(() => undefined);
    const attempt = connect(url);
    await expect(attempt).rejects.toBeInstanceOf(SignalingTimeoutError);
    await expect(attempt).rejects.toMatchObject({ code: 'SIGNALING_TIMEOUT' });
  });

  it('names its room in the URL it opens, keeping the query it was given', async () => {
    let requested = '';
    const url = await scripted(welcoming);
    servers[0]!.once('connection', (_socket, request) => (requested = request.url ?? ''));
    await connect(`${url}/signal?token=t&room=old`);
    expect(requested).toBe('/signal?token=t&room=r');
    expect(urlWithRoom('wss://example.com', 'board')).toBe('wss://example.com/?room=board');
  });

  it('refuses a welcome for another member', async () => {
    const url = await scripted((socket) => {
      send(socket, { type: 'challenge', nonce: NONCE });
      socket.once('message', () =>
        send(socket, { type: 'welcome', room: 'r', memberId: 'x', peers: [], bootstrapper: true }),
      );
    });
    await expect(connect(url)).rejects.toMatchObject({ code: 'SIGNALING_CLOSED' });
  });

  it('drops and counts messages that do not decode, and carries on', async () => {
    const url = await scripted((socket) => {
      socket.send('garbage');
      socket.send(JSON.stringify({ v: 9, type: 'challenge', nonce: NONCE }));
      welcoming(socket);
    });
    const client = await connect(url);
    expect(client.bootstrapper).toBe(true);
    expect(client.stats().malformedReceived).toBe(2);
  });

  it('reports a server-side close with the error code as its reason', async () => {
    const url = await scripted((socket) => {
      welcoming(socket);
      socket.once('message', () => setTimeout(() => socket.close(4000, 'DUPLICATE_MEMBER'), 20));
    });
    const client = await connect(url);
    const closed = await new Promise<SignalingError | null>((resolve) =>
      client.on('close', resolve),
    );
    expect(closed).toMatchObject({ code: 'DUPLICATE_MEMBER' });
  });

  it('pings while connected and fails after two silent ping periods', async () => {
    let pings = 0;
    const url = await scripted((socket) => {
      welcoming(socket);
      socket.on('message', (data: Buffer) => {
        if (data.toString().includes('"ping"')) pings++; // never answered
      });
    });
    const client = await connect(url, { pingIntervalMs: 40 });
    const closed = await new Promise<SignalingError | null>((resolve) =>
      client.on('close', resolve),
    );
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(closed).toBeInstanceOf(SignalingTimeoutError);
  });

  it('says hasLog in its hello only when it has one', async () => {
    const hellos: unknown[] = [];
    const url = await scripted((socket) => {
      send(socket, { type: 'challenge', nonce: NONCE });
      socket.once('message', (data: Buffer) => {
        hellos.push(JSON.parse(data.toString()));
        send(socket, { type: 'welcome', room: 'r', memberId: 'a', peers: [], bootstrapper: false });
      });
    });
    (await connect(url, { hasLog: true })).close();
    (await connect(url, { hasLog: false })).close();
    (await connect(url)).close();
    expect(hellos).toEqual([
      { v: 1, type: 'hello', room: 'r', memberId: 'a', hasLog: true },
      { v: 1, type: 'hello', room: 'r', memberId: 'a' },
      { v: 1, type: 'hello', room: 'r', memberId: 'a' },
    ]);
  });

  it('becomes the bootstrapper on a bootstrap after its welcome, and says so once', async () => {
    const url = await scripted((socket) => {
      send(socket, { type: 'challenge', nonce: NONCE });
      socket.once('message', () => {
        send(socket, { type: 'welcome', room: 'r', memberId: 'a', peers: [], bootstrapper: false });
        setTimeout(() => {
          send(socket, { type: 'bootstrap' });
          send(socket, { type: 'bootstrap' });
          send(socket, { type: 'signal', from: 'b', payload: 'after' });
        }, 20);
      });
    });
    const client = await connect(url);
    expect(client.bootstrapper).toBe(false);
    let events = 0;
    client.on('bootstrap', () => events++);
    // Messages arrive in order: once the signal is in, both bootstraps were handled.
    await new Promise((resolve) => client.on('signal', resolve));
    expect(client.bootstrapper).toBe(true);
    expect(events).toBe(1);
  });

  it('refuses to signal once closed, and close reports null', async () => {
    const url = await scripted(welcoming);
    const client = await connect(url);
    const closed = new Promise<SignalingError | null>((resolve) => client.on('close', resolve));
    client.close();
    expect(await closed).toBeNull();
    expect(() => client.signal('b', 1)).toThrow(/not connected/);
  });
});
