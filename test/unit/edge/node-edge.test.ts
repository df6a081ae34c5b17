/**
 * The edge member on Node (issue 13) against a real signaling server on loopback, no browser:
 * alone in a new room it is named bootstrapper and starts the cluster; a second edge member is
 * dialed over a raft WebSocket (the smaller id dials) and replicates; the room hears each one's
 * endpoint and voter wish; started again from its data directory an edge member is the same `e-`
 * member; and none of it loads the WebRTC package. A Node member in the room dials the edge
 * member over a raft WebSocket too, and writes through it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startNodeEdgeMember } from '../../../src/edge/node.js';
import { startNodeMember } from '../../../src/node/member.js';
import type { EdgeMember } from '../../../src/edge/member.js';
import { startSignalingServer } from '../../../src/signaling/node-server.js';
import type { SignalingServer } from '../../../src/signaling/node-server.js';
import { waitFor } from '../../e2e/tabs.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'webraft-edge-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function signaling(): Promise<SignalingServer> {
  const server = await startSignalingServer({ port: 0, limits: { bootstrapGraceMs: 0 } });
  cleanups.push(() => server.close());
  return server;
}

async function edge(server: SignalingServer, dir: string, voter = true): Promise<EdgeMember> {
  const member = await startNodeEdgeMember({
    room: 'edge-room',
    signalingUrl: server.url,
    dataDir: dir,
    port: 0,
    secret: 'edge secret',
    voter,
  });
  cleanups.push(() => member.close());
  return member;
}

describe('an edge member on Node', () => {
  it('starts the room, is dialed by a second edge member, and comes back from its data directory', async () => {
    const server = await signaling();
    const firstDir = dataDir();
    const first = await edge(server, firstDir);
    expect(first.id).toMatch(/^e-[0-9a-f]{12}$/);
    expect(first.endpoint).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/raft$/);
    await waitFor(async () => ((await first.status()).role === 'leader' ? true : null), 'a leader');
    await first.kv.put('at', 'the edge');

    const second = await edge(server, dataDir(), false);
    const status = await waitFor(async () => {
      const s = await first.status();
      return s.learners.includes(second.id) ? s : null;
    }, 'the second edge member as a learner');
    expect(status.peers).toContainEqual({ id: second.id, state: 'open', kind: 'edge' });
    expect(status.voterPreferences.neverVote).toEqual([second.id]);
    await waitFor(async () => {
      const read = await second.kv.get('at', { consistency: 'local' });
      return read?.value === 'the edge' ? read : null;
    }, 'the write on the second edge member');

    const id = first.id;
    await first.close({ leave: false });
    await second.close({ leave: false });
    const again = await edge(server, firstDir);
    expect(again.id).toBe(id);
    // Alone again, with one voter (itself): it leads and has its data.
    await waitFor(async () => ((await again.status()).role === 'leader' ? true : null), 'a leader');
    expect((await again.kv.get('at'))?.value).toBe('the edge');

    // Checked here, before the next test's Node member loads it into this process.
    const require = createRequire(import.meta.url);
    expect(Object.keys(require.cache).filter((path) => path.includes('wrtc'))).toEqual([]);
  });

  it('a Node member dials it over a raft WebSocket, not WebRTC, and replicates through it', async () => {
    const server = await signaling();
    const edgeMember = await edge(server, dataDir());
    await waitFor(
      async () => ((await edgeMember.status()).role === 'leader' ? true : null),
      'a leader',
    );
    const node = await startNodeMember({
      room: 'edge-room',
      signalingUrl: server.url,
      dataDir: dataDir(),
      secret: 'edge secret',
    });
    cleanups.push(() => node.close());
    const status = await waitFor(async () => {
      const s = await node.status();
      return s.peers.some((peer) => peer.id === edgeMember.id && peer.state === 'open') &&
        s.learners.includes(node.id)
        ? s
        : null;
    }, 'the Node member linked to the edge member and in the cluster');
    expect(status.peers).toEqual([{ id: edgeMember.id, state: 'open', kind: 'edge' }]);
    await node.kv.put('from', 'node');
    expect((await edgeMember.kv.get('from'))?.value).toBe('node');
    expect((await edgeMember.status()).socketRefusals).toEqual({});

    // A dialer with no valid handshake is refused and counted in status, and harms nothing.
    const hostile = new WebSocket(edgeMember.endpoint);
    cleanups.push(() => hostile.terminate());
    await new Promise((resolve, reject) => hostile.once('open', resolve).once('error', reject));
    hostile.send('{not a handshake');
    const refused = await waitFor(async () => {
      const s = await edgeMember.status();
      return s.socketRefusals.badHandshake === undefined ? null : s;
    }, 'the refusal in status');
    expect(refused.socketRefusals).toEqual({ badHandshake: 1 });
    await node.kv.put('after', 'the refusal');
    expect((await edgeMember.kv.get('after'))?.value).toBe('the refusal');
  });
});
