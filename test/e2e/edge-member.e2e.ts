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
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../../src/client/connect.js';
import type { JsonValue } from '../../src/state/kv-types.js';
import { startSignalingServer } from '../../src/signaling/node-server.js';
import { TestCluster } from '../../src/testing/cluster.js';
import type { TestTab } from '../../src/testing/cluster.js';
import { spawnCli } from './cli-process.js';

const cleanups: (() => Promise<void> | void)[] = [];
/** The room's secret: every raft socket proves it, in the tabs' workers and on the edge member. */
const SECRET = 'edge e2e secret';

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What `webraft edge --json` prints, as far as this test reads it. */
interface EdgeLine {
  readonly id: string;
  readonly role: string;
  readonly commit: number;
  readonly applied: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

/** `webraft edge` as a child process, on any free port. */
function spawnEdge(room: string, signalingUrl: string, dataDir: string) {
  const args = ['--room', room, '--signal', signalingUrl, '--data-dir', dataDir, '--port', '0'];
  return spawnCli<EdgeLine>(['edge', ...args, '--secret', SECRET, '--json'], cleanups);
}

type Edge = ReturnType<typeof spawnEdge>;

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

/** Waits until the edge member's printed status passes `check`. */
function edgeSays(cluster: TestCluster, edge: Edge, what: string, check: (s: EdgeLine) => boolean) {
  return cluster
    .waitFor(what, async () => {
      const line = edge.latest();
      return line !== null && check(line) ? line : null;
    })
    .catch((error: unknown) => {
      throw new Error(`${String(error)}\nedge output:\n${edge.output().slice(-3000)}`);
    });
}

/**
 * Waits until the tabs see one leader (a tab or the edge member) of `voters` voters with every
 * tab a member (TestCluster.waitForLeader looks for a tab that leads).
 */
function settled(cluster: TestCluster, voters: number) {
  return cluster.waitFor(`${voters} voters and a leader`, async () => {
    const statuses = await Promise.all(cluster.tabs.map((tab) => tab.status()));
    const [one] = statuses;
    if (one === undefined || one.leaderId === null || one.voters.length !== voters) return null;
    const members = new Set([...one.voters, ...one.learners]);
    const agree = statuses.every(
      (s) => s.leaderId === one.leaderId && s.commitIndex > 0 && members.has(s.id),
    );
    return agree ? one : null;
  });
}

/** Closes the tabs one at a time, each gone from the membership before the next. */
async function closeOneByOne(cluster: TestCluster, edge: Edge, edgeId: string): Promise<void> {
  for (const tab of [...cluster.tabs]) {
    const id = await tab.memberId();
    await cluster.closeTab(tab);
    // And the voters odd again: with two left, the tab's vote goes before the edge member's.
    await edgeSays(
      cluster,
      edge,
      `${id} out of the membership`,
      (s) => ![...s.voters, ...s.learners].includes(id) && s.voters.length % 2 === 1,
    );
  }
  await edgeSays(
    cluster,
    edge,
    'the edge member leading alone',
    (s) => s.role === 'leader' && s.voters.length === 1 && s.voters[0] === edgeId,
  );
}

/** Keys and values written by `tab` until `stop()`; acknowledged ones in `acked`. */
function writeLoad(tab: TestTab, prefix: string, acked: Map<string, JsonValue>) {
  let stopped = false;
  let count = 0;
  const running = (async () => {
    while (!stopped) {
      const key = `${prefix}-${count++}`;
      try {
        await tab.kv.put(key, key);
        acked.set(key, key);
      } catch {
        // Not acknowledged (a timeout during the failover): it may or may not be there.
      }
    }
  })();
  return async () => {
    stopped = true;
    await running;
  };
}

describe('an edge member with two tabs', () => {
  it('keeps the room alive with every tab closed, and loses no acknowledged write when killed', async () => {
    const { room, signalingUrl, dataDir } = await startRoom();
    let edge = spawnEdge(room, signalingUrl, dataDir);
    const first = await browser(room, signalingUrl);
    const edgeId = (await edgeSays(first, edge, 'the edge member', () => true)).id;
    expect(edgeId).toMatch(/^e-/);

    const tabs = await first.open(2);
    await settled(first, 3);
    const status = await tabs[0]!.status();
    expect(status.voters).toContain(edgeId);
    expect(status.peers).toContainEqual({ id: edgeId, state: 'open', kind: 'edge' });

    await tabs[0]!.kv.put('from-tab', 'hello edge');
    const { commitIndex } = await tabs[0]!.status();
    await edgeSays(
      first,
      edge,
      'the edge member to apply the write',
      (s) => s.applied >= commitIndex,
    );

    await closeOneByOne(first, edge, edgeId);
    const second = await browser(room, signalingUrl);
    const [fresh] = await second.open(1);
    // Not through the recorded `kv`: the write is in the first browser's history.
    const read = await fresh!.page.evaluate(() =>
      (window as unknown as { webraft: Cluster }).webraft.kv.get('from-tab'),
    );
    expect(read?.value).toBe('hello edge');

    // Two voters besides the edge member, so the cluster keeps a quorum while it is down.
    await second.open(1);
    await settled(second, 3);
    const acked = new Map<string, JsonValue>();
    const stops = second.tabs.map((tab, i) => writeLoad(tab, `w${i}`, acked));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const beforeKill = acked.size;
    await edge.kill();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    edge = spawnEdge(room, signalingUrl, dataDir);
    const back = await edgeSays(second, edge, 'the edge member back', () => true);
    expect(back.id).toBe(edgeId);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (const stop of stops) await stop();
    expect(beforeKill).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(beforeKill);

    const { commitIndex: written } = await settled(second, 3);
    await edgeSays(second, edge, 'the edge member caught up', (s) => s.applied >= written);
    await second.expectConverged();
    second.expectLinearizable();

    // Every acknowledged write on the edge member alone, read by a tab of a third profile.
    await closeOneByOne(second, edge, edgeId);
    const third = await browser(room, signalingUrl);
    const [reader] = await third.open(1);
    const missing = await third.waitFor('every acknowledged write on the new tab', async () => {
      const entries = await reader!.page.evaluate(() =>
        (
          window as unknown as { webraft: { kv: { entries(): Promise<{ key: string }[]> } } }
        ).webraft.kv.entries(),
      );
      const keys = new Set(entries.map((entry) => entry.key));
      const absent = [...acked.keys()].filter((key) => !keys.has(key));
      return absent.length === 0 ? absent : null;
    });
    expect(missing).toEqual([]);
    console.log(
      `edge member e2e: ${acked.size} acknowledged writes (${beforeKill} before the SIGKILL), ` +
        'all on the edge member after its restart',
    );
  });
});
