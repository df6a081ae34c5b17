/**
 * The Deno edge host (src/edge/deno.ts) as a process, no browser: `deno run` of the bundle with
 * a room that has a secret. Its edge member starts with the process and joins its room in-process
 * with the secret; an edge member on Node with the same secret joins through the Deno host's
 * signaling, links to it over a raft WebSocket and writes through it; one with a wrong secret is
 * refused. SIGTERM stops the member without leaving the room and releases its directory's lock,
 * and started again the member is the same one, with the write. Under `EDGE_ROOMS=*` a room's
 * first socket starts its member, a request that only names a room does not, and rooms beyond
 * EDGE_ROOMS_MAX get none.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { WebSocket } from 'ws';
import { startNodeEdgeMember } from '../../../src/edge/node.js';
import type { EdgeMember } from '../../../src/edge/member.js';
import type { EdgeBuild } from '../../../scripts/build-edge.js';
import { buildEdgeForTest, startEdgeHost } from '../../e2e/edge-hosts.js';
import type { EdgeHost } from '../../e2e/edge-hosts.js';
import { waitFor } from '../../e2e/tabs.js';

const ROOM = 'deno-edge-room';
const SECRET = 'deno edge secret';
const SETTINGS = {
  EDGE_ROOMS: ROOM,
  SIGNAL_ROOM_SECRETS: JSON.stringify({ [ROOM]: SECRET }),
  SIGNAL_BOOTSTRAP_GRACE_MS: '0',
};

let built: EdgeBuild & { remove(): void };
let root = '';
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  built = await buildEdgeForTest();
  root = mkdtempSync(join(tmpdir(), 'webraft-deno-edge-'));
}, 60_000);
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => {
  built.remove();
  rmSync(root, { recursive: true, force: true });
});

async function denoHost(
  dataDir: string,
  settings: Readonly<Record<string, string>> = SETTINGS,
): Promise<EdgeHost> {
  const host = await startEdgeHost('deno-edge', built, settings, dataDir);
  cleanups.push(() => host.stop('SIGKILL'));
  onTestFailed(() => console.error(`the Deno host printed:\n${host.output().slice(-4000)}`));
  return host;
}

async function nodeEdge(host: EdgeHost, secret: string): Promise<EdgeMember> {
  const member = await startNodeEdgeMember({
    room: ROOM,
    signalingUrl: host.url,
    dataDir: mkdtempSync(join(root, 'node-edge-')),
    port: 0,
    secret,
    voter: false,
  });
  cleanups.push(() => member.close({ leave: false }));
  return member;
}

/** What GET /edge answers for `room`. */
async function edgeStatus(
  host: EdgeHost,
  room: string,
): Promise<{ running: boolean; member: unknown }> {
  const response = await fetch(`${host.url.replace('ws:', 'http:')}/edge?room=${room}`);
  return (await response.json()) as { running: boolean; member: unknown };
}

/** What GET /edge answers for a room with a secret: whether the member runs, nothing more. */
async function edgeRuns(host: EdgeHost): Promise<boolean> {
  const status = await edgeStatus(host, ROOM);
  expect(status.member).toBeNull();
  return status.running;
}

/** Opens a signaling socket to `room` and keeps it open until the test ends. */
async function signalingSocket(host: EdgeHost, room: string): Promise<void> {
  const socket = new WebSocket(`${host.url}/?room=${room}`);
  cleanups.push(() => socket.terminate());
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
}

describe('the edge member on Deno', () => {
  it('joins its secret room in-process, takes a member with the secret, refuses a wrong one, and comes back as itself', async () => {
    const dataDir = mkdtempSync(join(root, 'deno-data-'));
    let host = await denoHost(dataDir);
    await waitFor(async () => ((await edgeRuns(host)) ? true : null), 'the Deno member running');

    const member = await nodeEdge(host, SECRET);
    const linked = await waitFor(async () => {
      const status = await member.status();
      const leader = status.leaderId;
      return leader?.startsWith('e-') === true &&
        leader !== member.id &&
        status.learners.includes(member.id) &&
        status.peers.some((peer) => peer.id === leader && peer.state === 'open')
        ? leader
        : null;
    }, 'the Node edge member a learner, linked to the Deno member as its leader');
    await member.kv.put('through', 'deno');
    expect((await member.kv.get('through'))?.value).toBe('deno');

    await expect(nodeEdge(host, 'not the secret')).rejects.toThrow(/AUTH_FAILED/);

    await member.close({ leave: false });
    await host.stop('SIGTERM');
    expect(host.output()).toMatch(/edge members \(Deno\): stopped deno-edge-room/);
    expect(existsSync(join(dataDir, `${ROOM}-edge`, 'LOCK'))).toBe(false);

    host = await denoHost(dataDir);
    const again = await nodeEdge(host, SECRET);
    const read = await waitFor(async () => {
      const status = await again.status();
      if (status.leaderId !== linked) return null;
      return again.kv.get('through');
    }, 'the same Deno member leading again, with the write');
    expect(read?.value).toBe('deno');
  }, 90_000);

  it('under `*`, starts a member for a room on its first socket, for at most EDGE_ROOMS_MAX rooms', async () => {
    const host = await denoHost(mkdtempSync(join(root, 'deno-star-')), {
      EDGE_ROOMS: '*',
      EDGE_ROOMS_MAX: '1',
      SIGNAL_BOOTSTRAP_GRACE_MS: '0',
    });
    // Asking, or a plain request naming a room, makes no member.
    await fetch(`${host.url.replace('ws:', 'http:')}/?room=asked`);
    expect((await edgeStatus(host, 'asked')).running).toBe(false);

    await signalingSocket(host, 'first');
    await waitFor(
      async () => ((await edgeStatus(host, 'first')).running ? true : null),
      'the member of the first room',
    );
    await signalingSocket(host, 'second');
    await waitFor(
      async () => (host.output().includes('more rooms get none') ? true : null),
      'the limit logged',
    );
    expect((await edgeStatus(host, 'second')).running).toBe(false);
    expect((await edgeStatus(host, 'asked')).running).toBe(false);
  }, 60_000);
});
