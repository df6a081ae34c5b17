/**
 * Steps of a room with an edge member, for the e2e tests that run one (on workerd:
 * edge-workerd.e2e.ts): read the edge member's status from wherever its host shows it, wait until
 * the tabs agree on a leader and the voters, put a write load on a tab, close the tabs one by
 * one so the autopilot hands the vote to the edge member, and kill the edge member's host under a
 * write load and read every acknowledged write back from it alone.
 */
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
  return { acked, beforeKill, duringDown };
}

/**
 * Closes the tabs of `cluster` one by one, opens one tab of a fresh profile (`fresh`), and waits
 * until it reads every write in `acked`: served by the edge member alone.
 */
export async function everyWriteOnTheEdgeAlone(
  cluster: TestCluster,
  edge: EdgeStatusSource,
  edgeId: string,
  acked: ReadonlyMap<string, JsonValue>,
  fresh: () => Promise<TestCluster>,
): Promise<readonly string[]> {
  await closeOneByOne(cluster, edge, edgeId);
  const third = await fresh();
  const [reader] = await third.open(1);
  return third.waitFor('every acknowledged write on the new tab', async () => {
    const absent = await missingOn(reader!, acked);
    return absent.length === 0 ? absent : null;
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
