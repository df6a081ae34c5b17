/**
 * RoomLink against the real Node signaling server on 127.0.0.1 (port 0, `ws` as WebSocket): who
 * the server names bootstrapper, also across a restart of the server (issue 8), and joining while
 * the server is down. Every server and link is closed after each test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RoomLink } from '../../../src/client/room-link.js';
import type { RoomLinkEvents, RoomLinkOptions } from '../../../src/client/room-link.js';
import { startSignalingServer } from '../../../src/signaling/node-server.js';
import type { SignalingServer } from '../../../src/signaling/node-server.js';

const STEP_TIMEOUT_MS = 5_000;
const servers: SignalingServer[] = [];
const links: RoomLink[] = [];

afterEach(async () => {
  for (const link of links.splice(0)) link.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(bootstrapGraceMs: number, port = 0): Promise<SignalingServer> {
  const server = await startSignalingServer({ port, limits: { bootstrapGraceMs } });
  servers.push(server);
  return server;
}

async function stop(server: SignalingServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

type Opener = (options: RoomLinkOptions) => Promise<RoomLink>;

async function open(
  server: SignalingServer | string,
  memberId: string,
  extra: Partial<RoomLinkOptions> = {},
  opener: Opener = (options) => RoomLink.open(options),
): Promise<RoomLink> {
  const link = await opener({
    url: typeof server === 'string' ? server : server.url,
    room: 'board',
    memberId,
    WebSocket,
    retryDelayMs: { min: 50, max: 100 },
    ...extra,
  });
  links.push(link);
  return link;
}

/** Resolves on the next `event` of `link`; rejects after STEP_TIMEOUT_MS. */
function next(link: RoomLink, event: keyof RoomLinkEvents): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event`)), STEP_TIMEOUT_MS);
    const off = link.on(event, () => {
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Counts `bootstrap` events of `link` from now on. */
function countBootstraps(link: RoomLink): { count: number } {
  const seen = { count: 0 };
  link.on('bootstrap', () => seen.count++);
  return seen;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RoomLink and the bootstrapper', () => {
  it('is named in its first welcome by a server past its grace, with no event', async () => {
    const server = await start(0);
    const a = await open(server, 'a');
    const b = await open(server, 'b');
    expect([a.bootstrapper, b.bootstrapper]).toEqual([true, false]);
  });

  it('is named later, with a bootstrap event, by a server in its start grace', async () => {
    const server = await start(300);
    const a = await open(server, 'a');
    const b = await open(server, 'b');
    const bEvents = countBootstraps(b);
    expect(a.bootstrapper).toBe(false);
    await next(a, 'bootstrap');
    expect([a.bootstrapper, b.bootstrapper, bEvents.count]).toEqual([true, false, 0]);
  });

  it('is never named when it says hasLog', async () => {
    const server = await start(0);
    const a = await open(server, 'a', { hasLog: true });
    const b = await open(server, 'b', { hasLog: () => false });
    expect([a.bootstrapper, b.bootstrapper]).toEqual([false, false]);
  });

  /**
   * Restarts `server` with a grace, lets a new tab join first, waits for `old` to reconnect and
   * for the grace to end; returns the new tab.
   */
  async function restartWithNewcomerFirst(server: SignalingServer, old: RoomLink[]) {
    await stop(server);
    const after = await start(600, server.port);
    const newcomer = await open(after, 'newcomer');
    await Promise.all(old.map((link) => next(link, 'reconnected')));
    await sleep(900); // past the grace: the server decided
    expect(newcomer.peers().sort()).toEqual(old.map((link) => link.memberId).sort());
    return { after, newcomer };
  }

  it('says hasLog on reconnect once named, so a restarted server names no new tab', async () => {
    const before = await start(0);
    const founder = await open(before, 'founder');
    expect(founder.bootstrapper).toBe(true);
    const founderEvents = countBootstraps(founder);
    const { after, newcomer } = await restartWithNewcomerFirst(before, [founder]);
    expect([newcomer.bootstrapper, founder.bootstrapper]).toEqual([false, true]);
    expect(founderEvents.count).toBe(0);
    expect(after.stats().bootstrappersNamed).toBe(0);
  });

  it('asks hasLog again on every reconnect (a tab that joined a cluster since)', async () => {
    const before = await start(0);
    const founder = await open(before, 'founder');
    let followerHasLog = false;
    const follower = await open(before, 'follower', { hasLog: () => followerHasLog });
    founder.close(); // the follower alone carries the cluster through the restart
    followerHasLog = true; // it caught up with the founder's cluster
    const followerEvents = countBootstraps(follower);
    const { after, newcomer } = await restartWithNewcomerFirst(before, [follower]);
    expect([newcomer.bootstrapper, follower.bootstrapper, followerEvents.count]).toEqual([
      false,
      false,
      0,
    ]);
    expect(after.stats().bootstrappersNamed).toBe(0);
  });

  it('lets a restarted server name the new tab when no old member comes back', async () => {
    const before = await start(0);
    await stop(before);
    const after = await start(300, before.port);
    const newcomer = await open(after, 'newcomer');
    await next(newcomer, 'bootstrap');
    expect(newcomer.bootstrapper).toBe(true);
  });

  it('joins while the server is down and is named once it comes up', async () => {
    const probe = await start(0);
    const url = probe.url;
    const port = probe.port;
    await stop(probe);
    const a = await open(url, 'a', {}, (options) => RoomLink.join(options));
    expect([a.connected, a.bootstrapper]).toEqual([false, false]);
    const reconnected = next(a, 'reconnected');
    const named = next(a, 'bootstrap');
    await start(0, port);
    await Promise.all([reconnected, named]);
    expect([a.connected, a.bootstrapper]).toEqual([true, true]);
  });

  it('refuses to join with a wrong secret rather than retrying', async () => {
    const server = await startSignalingServer({ port: 0, secrets: { board: 'hunter2' } });
    servers.push(server);
    const attempt = open(server, 'a', { secret: 'guess' }, (options) => RoomLink.join(options));
    await expect(attempt).rejects.toMatchObject({ code: 'AUTH_FAILED' });
  });
});
