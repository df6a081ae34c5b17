/**
 * The Node member in one process, over the real signaling server on 127.0.0.1 and WebRTC from
 * @roamhq/wrtc: members in this process form a cluster, a data directory brings its member back
 * with its data, and one directory is never run twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from '../../../src/client/connect.js';
import { startNodeMember } from '../../../src/node/member.js';
import { startSignalingServer } from '../../../src/signaling/node-server.js';
import { loadRTCPeerConnection, WebRtcUnavailableError } from '../../../src/node/webrtc.js';
import { StorageLockedError } from '../../../src/storage/errors.js';

let server: Awaited<ReturnType<typeof startSignalingServer>>;
let root: string;
let rooms = 0;
const running: Cluster[] = [];

beforeAll(async () => {
  server = await startSignalingServer({ port: 0, limits: { bootstrapGraceMs: 0 } });
  root = await mkdtemp(join(tmpdir(), 'webraft-node-member-'));
});
afterEach(async () => {
  for (const cluster of running.splice(0)) await cluster.close();
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

async function started(room: string, dataDir: string): Promise<Cluster> {
  const cluster = await startNodeMember({ room, signalingUrl: server.url, dataDir });
  running.push(cluster);
  return cluster;
}

async function eventually<T>(probe: () => Promise<T | null>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('startNodeMember', () => {
  it('three members in one process form one cluster of three voters and share writes', async () => {
    const room = `node-unit-${++rooms}`;
    const members: Cluster[] = [];
    for (const name of ['a', 'b', 'c']) members.push(await started(room, join(root, room, name)));
    await eventually(async () => {
      const all = await Promise.all(members.map((member) => member.status()));
      return all.some((s) => s.role === 'leader' && s.voters.length === 3) ? true : null;
    }, 'three voters');
    await members[0]!.kv.put('k', 'v');
    expect((await members[2]!.kv.get('k'))?.value).toBe('v');
  });

  it('comes back from its data directory as the same member, with its data', async () => {
    const room = `node-unit-${++rooms}`;
    const dataDir = join(root, room);
    const first = await started(room, dataDir);
    await first.kv.put('kept', 1);
    await first.close();
    const again = await started(room, dataDir);
    expect(again.id).toBe(first.id);
    expect((await again.kv.get('kept'))?.value).toBe(1);
    expect((await again.status()).storage).toMatchObject({ kind: 'file', directory: dataDir });
  });

  it('restarts itself from its data directory after a write it could not make durable', async () => {
    const room = `node-unit-${++rooms}`;
    const cluster = await started(room, join(root, room));
    await cluster.kv.put('before', 1);
    await cluster.setStorageFault('quota');
    await expect(cluster.kv.put('refused', 2)).rejects.toThrow();
    const restarted = await eventually(async () => {
      const status = await cluster.status();
      return status.restarts.count === 1 && status.failure === null ? status : null;
    }, 'the member to restart');
    expect(restarted.restarts.last).toMatchObject({ code: 'STORAGE_QUOTA', to: cluster.id });
    expect((await cluster.kv.get('before'))?.value).toBe(1);
  });

  it('refuses a data directory a running member holds: StorageLockedError', async () => {
    const room = `node-unit-${++rooms}`;
    const dataDir = join(root, room);
    await started(room, dataDir);
    await expect(
      startNodeMember({ room, signalingUrl: server.url, dataDir }),
    ).rejects.toBeInstanceOf(StorageLockedError);
  });
});

describe('WebRTC in Node', () => {
  it('comes from @roamhq/wrtc', () => {
    expect(typeof loadRTCPeerConnection()).toBe('function');
  });

  it('without it, a typed error says what to install', () => {
    const missing = (): never => {
      throw new Error("Cannot find module '@roamhq/wrtc'");
    };
    expect(() => loadRTCPeerConnection(missing)).toThrow(WebRtcUnavailableError);
    expect(() => loadRTCPeerConnection(missing)).toThrow(/npm install @roamhq\/wrtc/);
    expect(() => loadRTCPeerConnection(() => ({}))).toThrow(/has no RTCPeerConnection/);
  });
});
