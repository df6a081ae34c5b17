/**
 * An edge member on workerd and on Deno (issue 13). On workerd one process serves the room's
 * signaling and, in the same Durable Object, the room's edge member, its log in the object's
 * storage on disk; on Deno one `deno run` process serves signaling and the room's edge member
 * beside it, its log in files (src/edge/deno.ts). The same test runs on both. With
 * two Chromium tabs it forms one cluster, the edge member a voter the tabs reach over raft
 * WebSockets. With both tabs closed (one after the other, so the autopilot hands the vote to the
 * edge member) a tab of a fresh browser profile finds the state, served by the edge member alone.
 * Then, under a write load from two tabs, the host process is killed with SIGKILL — signaling
 * and edge member at once — and started again on the same storage: the tabs keep a quorum over
 * WebRTC meanwhile, the edge member comes back as the same member, and every acknowledged write
 * is there, on the tabs and on the edge member, read by a third fresh profile once the tabs are
 * gone again. It prints the commit latency a tab sees with the edge member against three tabs.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/client/connect.js';
import { TestCluster } from '../../src/testing/cluster.js';
import type { TestTab } from '../../src/testing/cluster.js';
import { buildEdgeForTest, freePort, startEdgeHost } from './edge-hosts.js';
import type { EdgeHost, EdgeHostKind } from './edge-hosts.js';
import {
  closeOneByOne,
  everyWriteOnTheEdgeAlone,
  formWithTwoTabs,
  killUnderLoad,
  readUnrecorded,
  settled,
} from './edge-room.js';
import type { EdgeStatusSource, EdgeView } from './edge-room.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What GET /edge?room= answers, as far as this test reads it: the member's own status. */
interface EdgeStatus {
  readonly running: boolean;
  readonly member: Pick<
    ClusterStatus,
    'id' | 'role' | 'commitIndex' | 'appliedIndex' | 'lastIndex' | 'voters' | 'learners'
  > | null;
}

/** The edge member's status as its host shows it; null while it does not run. */
function edgeStatusOf(port: number, room: string): EdgeStatusSource {
  return async (): Promise<EdgeView | null> => {
    const response = await fetch(`http://127.0.0.1:${port}/edge?room=${room}`);
    const { running, member } = (await response.json()) as EdgeStatus;
    if (!running || member === null) return null;
    const { id, role, commitIndex, appliedIndex, lastIndex, voters, learners } = member;
    return {
      id,
      role,
      commit: commitIndex,
      applied: appliedIndex,
      lastIndex,
      voters,
      learners,
      ...extra(member),
    };
  };
}

/** More of the member's status, for failure messages (edgeSays prints what it saw). */
const extra = (member: object): object => {
  const m = member as Record<string, unknown>;
  return { term: m.term, leaderId: m.leaderId, connected: m.connected, autopilot: m.autopilot };
};

/** A browser on a fresh profile, on the room. */
async function browser(room: string, signalingUrl: string): Promise<TestCluster> {
  const cluster = await TestCluster.start({ room, signalingUrl, timeoutMs: 45_000 });
  cleanups.push(() => cluster.close());
  return cluster;
}

/** Milliseconds of `count` puts one after another through `tab`, sorted. */
async function putLatencies(tab: TestTab, prefix: string, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await tab.kv.put(`${prefix}-${i}`, i);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

const median = (sorted: readonly number[]): string =>
  sorted[Math.floor(sorted.length / 2)]!.toFixed(1);

const RUNTIMES: readonly { readonly name: string; readonly kind: EdgeHostKind }[] = [
  { name: 'workerd', kind: 'workerd' },
  { name: 'Deno', kind: 'deno-edge' },
];

describe.each(RUNTIMES)('an edge member on $name with two tabs', ({ name, kind }) => {
  it('keeps the room alive with every tab closed, and loses no acknowledged write when its process is killed', async () => {
    const built = await buildEdgeForTest();
    cleanups.push(() => built.remove());
    const storageDir = mkdtempSync(join(built.outDir, 'storage-'));
    const room = `edge${kind.slice(0, 4)}${Date.now() % 100_000}`;
    const settings = { EDGE_ROOMS: room, SIGNAL_BOOTSTRAP_GRACE_MS: '0' };
    const port = await freePort();
    let host: EdgeHost = await startEdgeHost(kind, built, settings, storageDir, port);
    cleanups.push(() => host.stop('SIGKILL'));
    const edge = edgeStatusOf(port, room);

    const first = await browser(room, host.url);
    const { tabs, edgeId } = await formWithTwoTabs(first, edge);
    const withEdge = await putLatencies(tabs[0]!, 'latency-edge', 40);

    await closeOneByOne(first, edge, edgeId);
    const second = await browser(room, host.url);
    const [fresh] = await second.open(1);
    expect(await readUnrecorded(fresh!, 'from-tab')).toBe('hello edge');

    // Two voters besides the edge member, so the cluster keeps a quorum while its host is down.
    await second.open(1);
    const killed = await killUnderLoad(second, edge, edgeId, {
      kill: () => host.stop('SIGKILL'),
      restart: async () => {
        host = await startEdgeHost(kind, built, settings, storageDir, port);
      },
    });
    const { acked, beforeKill, duringDown } = killed;
    expect(beforeKill).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(duringDown);

    // Every acknowledged write on the edge member alone, read by a tab of a third profile.
    const missing = await everyWriteOnTheEdgeAlone(second, edge, edgeId, killed, () =>
      browser(room, host.url),
    );
    expect(missing).toEqual([]);

    // The same puts in a room of three tabs and no edge member, on the same host.
    const tabsOnly = await browser(`tabs${Date.now() % 100_000}`, host.url);
    const [tabOnly] = await tabsOnly.open(3);
    await settled(tabsOnly, 3);
    const withTabs = await putLatencies(tabOnly!, 'latency-tabs', 40);
    console.log(
      `edge member on ${name}: ${acked.size} acknowledged writes (${beforeKill} before the ` +
        `SIGKILL, ${duringDown - beforeKill} while ${name} was down), all on the edge member ` +
        `after its restart; put latency from a tab, median of 40: 2 tabs + edge ` +
        `${median(withEdge)} ms, 3 tabs ${median(withTabs)} ms`,
    );
  });
});
