/**
 * The Node signaling server end to end: real WebSockets on 127.0.0.1 (port 0), SignalingClient on
 * `ws`'s WebSocket (Node 20 has no global one). Every server and client is closed after each test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignalingClient } from '../../../src/signaling/client.js';
import type { SignalingClientOptions } from '../../../src/signaling/client.js';
import { SignalingRefusedError } from '../../../src/signaling/errors.js';
import type { SignalingError } from '../../../src/signaling/errors.js';
import { startSignalingServer } from '../../../src/signaling/node-server.js';
import type {
  SignalingServer,
  SignalingServerOptions,
} from '../../../src/signaling/node-server.js';
import type { SignalPayload } from '../../../src/signaling/protocol.js';

const STEP_TIMEOUT_MS = 5_000;
const servers: SignalingServer[] = [];
const clients: SignalingClient[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function track(server: SignalingServer): SignalingServer {
  servers.push(server);
  return server;
}

/** A server past its bootstrap grace unless `options.limits` sets one (a fresh start waits). */
async function start(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const limits = { bootstrapGraceMs: 0, ...options.limits };
  const server = await startSignalingServer({ port: 0, ...options, limits });
  servers.push(server);
  return server;
}

async function join(
  server: SignalingServer,
  options: Omit<SignalingClientOptions, 'url' | 'WebSocket'>,
): Promise<SignalingClient> {
  const client = await SignalingClient.connect({
    url: server.url,
    WebSocket,
    handshakeTimeoutMs: STEP_TIMEOUT_MS,
    ...options,
  });
  clients.push(client);
  return client;
}

