/**
 * Issue 13's figure: the commit latency of a room of two tabs and one edge member (a `webraft
 * edge` process: its log in files, reached over raft WebSockets) against the three-tab room
 * measured in the same run. A tab's write commits once a majority holds it, so with the edge
 * member a voter, every commit waits for the edge member or the other tab — whichever is first.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterBench } from './cluster.js';
import { leaderPage, sequentialPuts } from './cluster.js';
import type { MetricResult } from './results.js';
import { round3, stats } from './stats.js';

const repository = fileURLToPath(new URL('..', import.meta.url));

/** The three-tab room's commit p50s from this run, by the writing tab's role. */
export interface ThreeTabCommit {
  readonly fromLeaderTab: number;
  readonly fromFollowerTab: number;
}

export async function edgeCommit(
  bench: ClusterBench,
  commits: number,
  threeTabs: ThreeTabCommit,
): Promise<MetricResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'webraft-bench-edge-'));
  const roomName = `bench-edge-${Date.now().toString(36)}`;
  // Node with tsx's loader, not `npx`: one process, killed at the end.
  const edge = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'edge',
      ...['--room', roomName, '--signal', bench.servers.signalingUrl, '--data-dir', dataDir],
      ...['--port', '0', '--json', '--interval', '60'],
    ],
    {
      cwd: repository,
      stdio: ['ignore', process.env['EDGE_DEBUG'] ? 'inherit' : 'ignore', 'pipe'],
    },
  );
  let errors = '';
  edge.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<void>((resolve) => edge.once('exit', () => resolve()));
  try {
    // Two tabs and the edge member: three members, three voters.
    const room = await bench.room(2, 3, { name: roomName, otherMembers: 1 }).catch((error) => {
      throw new Error(`${String(error)}\nedge member said:\n${errors.slice(-2000)}`);
    });
    try {
      const leading = await leaderPage(room.pages).catch(() => null);
      const follower = room.pages.find((page) => page !== leading?.page)!;
      await sequentialPuts(follower, 20, 'warm');
      const fromFollower = await sequentialPuts(follower, commits, 'ef');
      const fromLeader =
        leading === null ? null : await sequentialPuts(leading.page, commits, 'el');
      const followerP50 = stats(fromFollower).p50;
      // Judged like for like: a leading tab against the three-tab room's leading tab, else a
      // follower tab (its write forwarded to the edge member that leads) against a follower tab.
      const subject = fromLeader ?? fromFollower;
      const baseline = fromLeader === null ? threeTabs.fromFollowerTab : threeTabs.fromLeaderTab;
      const { p50, p99 } = stats(subject);
      return {
        name: 'edge_commit',
        unit: 'ms',
        values: { p50: round3(p50), p99: round3(p99), count: subject.length },
        baseline: {
          description: `the 3-tab room's commit p50 from a ${fromLeader === null ? 'follower' : 'leader'} tab`,
          value: round3(baseline),
        },
        ratio: round3(p50 / baseline),
        goal: null,
        met: null,
        samples: subject.map(round3),
        notes: {
          leader: leading === null ? 'the edge member' : 'a tab',
          fromFollowerTab: { p50: round3(followerP50), p99: round3(stats(fromFollower).p99) },
          threeTabs,
          members: '2 Chromium tabs + 1 edge member (webraft edge, file storage, raft WebSockets)',
        },
      };
    } finally {
      await room.close();
    }
  } finally {
    edge.kill('SIGKILL');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}
