/**
 * Steps of a room with an edge member, for the e2e tests that run one (on workerd:
 * edge-runtimes.e2e.ts, on workerd and Deno): read the edge member's status from wherever its host shows it, wait until
 * the tabs agree on a leader and the voters, put a write load on a tab, close the tabs one by
 * one so the autopilot hands the vote to the edge member, and kill the edge member's host under a
 * write load and read every acknowledged write back from it alone.
 */
import { expect } from 'vitest';
import type { JsonValue } from '../../src/state/kv-types.js';
import type { TestCluster, TestTab } from '../../src/testing/cluster.js';

/** What a test reads of the edge member's status. */
export interface EdgeView {
  readonly id: string;
  readonly role: string;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

/** Reads the edge member's status now; null while it does not run. */
export type EdgeStatusSource = () => Promise<EdgeView | null>;

/** Waits until the edge member's status passes `check`. */
export function edgeSays(
  cluster: TestCluster,
  edge: EdgeStatusSource,
  what: string,
  check: (view: EdgeView) => boolean,
): Promise<EdgeView> {
  // The distinct states seen while waiting, for the failure message.
  const seen: string[] = [];
  let lastText = '';
  return cluster
    .waitFor(what, async () => {
      const view = await edge().catch(() => null);
      const text = JSON.stringify(view);
      if (text !== lastText) seen.push(`${Date.now() % 100_000}: ${text}`);
      lastText = text;
      return view !== null && check(view) ? view : null;
    })
    .catch(async (error: unknown) => {
      const tabs = await Promise.all(cluster.tabs.map((tab) => tab.status().catch(() => null)));
      throw new Error(
        `${String(error)}\nedge member:\n${seen.slice(0, 20).join('\n')}\ntabs: ${JSON.stringify(tabs)}`,
      );
    });
}

/**
 * Waits until the tabs see one leader (a tab or the edge member) of `voters` voters with every
 * tab a member (TestCluster.waitForLeader looks for a tab that leads).
 */
export function settled(cluster: TestCluster, voters: number) {
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

/**
 * Opens two tabs in `cluster`: with the edge member they form three voters, the tabs linked to it
 * over a raft WebSocket, and a tab's write (`from-tab`) is applied on the edge member.
 */
export async function formWithTwoTabs(
  cluster: TestCluster,
  edge: EdgeStatusSource,
): Promise<{ readonly tabs: readonly TestTab[]; readonly edgeId: string }> {
  const tabs = await cluster.open(2);
  const edgeId = (await edgeSays(cluster, edge, 'the edge member', () => true)).id;
  expect(edgeId).toMatch(/^e-/);
  await settled(cluster, 3);
  const status = await tabs[0]!.status();
  expect(status.voters).toContain(edgeId);
  expect(status.peers).toContainEqual({ id: edgeId, state: 'open', kind: 'edge' });

  await tabs[0]!.kv.put('from-tab', 'hello edge');
  const { commitIndex } = await tabs[0]!.status();
  await edgeSays(
    cluster,
    edge,
    'the edge member to apply the write',
    (s) => s.applied >= commitIndex,
  );
  return { tabs, edgeId };
}

/** Closes the tabs one at a time, each gone from the membership before the next. */
export async function closeOneByOne(
  cluster: TestCluster,
  edge: EdgeStatusSource,
  edgeId: string,
): Promise<void> {
  for (const tab of [...cluster.tabs]) {
    const id = await tab.memberId();
    await cluster.closeTab(tab);
    // Removed and the autopilot settled (an odd count of voters, every change committed) before
    // the next tab goes, as with a user who closes tabs seconds apart. Two voters, the edge member
    // and the last tab, could not lose either: closing that tab would leave no quorum.
    await edgeSays(
      cluster,
      edge,
      `${id} out of the membership, and the voters settled`,
      (s) =>
        ![...s.voters, ...s.learners].includes(id) &&
        s.voters.length % 2 === 1 &&
        s.commit >= s.lastIndex,
    );
  }
  await edgeSays(
    cluster,
    edge,
    'the edge member leading alone',
    (s) => s.role === 'leader' && s.voters.length === 1 && s.voters[0] === edgeId,
  );
}

/** Writes unique keys through `tab` until the returned stop is called; acknowledged ones in `acked`. */
export function writeLoad(
  tab: TestTab,
  prefix: string,
  acked: Map<string, JsonValue>,
): () => Promise<void> {
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

/** The keys every acknowledged write put, read from `tab`: those missing. */
export async function missingOn(tab: TestTab, acked: ReadonlyMap<string, JsonValue>) {
  const entries = await tab.page.evaluate(() =>
    (
      window as unknown as { webraft: { kv: { entries(): Promise<{ key: string }[]> } } }
    ).webraft.kv.entries(),
  );
  const keys = new Set(entries.map((entry) => entry.key));
  return [...acked.keys()].filter((key) => !keys.has(key));
}

/** One line of a member's log as the demo summarizes it. */
interface LogLine {
  readonly index: number;
  readonly term: number;
  readonly summary: string;
}

/** `tab`'s whole log, summarized. */
function logOf(tab: TestTab): Promise<LogLine[]> {
  return tab.page.evaluate(() =>
    (
      window as unknown as { webraft: { recentLog(count: number): Promise<LogLine[]> } }
    ).webraft.recentLog(1_000_000),
  );
}

/** The log lines that put each of `keys`, for a failure message. */
function whereInLog(log: readonly LogLine[], keys: readonly string[]): string {
  return keys
    .map((key) => {
      const lines = log.filter((line) => line.summary.startsWith(`put ${key} =`));
      const shown = lines.map((line) => `${line.index}@${line.term}`).join(', ') || 'nowhere';
      return `  ${key}: ${shown}`;
    })
    .join('\n');
}

/** Where two logs first differ, with a few lines of each around it; null when they agree. */
function firstDifference(before: readonly LogLine[], after: readonly LogLine[]): string | null {
  const text = (line: LogLine | undefined) =>
    line === undefined ? '-' : `${line.index}@${line.term} ${line.summary}`;
  const byIndex = (log: readonly LogLine[]) => new Map(log.map((line) => [line.index, line]));
  const [a, b] = [byIndex(before), byIndex(after)];
  const indexes = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y);
  const differing = indexes.filter((index) => text(a.get(index)) !== text(b.get(index)));
  const first = differing[0];
  if (first === undefined) return null;
  const around = indexes.filter((index) => index >= first - 3 && index <= first + 5);
  return (
    `${differing.length} indexes differ, the first ${first}:\n` +
    around.map((index) => `  ${text(a.get(index))}  |  ${text(b.get(index))}`).join('\n')
  );
}

/**
 * `key`'s value as `tab` reads it, not recorded in its cluster's history: for a write another
 * browser made, which that history could not explain (expectLinearizable would call it illegal).
 */
export async function readUnrecorded(tab: TestTab, key: string): Promise<JsonValue | null> {
  const text = await tab.page.evaluate(async (key) => {
    const kv = (
      window as unknown as {
        webraft: { kv: { get(key: string): Promise<{ value: unknown } | null> } };
      }
    ).webraft.kv;
    return JSON.stringify((await kv.get(key))?.value ?? null);
  }, key);
  return JSON.parse(text) as JsonValue | null;
}

/** What `killUnderLoad` counted: acknowledged writes before the kill, by the restart, in all. */
export interface KillUnderLoad {
  readonly acked: ReadonlyMap<string, JsonValue>;
  readonly beforeKill: number;
  readonly duringDown: number;
  /** A tab's log once they converged: what a later reader must agree with. */
  readonly log: readonly LogLine[];
}

/**
 * Under a write load from every tab of `cluster` (two voters besides the edge member, so it keeps
 * a quorum meanwhile), kills the edge member's host, waits 2 s, starts it again and waits for the
 * edge member `edgeId` to come back as itself and catch up; the tabs then hold one state and a
 * linearizable history. The caller says what the counts must be.
 */
export async function killUnderLoad(
  cluster: TestCluster,
  edge: EdgeStatusSource,
  edgeId: string,
  host: { readonly kill: () => Promise<void>; readonly restart: () => Promise<void> },
): Promise<KillUnderLoad> {
  await settled(cluster, 3);
  const acked = new Map<string, JsonValue>();
  const stops = cluster.tabs.map((tab, i) => writeLoad(tab, `w${i}`, acked));
  await sleep(2000);
  const beforeKill = acked.size;
  await host.kill();
  await sleep(2000);
  const duringDown = acked.size;
  await host.restart();
  const back = await edgeSays(cluster, edge, 'the edge member back', () => true);
  if (back.id !== edgeId) throw new Error(`the edge member came back as ${back.id}, not ${edgeId}`);
  await sleep(2000);
  for (const stop of stops) await stop();
  const { commitIndex: written } = await settled(cluster, 3);
  await edgeSays(cluster, edge, 'the edge member caught up', (s) => s.applied >= written);
  await cluster.expectConverged();
  cluster.expectLinearizable();
  const log = await logOf(cluster.tabs[0]!);
  // expectConverged finds each write in the logs; this asks the tabs' state for it too.
  const absent = await missingOn(cluster.tabs[0]!, acked);
  if (absent.length > 0) {
    throw new Error(
      `${absent.length} of ${acked.size} acknowledged writes are not in the tabs' state; ` +
        `in their log:\n${whereInLog(log, absent.slice(0, 5))}`,
    );
  }
  return { acked, beforeKill, duringDown, log };
}

/**
 * Closes the tabs of `cluster` one by one, opens one tab of a fresh profile (`fresh`), and waits
 * until it reads every write in `acked`: served by the edge member alone.
 */
export async function everyWriteOnTheEdgeAlone(
  cluster: TestCluster,
  edge: EdgeStatusSource,
  edgeId: string,
  { acked, log }: Pick<KillUnderLoad, 'acked' | 'log'>,
  fresh: () => Promise<TestCluster>,
): Promise<readonly string[]> {
  await closeOneByOne(cluster, edge, edgeId);
  const third = await fresh();
  const [reader] = await third.open(1);
  let absent: readonly string[] = [];
  return third
    .waitFor('every acknowledged write on the new tab', async () => {
      absent = await missingOn(reader!, acked);
      return absent.length === 0 ? absent : null;
    })
    .catch(async (error: unknown) => {
      // Which writes, and where each side stood: a tab that never caught up looks different
      // from an edge member that lost writes.
      const tab = await reader!.status().catch((e: unknown) => String(e));
      const member = await edge().catch((e: unknown) => String(e));
      const readerLog = await logOf(reader!).catch(() => []);
      const difference = firstDifference(log, readerLog);
      throw new Error(
        `${String(error)}\n${absent.length} of ${acked.size} missing, first ${absent.slice(0, 5).join(', ')}` +
          `\nnew tab: ${JSON.stringify(tab)}\nedge member: ${JSON.stringify(member)}` +
          `\nlogs, the tabs' before they closed | the new tab's: ${difference ?? 'the same'}` +
          `\nthe missing writes in the new tab's log:\n${whereInLog(readerLog, absent.slice(0, 5))}`,
      );
    });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
