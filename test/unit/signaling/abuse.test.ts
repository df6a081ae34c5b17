/**
 * The Node signaling server under abuse (issue 10), on loopback, bounded in count and time:
 * 10,000 malformed messages, 100 oversized ones and 50 of an unknown version from raw sockets,
 * then 500 connections opened
 * and dropped at once. Every bad message is answered or counted, the server keeps serving a
 * legitimate room throughout, its tables go back to the legitimate members alone, and its memory
 * returns to where it was.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignalingClient } from '../../../src/signaling/client.js';
import { startSignalingServer } from '../../../src/signaling/node-server.js';
import type { SignalingServer } from '../../../src/signaling/node-server.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let server: SignalingServer | null = null;
const clients: SignalingClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server?.close();
  server = null;
});

const join = async (url: string, memberId: string) => {
  const client = await SignalingClient.connect({ url, room: 'board', memberId, WebSocket });
  clients.push(client);
  return client;
};

/** Malformed messages of every kind the decoder names, and some it does not expect at all. */
const MALFORMED: readonly (string | Buffer)[] = [
  'not json',
  '[]',
  '42',
  '{"v":1}',
  '{"v":1,"type":"nonsense"}',
  '{"v":1,"type":"hello","room":"bad room!","memberId":"x"}',
  '{"v":1,"type":"hello","room":"board","memberId":""}',
  '{"v":1,"type":"signal","to":"alice","payload":{"x":1}}', // signal before hello
  `{"v":1,"type":"signal","to":"alice","payload":${'['.repeat(64)}${']'.repeat(64)}}`,
  `{"v":1,"type":"hello","room":"board","memberId":"${'m'.repeat(5000)}"}`,
  Buffer.from([0, 1, 2, 3, 255]),
];

function open(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function heapUsed(): number {
  for (let i = 0; i < 3; i++) collectGarbage();
  return process.memoryUsage().heapUsed;
}

describe('the signaling server under abuse', () => {
  it('counts 10,000 malformed and 100 oversized messages, survives 500 dropped connections, and keeps serving a room', async () => {
    server = await startSignalingServer({ port: 0, limits: { bootstrapGraceMs: 0 } });
    const { url } = server;
    const alice = await join(url, 'alice');
    const bob = await join(url, 'bob');
    const signals: unknown[] = [];
    bob.on('signal', (_from, payload) => signals.push(payload));
    // A warm-up round, so the baseline already holds what any first use allocates.
    for (const socket of await Promise.all(Array.from({ length: 20 }, () => open(url))))
      socket.terminate();
    await until(() => server!.stats().connections === 2, 'the warm-up to close');
    const baseline = heapUsed();
    const received = server.stats().messagesReceived;

    // 10,000 malformed messages: 50 sockets, 200 each (a burst, under the rate limit).
    const sockets = await Promise.all(Array.from({ length: 50 }, () => open(url)));
    for (const socket of sockets) {
      for (let i = 0; i < 200; i++) socket.send(MALFORMED[i % MALFORMED.length]!);
    }
    await until(
      () => server!.stats().messagesReceived - received >= 10_000,
      '10,000 malformed messages to be read',
    );
    alice.signal('bob', { during: 'malformed' });
    // 100 oversized messages, each on its own socket: the WebSocket layer closes it (1009).
    const oversized = await Promise.all(Array.from({ length: 100 }, () => open(url)));
    const closeCodes = await Promise.all(
      oversized.map((socket) => {
        const closed = new Promise<number>((resolve) => socket.once('close', resolve));
        socket.send('x'.repeat(server!.limits.messageBytesMax + 1));
        return closed;
      }),
    );
    expect(new Set(closeCodes)).toEqual(new Set([1009]));
    // And 50 of a protocol version this server does not speak: refused and closed (4000).
    const versions = await Promise.all(Array.from({ length: 50 }, () => open(url)));
    const versionCloses = await Promise.all(
      versions.map((socket) => {
        const closed = new Promise<number>((resolve) => socket.once('close', resolve));
        socket.send('{"v":2,"type":"hello","room":"board","memberId":"x"}');
        return closed;
      }),
    );
    expect(new Set(versionCloses)).toEqual(new Set([4000]));
    for (const socket of sockets) socket.terminate();

    // 500 connections opened and dropped at once, in waves of 100: some say nothing, some send
    // half a hello, some are cut before their challenge is read.
    for (let wave = 0; wave < 5; wave++) {
      const opened = await Promise.all(Array.from({ length: 100 }, () => open(url)));
      opened.forEach((socket, i) => {
        if (i % 3 === 1) socket.send('{"v":1,"type":"hello","room":"board"');
        socket.terminate();
      });
    }
    alice.signal('bob', { during: 'connection churn' });

    // The room still works: signals flow, and a newcomer joins and is announced.
    const joined = new Promise((resolve) => alice.on('peer-joined', resolve));
    await join(url, 'carol');
    expect(await joined).toBe('carol');
    await until(() => signals.length === 2, 'both signals');
    expect(signals).toEqual([{ during: 'malformed' }, { during: 'connection churn' }]);

    const stats = server.stats();
    const malformed = Object.values(stats.malformed).reduce((a, b) => a + b, 0);
    expect(malformed + stats.refused.NOT_JOINED).toBeGreaterThanOrEqual(9_000);
    expect(stats.malformed.notJson).toBeGreaterThan(0);
    expect(stats.malformed.notText).toBeGreaterThan(0);
    expect(stats.refused.UNSUPPORTED_VERSION).toBe(50);
    expect(stats.internalErrors).toBe(0);
    await until(() => server!.stats().connections === 3, 'only the three members to remain');
    expect(server.stats()).toMatchObject({ rooms: 1, members: 3, handshakes: 0 });
    // Memory is back where it was (within what the test's own bookkeeping may hold).
    const grown = heapUsed() - baseline;
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  }, 60_000);
});
