/**
 * An edge member in a room of tabs (issue 13): a `webraft edge` process (the CLI: FileStorage, a
 * ws server for raft sockets, no WebRTC) and two Chromium tabs form one cluster with the edge
 * member a voter, the tabs reaching it over raft WebSockets (the room has a secret, so each socket
 * is authenticated in the tab's worker and on the edge member). A tab's write is applied on the edge
 * member; with both tabs closed (one after the other, so the autopilot hands the vote to the edge
 * member) a tab of a fresh browser profile finds the state, served by the edge member alone.
 * Then, under a write load from two tabs, the edge process is killed with SIGKILL and started
 * again from its data directory: it comes back as the same member, and every acknowledged write
 * is there — on the tabs, and on the edge member, read by a third fresh profile once the tabs
 * are gone again. The history is linearizable throughout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { startSignalingServer } from '../../src/signaling/node-server.js';
import { TestCluster } from '../../src/testing/cluster.js';
import { spawnCli } from './cli-process.js';
import {
  closeOneByOne,
  everyWriteOnTheEdgeAlone,
  formWithTwoTabs,
  killUnderLoad,
  readUnrecorded,
} from './edge-room.js';
import type { EdgeStatusSource, EdgeView } from './edge-room.js';

const cleanups: (() => Promise<void> | void)[] = [];
/** The room's secret: every raft socket proves it, in the tabs' workers and on the edge member. */
const SECRET = 'edge e2e secret';

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `webraft edge` as a child process, on any free port; its `--json` lines are EdgeViews. */
function spawnEdge(room: string, signalingUrl: string, dataDir: string) {
  const args = ['--room', room, '--signal', signalingUrl, '--data-dir', dataDir, '--port', '0'];
  return spawnCli<EdgeView>(['edge', ...args, '--secret', SECRET, '--json'], cleanups);
}

async function startRoom() {
  const signaling = await startSignalingServer({ port: 0, limits: { bootstrapGraceMs: 0 } });
  cleanups.push(() => signaling.close());
  const room = `edge${Date.now() % 100_000}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'webraft-edge-e2e-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  return { room, signalingUrl: signaling.url, dataDir };
}

/** A browser on a fresh profile, on the room. */
async function browser(room: string, signalingUrl: string): Promise<TestCluster> {
  const cluster = await TestCluster.start({
    room,
    signalingUrl,
    secret: SECRET,
    timeoutMs: 45_000,
  });
  cleanups.push(() => cluster.close());
  return cluster;
}

describe('an edge member with two tabs', () => {
  it('keeps the room alive with every tab closed, and loses no acknowledged write when killed', async () => {
    const { room, signalingUrl, dataDir } = await startRoom();
    let edge = spawnEdge(room, signalingUrl, dataDir);
    // The edge member's status as its process last printed it.
    const printed: EdgeStatusSource = async () => edge.latest();
    onTestFailed(() => console.error(`edge member output:\n${edge.output().slice(-4000)}`));
    const first = await browser(room, signalingUrl);
    const { edgeId } = await formWithTwoTabs(first, printed);

    await closeOneByOne(first, printed, edgeId);
    const second = await browser(room, signalingUrl);
    const [fresh] = await second.open(1);
    // Not through the recorded `kv`: the write is in the first browser's history.
    expect(await readUnrecorded(fresh!, 'from-tab')).toBe('hello edge');

    // Two voters besides the edge member, so the cluster keeps a quorum while it is down.
    await second.open(1);
    const killed = await killUnderLoad(second, printed, edgeId, {
      kill: () => edge.kill(),
      restart: async () => {
        edge = spawnEdge(room, signalingUrl, dataDir);
      },
    });
    const { acked, beforeKill } = killed;
    expect(beforeKill).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(beforeKill);

    // Every acknowledged write on the edge member alone, read by a tab of a third profile.
    const missing = await everyWriteOnTheEdgeAlone(second, printed, edgeId, killed, () =>
      browser(room, signalingUrl),
    );
    expect(missing).toEqual([]);
    console.log(
      `edge member e2e: ${acked.size} acknowledged writes (${beforeKill} before the SIGKILL), ` +
        'all on the edge member after its restart',
    );
  });
});
