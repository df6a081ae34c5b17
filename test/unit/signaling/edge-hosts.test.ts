/**
 * The edge hosts of the signaling server (workerd, Deno) as real processes on 127.0.0.1: the
 * host glue keeps the Node host's promises — members meet and relay, bad and oversized messages
 * are refused as on Node, room secrets come from the settings, floods are rate limited, a silent
 * connection times out on the runtime's own clock — and workerd routes by the room in the URL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignalingClient } from '../../../src/signaling/client.js';
import { decodeServerMessage, encodeClientMessage } from '../../../src/signaling/protocol.js';
import type { ClientMessage, ServerMessage } from '../../../src/signaling/protocol.js';
import { buildEdgeForTest, EDGE_HOST_KINDS, startEdgeHost } from '../../e2e/edge-hosts.js';
import type { EdgeHost, EdgeHostKind } from '../../e2e/edge-hosts.js';

const SECRET = 'correct horse battery staple';
const STEP_TIMEOUT_MS = 5_000;
let build: Awaited<ReturnType<typeof buildEdgeForTest>> | undefined;
const hosts = new Map<EdgeHostKind, EdgeHost>();
/** Per host, a connection opened as soon as it runs that never says hello, and when. */
const silent = new Map<EdgeHostKind, { client: RawClient; openedAtMs: number }>();

// Both hosts start up front, so that their hello timeouts run out side by side.
beforeAll(async () => {
  build = await buildEdgeForTest();
  for (const kind of EDGE_HOST_KINDS) {
    const host = await startEdgeHost(kind, build, {
      SIGNAL_ROOM_SECRETS: JSON.stringify({ locked: SECRET }),
      // workerd keeps the default grace: its rooms skip it when nobody was in them.
      ...(kind === 'deno' ? { SIGNAL_BOOTSTRAP_GRACE_MS: '0' } : {}),
    });
    hosts.set(kind, host);
    const openedAtMs = Date.now();
    silent.set(kind, { client: await RawClient.open(`${host.url}/?room=quiet`), openedAtMs });
  }
}, 60_000);

afterAll(async () => {
  for (const { client } of silent.values()) client.socket.terminate();
  for (const host of hosts.values()) await host.stop();
  build?.remove();
});

