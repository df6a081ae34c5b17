/**
 * The edge member plumbing of the signaling Durable Object, in real workerd with its storage on
 * disk and a stand-in member (edge-stand-in.ts): a room named by EDGE_ROOMS gets a member that
 * joins the room's signaling in process, ticks on the object's timers, takes raft sockets at
 * `/raft`, shows its status at `/edge` (only whether it runs, for a room with a secret); other
 * rooms get none; and after the process is stopped and started again the object's alarm starts
 * the member from storage, under the same id, before any request arrives.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bundleModule } from '../../../scripts/build-edge.js';
import type { EdgeBuild } from '../../../scripts/build-edge.js';
import { SignalingClient } from '../../../src/signaling/client.js';
import { startEdgeHost } from '../../e2e/edge-hosts.js';
import type { EdgeHost } from '../../e2e/edge-hosts.js';
import { waitFor } from '../../e2e/tabs.js';

const SECRET = 'open sesame';
const SETTINGS = {
  EDGE_ROOMS: 'board,locked',
  EDGE_ALARM_MS: '300',
  SIGNAL_BOOTSTRAP_GRACE_MS: '0',
  SIGNAL_ROOM_SECRETS: JSON.stringify({ locked: SECRET }),
};
let root = '';
let built: EdgeBuild;
let storageDir = '';

interface EdgeStatus {
  readonly running: boolean;
  readonly wokenBy: 'request' | 'alarm' | null;
  readonly endpoint: string | null;
  readonly member: {
    readonly memberId: string;
    readonly term: number;
    readonly ticks: number;
    readonly peers: readonly string[];
  } | null;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'webraft-edge-plumbing-'));
  await bundleModule('test/unit/signaling/edge-stand-in.ts', root, 'signaling-workerd');
  const workerdConfig = join(root, 'workerd.capnp');
  copyFileSync(
    fileURLToPath(new URL('../../../edge/workerd.capnp', import.meta.url)),
    workerdConfig,
  );
  built = { outDir: root, denoEntry: '', denoEdgeEntry: '', workerdConfig };
  storageDir = mkdtempSync(join(root, 'storage-'));
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function status(host: EdgeHost, room: string): Promise<EdgeStatus> {
  const response = await fetch(`${host.url.replace('ws:', 'http:')}/edge?room=${room}`);
  return (await response.json()) as EdgeStatus;
}

async function joinRoom(
  host: EdgeHost,
  room: string,
  memberId: string,
  secret?: string,
): Promise<SignalingClient> {
  return SignalingClient.connect({
    url: host.url,
    room,
    memberId,
    WebSocket,
    ...(secret === undefined ? {} : { secret }),
  });
}

describe('the edge member of a room on workerd', () => {
  it('joins its room in process, ticks, takes raft sockets, and comes back by alarm after a restart', async () => {
    let host = await startEdgeHost('workerd', built, SETTINGS, storageDir);
    let tab: SignalingClient | null = null;
    try {
      tab = await joinRoom(host, 'board', 'tab-a');
      const edgeId = await waitFor(
        async () => tab!.peers().find((peer) => peer.startsWith('e-')) ?? null,
        'the edge member in the room',
        10_000,
      );
      const first = await waitFor(
        async () => {
          const seen = await status(host, 'board');
          return (seen.member?.ticks ?? 0) >= 5 ? seen : null;
        },
        'the edge member to tick',
        10_000,
      );
      expect(first).toMatchObject({ running: true, wokenBy: 'request' });
      expect(first.member).toMatchObject({ memberId: edgeId, term: 1 });
      expect(first.member?.peers).toContain('tab-a');
      expect(first.endpoint).toBe(`${host.url}/raft?room=board`);

      const raft = new WebSocket(first.endpoint!);
      const echoed = new Promise<string>((resolve, reject) => {
        raft.once('message', (data) => resolve(data.toString()));
        raft.once('error', reject);
      });
      raft.once('open', () => raft.send('ping'));
      expect(await echoed).toBe('echo:ping');
      raft.terminate();

      expect(await status(host, 'elsewhere')).toMatchObject({ running: false, member: null });

      // A room with a secret runs its member (which proved the secret to join), and shows anyone
      // asking only that it runs.
      const locked = await joinRoom(host, 'locked', 'tab-l', SECRET);
      await waitFor(
        async () => locked.peers().find((peer) => peer.startsWith('e-')) ?? null,
        'the edge member in the locked room',
        10_000,
      );
      expect(await status(host, 'locked')).toEqual({ room: 'locked', running: true, member: null });
      locked.close();

      tab.close();
      tab = null;
      await host.stop();
      host = await startEdgeHost('workerd', built, SETTINGS, storageDir);
      // No request reaches the room's object until the alarm has started its member.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const after = await status(host, 'board');
      expect(after).toMatchObject({ running: true, wokenBy: 'alarm' });
      expect(after.member).toMatchObject({ memberId: edgeId, term: 2 });
    } finally {
      tab?.close();
      await host.stop();
    }
  }, 90_000);
});