/** The next `event` from `client`, or a rejection after STEP_TIMEOUT_MS. */
function next<E extends 'peer-joined' | 'peer-left' | 'signal' | 'bootstrap' | 'close'>(
  client: SignalingClient,
  event: E,
): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event`)), STEP_TIMEOUT_MS);
    const off = client.on(event, ((...args: unknown[]) => {
      clearTimeout(timer);
      off();
      resolve(args);
    }) as never);
  });
}

describe('the Node signaling server', () => {
  it('listens on 127.0.0.1 with the port it was given (0: any free one)', async () => {
    const server = await start();
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`ws://127.0.0.1:${server.port}`);
  });

  it('introduces two clients to each other and relays signals both ways', async () => {
    const server = await start();
    const a = await join(server, { room: 'board', memberId: 'a' });
    expect(a.bootstrapper).toBe(true);
    expect(a.peers()).toEqual([]);
    const aSeesB = next(a, 'peer-joined');
    const b = await join(server, { room: 'board', memberId: 'b' });
    expect(b.bootstrapper).toBe(false);
    expect(b.peers()).toEqual(['a']);
    expect(await aSeesB).toEqual(['b']);
    expect(a.peers()).toEqual(['b']);

    const offer: SignalPayload = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' };
    const bGetsOffer = next(b, 'signal');
    a.signal('b', offer);
    expect(await bGetsOffer).toEqual(['a', offer]);
    const aGetsAnswer = next(a, 'signal');
    b.signal('a', { type: 'answer', candidates: [{ candidate: 'c', sdpMLineIndex: 0 }] });
    expect(await aGetsAnswer).toEqual([
      'b',
      { type: 'answer', candidates: [{ candidate: 'c', sdpMLineIndex: 0 }] },
    ]);

    const aSeesBLeave = next(a, 'peer-left');
    b.close();
    expect(await aSeesBLeave).toEqual(['b']);
    expect(server.stats()).toMatchObject({ members: 1, signalsRelayed: 2 });
  });

  it('names the earliest member by bootstrap when its start grace ends', async () => {
    const server = await start({ limits: { bootstrapGraceMs: 300 } });
    expect(server.limits.bootstrapGraceMs).toBe(300);
    const a = await join(server, { room: 'board', memberId: 'a' });
    const b = await join(server, { room: 'board', memberId: 'b' });
    expect([a.bootstrapper, b.bootstrapper]).toEqual([false, false]);
    await next(a, 'bootstrap');
    expect([a.bootstrapper, b.bootstrapper]).toEqual([true, false]);
    expect(server.stats().bootstrappersNamed).toBe(1);
  });

  it('names no one in a room where a member said hasLog during the grace', async () => {
    const server = await start({ limits: { bootstrapGraceMs: 200 } });
    const fresh = await join(server, { room: 'board', memberId: 'new' });
    const old = await join(server, { room: 'board', memberId: 'old', hasLog: true });
    const elsewhere = await join(server, { room: 'other', memberId: 'x' });
    await next(elsewhere, 'bootstrap'); // the grace is over
    expect([fresh.bootstrapper, old.bootstrapper]).toEqual([false, false]);
    expect(server.stats().bootstrappersNamed).toBe(1);
  });

  it('takes its bootstrap grace from SIGNAL_BOOTSTRAP_GRACE_MS unless given one', async () => {
    const saved = process.env.SIGNAL_BOOTSTRAP_GRACE_MS;
    try {
      process.env.SIGNAL_BOOTSTRAP_GRACE_MS = '1234';
      expect((await startSignalingServer({ port: 0 }).then(track)).limits.bootstrapGraceMs).toBe(
        1234,
      );
      expect((await start()).limits.bootstrapGraceMs).toBe(0);
      process.env.SIGNAL_BOOTSTRAP_GRACE_MS = 'soon';
      await expect(startSignalingServer({ port: 0 })).rejects.toBeInstanceOf(RangeError);
    } finally {
      if (saved === undefined) delete process.env.SIGNAL_BOOTSTRAP_GRACE_MS;
      else process.env.SIGNAL_BOOTSTRAP_GRACE_MS = saved;
    }
  });

  it('admits the right secret and refuses a wrong one with AUTH_FAILED', async () => {
    const server = await start({ secrets: { board: 'hunter2' } });
    const a = await join(server, { room: 'board', memberId: 'a', secret: 'hunter2' });
    const introduced: unknown[] = [];
    a.on('peer-joined', (id) => introduced.push(id));
    const refused = join(server, { room: 'board', memberId: 'b', secret: 'guess' });
    await expect(refused).rejects.toBeInstanceOf(SignalingRefusedError);
    await expect(refused).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await expect(join(server, { room: 'board', memberId: 'c' })).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
    expect(introduced).toEqual([]);
    expect(server.stats()).toMatchObject({ members: 1 });
    expect(server.stats().refused.AUTH_FAILED).toBe(2);
  });

  it('closes the old connection of a reloaded tab with DUPLICATE_MEMBER', async () => {
    const server = await start();
    const old = await join(server, { room: 'board', memberId: 'a' });
    const b = await join(server, { room: 'board', memberId: 'b' });
    const oldClosed = next(old, 'close');
    const bSeesLeave = next(b, 'peer-left');
    const bSeesJoin = next(b, 'peer-joined');
    await join(server, { room: 'board', memberId: 'a' });
    const [error] = (await oldClosed) as [SignalingError];
    expect(error).toMatchObject({ code: 'DUPLICATE_MEMBER' });
    expect(await bSeesLeave).toEqual(['a']);
    expect(await bSeesJoin).toEqual(['a']);
  });

  it('reports refusals of sent signals as error events', async () => {
    const server = await start();
    const a = await join(server, { room: 'board', memberId: 'a' });
    const refusal = new Promise<SignalingRefusedError>((resolve) => a.on('error', resolve));
    a.signal('nobody', 1);
    expect(await refusal).toMatchObject({ code: 'UNKNOWN_PEER' });
  });

  it('cuts off a frame over maxPayload at the WebSocket layer', async () => {
    const server = await start({
      limits: { messageBytesMax: 2_048, signalPayloadBytesMax: 1_024 },
    });
    const socket = new WebSocket(server.url);
    sockets.push(socket);
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', resolve));
    socket.send('x'.repeat(4_096));
    expect(await closed).toBe(1009);
  });

  it('rejects connect with a clear error when nothing listens', async () => {
    const server = await start();
    const url = server.url;
    await server.close();
    servers.length = 0;
    await expect(
      SignalingClient.connect({ url, room: 'board', memberId: 'a', WebSocket }),
    ).rejects.toMatchObject({ code: 'SIGNALING_CLOSED' });
  });
});