/** A raw client: every message the server sent, decoded, and how the socket closed. */
class RawClient {
  readonly received: ServerMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly opened: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(readonly socket: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    socket.on('message', (data, isBinary) => {
      const decoded = isBinary ? null : decodeServerMessage(data.toString());
      if (decoded?.ok === true) this.received.push(decoded.message);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async open(url: string): Promise<RawClient> {
    const client = new RawClient(new WebSocket(url));
    await client.opened;
    return client;
  }

  send(message: ClientMessage | string | Buffer): void {
    this.socket.send(
      typeof message === 'string' || Buffer.isBuffer(message)
        ? message
        : encodeClientMessage(message),
    );
  }

  /** The first message received that matches, waiting for it. */
  async next<T extends ServerMessage['type']>(
    type: T,
    match: (message: Extract<ServerMessage, { type: T }>) => boolean = () => true,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const found = this.received.find(
        (m): m is Extract<ServerMessage, { type: T }> => m.type === type && match(m as never),
      );
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} message`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  count(type: ServerMessage['type']): number {
    return this.received.filter((m) => m.type === type).length;
  }

  /** Joins `room` as `memberId` (open rooms: no proof) and waits for the welcome. */
  async join(room: string, memberId: string): Promise<void> {
    await this.next('challenge');
    this.send({ type: 'hello', room, memberId });
    await this.next('welcome');
  }
}

describe.each(EDGE_HOST_KINDS)('the signaling server on %s', (kind) => {
  let host: EdgeHost;
  const sockets: WebSocket[] = [];
  const clients: SignalingClient[] = [];

  const roomUrl = (room: string): string => `${host.url}/?room=${room}`;
  const raw = async (room: string): Promise<RawClient> => {
    const client = await RawClient.open(roomUrl(room));
    sockets.push(client.socket);
    return client;
  };
  const join = async (room: string, memberId: string, secret?: string) => {
    const client = await SignalingClient.connect({
      url: host.url,
      room,
      memberId,
      WebSocket,
      handshakeTimeoutMs: STEP_TIMEOUT_MS,
      ...(secret === undefined ? {} : { secret }),
    });
    clients.push(client);
    return client;
  };

  beforeAll(() => {
    host = hosts.get(kind)!;
  });

  afterAll(() => {
    for (const client of clients) client.close();
    for (const socket of sockets) socket.terminate();
  });

  it('introduces two members of a new room, the first as bootstrapper at once, and relays between them', async () => {
    const a = await join('board', 'a');
    expect(a.bootstrapper).toBe(true);
    const b = await join('board', 'b');
    expect(b.bootstrapper).toBe(false);
    expect(b.peers()).toEqual(['a']);
    const offer = { type: 'offer', sdp: 'v=0' };
    const received = new Promise((resolve) =>
      b.on('signal', (from, payload) => resolve([from, payload])),
    );
    a.signal('b', offer);
    expect(await received).toEqual(['a', offer]);
    const left = new Promise((resolve) => a.on('peer-left', resolve));
    b.close();
    expect(await left).toBe('b');
  });

  it('answers bad JSON with BAD_MESSAGE and keeps the connection', async () => {
    const client = await raw('bad');
    await client.next('challenge');
    client.send('{"v":1,"type":');
    await client.next('error', (m) => m.code === 'BAD_MESSAGE');
    client.send({ type: 'ping' });
    await client.next('pong');
  });

  it('refuses a binary message with BAD_MESSAGE', async () => {
    const client = await raw('binary');
    await client.next('challenge');
    client.send(Buffer.from([1, 2, 3]));
    const error = await client.next('error');
    expect(error.code).toBe('BAD_MESSAGE');
  });

  it('closes the connection with 1009 on a message over messageBytesMax', async () => {
    const client = await raw('big');
    await client.next('challenge');
    client.send('x'.repeat(64 * 1024 + 1));
    expect((await client.closed).code).toBe(1009);
  });

  it('takes room secrets from its settings: the right one joins, a wrong one gets AUTH_FAILED', async () => {
    await expect(join('locked', 'intruder', 'guess')).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
    await expect(join('locked', 'intruder')).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    const member = await join('locked', 'member', SECRET);
    expect(member.bootstrapper).toBe(true);
  });

  it('drops a flood over the rate limit, with a notice per episode, not per message', async () => {
    const client = await raw('flood');
    await client.join('flood', 'f');
    for (let i = 0; i < 400; i++) client.send({ type: 'ping' });
    await client.next('error', (m) => m.code === 'RATE_LIMITED');
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The burst (200, less the hello's token) passes; then only what refills while the flood
    // arrives, and a new notice only after an accepted message ends an episode.
    const pongs = client.count('pong');
    const notices = client.received.filter((m) => m.type === 'error').length;
    expect(pongs).toBeGreaterThanOrEqual(199);
    expect(pongs).toBeLessThan(300);
    expect(notices).toBeGreaterThanOrEqual(1);
    expect(notices).toBeLessThanOrEqual(1 + pongs - 199);
  });

  if (kind === 'workerd') {
    it('refuses an upgrade whose URL names no room (it cannot be routed)', async () => {
      const socket = new WebSocket(host.url);
      const status = await new Promise<number>((resolve) => {
        socket.once('unexpected-response', (_request, response) =>
          resolve(response.statusCode ?? 0),
        );
        socket.once('open', () => resolve(101));
      });
      expect(status).toBe(400);
    });

    it('refuses a hello for another room than the one in the URL', async () => {
      const client = await raw('here');
      await client.next('challenge');
      client.send({ type: 'hello', room: 'elsewhere', memberId: 'm' });
      const error = await client.next('error');
      expect(error.code).toBe('BAD_MESSAGE');
      expect(error.message).toContain('here');
    });
  }

  it('closes a connection that never says hello with HELLO_TIMEOUT after about 10 s', async () => {
    const { client, openedAtMs } = silent.get(kind)!;
    const closed = await client.closed;
    expect(closed).toEqual({ code: 4000, reason: 'HELLO_TIMEOUT' });
    const elapsedMs = Date.now() - openedAtMs;
    expect(elapsedMs).toBeGreaterThanOrEqual(9_500);
    expect(elapsedMs).toBeLessThan(13_000);
  }, 20_000);
});

describe('the signaling server on workerd, restarted', () => {
  const clients: SignalingClient[] = [];
  const hosts: EdgeHost[] = [];
  const storageDir = mkdtempSync(joinPath(tmpdir(), 'webraft-rooms-'));

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const host of hosts) await host.stop();
    rmSync(storageDir, { recursive: true, force: true });
  });

  const start = async (): Promise<EdgeHost> => {
    const host = await startEdgeHost(
      'workerd',
      build!,
      { SIGNAL_BOOTSTRAP_GRACE_MS: '1500' },
      storageDir,
    );
    hosts.push(host);
    return host;
  };
  const join = async (host: EdgeHost, room: string, memberId: string) => {
    const client = await SignalingClient.connect({ url: host.url, room, memberId, WebSocket });
    clients.push(client);
    return client;
  };

  it('waits the grace in a room that had members, and not in a room that had none', async () => {
    const before = await start();
    expect((await join(before, 'kept', 'a')).bootstrapper).toBe(true);
    // The room's object writes that it has members on its next sweep (every second).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await before.stop();

    const after = await start();
    const startedAtMs = Date.now();
    const newcomer = await join(after, 'kept', 'b');
    expect(newcomer.bootstrapper).toBe(false);
    await new Promise<void>((resolve) => newcomer.on('bootstrap', resolve));
    expect(Date.now() - startedAtMs).toBeGreaterThanOrEqual(1_000);
    expect((await join(after, 'fresh', 'c')).bootstrapper).toBe(true);
  });
});
