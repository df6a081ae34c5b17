/**
 * The cluster as users run it, in real Chromium (issue 9): tabs of the demo app on the Node
 * signaling server, each with its member in a worker, IndexedDB on disk (a persistent profile),
 * WebRTC between tabs. Every figure is timed inside the pages with performance.now(), so no
 * Playwright round trip is in it; across tabs, `performance.timeOrigin + performance.now()` is
 * the machine's clock in every tab.
 */
import type { BrowserContext, Page } from 'playwright-core';
import type { ClusterStatus } from '../src/client/connect.js';
import { Profile } from '../test/e2e/chromium.js';
import { startDemoServers } from '../test/e2e/demo-server.js';
import type { DemoServers } from '../test/e2e/demo-server.js';
import { openTab, settled as settledTabs, sleep, status, waitFor } from '../test/e2e/tabs.js';
import type { DemoWindow } from '../test/e2e/tabs.js';

/** 100 bytes of JSON string value, as the issue's puts carry. */
const VALUE_100_BYTES = 'x'.repeat(98);

type BenchWindow = DemoWindow & { appliedAt?: Map<string, number> };

/** Tabs of one room, and the way to open more. */
export interface Room {
  readonly pages: Page[];
  readonly context: BrowserContext;
  open(): Promise<Page>;
  /** Closes the room's browser and deletes its profile. */
  close(): Promise<void>;
}

/** The demo's servers, and rooms of tabs, each room in a browser profile of its own. */
export interface ClusterBench {
  readonly servers: DemoServers;
  /**
   * Opens `tabs` tabs on a fresh room (or the room `name`); resolves once `voters` voters lead
   * the rest, counting `otherMembers` members that are not tabs (an edge member, say).
   */
  room(
    tabs: number,
    voters?: number,
    options?: { readonly name?: string; readonly otherMembers?: number },
  ): Promise<Room>;
  close(): Promise<void>;
}

export async function startClusterBench(): Promise<ClusterBench> {
  const servers = await startDemoServers();
  const open = new Set<Room>();
  let rooms = 0;
  return {
    servers,
    async room(tabs, voters = 3, options = {}) {
      const profile = new Profile();
      const context = await profile.start();
      const url = `${servers.pageUrl(options.name ?? `bench${++rooms}`, 'bare')}&voters=${voters}`;
      const pages: Page[] = [];
      const room: Room = {
        pages,
        context,
        async open() {
          const first = pages.length === 0 ? context.pages()[0] : undefined;
          const page = await openTab(context, url, first);
          pages.push(page);
          return page;
        },
        async close() {
          open.delete(room);
          await context.close().catch(() => undefined);
          await profile.kill();
          profile.remove();
        },
      };
      open.add(room);
      for (let i = 0; i < tabs; i++) await room.open();
      const members = tabs + (options.otherMembers ?? 0);
      if (options.otherMembers === undefined) await settled(pages, Math.min(voters, tabs), tabs);
      else await agreed(pages, Math.min(voters, members), members);
      return room;
    },
    async close() {
      for (const room of [...open]) await room.close();
      await servers.close();
    },
  };
}

/** Waits until the leader among `pages` has `voters` voters and `members` members in all. */
export const settled = (pages: readonly Page[], voters: number, members: number) =>
  settledTabs(pages, voters, members, 90_000);

/**
 * Waits until every tab follows one leader (a tab or a member that is not one) with `voters`
 * voters and `members` members in all.
 */
function agreed(pages: readonly Page[], voters: number, members: number): Promise<ClusterStatus> {
  return waitFor(
    async () => {
      const all = await Promise.all(pages.map(status));
      const [one] = all;
      if (one === undefined || one.leaderId === null) return null;
      const counted =
        one.voters.length === voters && one.voters.length + one.learners.length === members;
      return counted && all.every((s) => s.leaderId === one.leaderId) ? one : null;
    },
    `one leader of ${voters} voters, ${members} members`,
    90_000,
  );
}

/** The tab whose member leads, with its status. */
export async function leaderPage(
  pages: readonly Page[],
): Promise<{ page: Page; status: ClusterStatus }> {
  const all = await Promise.all(pages.map((page) => status(page).catch(() => null)));
  const index = all.findIndex((s) => s?.role === 'leader');
  if (index < 0) throw new Error('no leader among the tabs');
  return { page: pages[index]!, status: all[index]! };
}

/** Sequential puts of 100 bytes from `page`: the latency of each, in ms. */
export function sequentialPuts(page: Page, count: number, prefix: string): Promise<number[]> {
  return page.evaluate(
    async ({ count, prefix, value }) => {
      const kv = (window as DemoWindow).webraft!.kv;
      const times: number[] = [];
      for (let i = 0; i < count; i++) {
        const started = performance.now();
        await kv.put(`${prefix}${i}`, value);
        times.push(performance.now() - started);
      }
      return times;
    },
    { count, prefix, value: VALUE_100_BYTES },
  );
}

/** `total` puts from `page`, `concurrency` in flight at any time: operations per second. */
export function concurrentPuts(page: Page, total: number, concurrency: number): Promise<number> {
  return page.evaluate(
    async ({ total, concurrency, value }) => {
      const kv = (window as DemoWindow).webraft!.kv;
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < total) await kv.put(`t${concurrency}-${next++}`, value);
        }),
      );
      return total / ((performance.now() - started) / 1000);
    },
    { total, concurrency, value: VALUE_100_BYTES },
  );
}

/** Sequential reads of one key with `consistency` from `page`: ms each. */
export function sequentialReads(
  page: Page,
  count: number,
  consistency: 'linearizable' | 'lease' | 'local',
): Promise<number[]> {
  return page.evaluate(
    async ({ count, consistency }) => {
      const kv = (window as DemoWindow).webraft!.kv;
      await kv.put('read-me', 1);
      const times: number[] = [];
      for (let i = 0; i < count; i++) {
        const started = performance.now();
        await kv.get('read-me', { consistency });
        times.push(performance.now() - started);
      }
      return times;
    },
    { count, consistency },
  );
}

/** Records, in each of `pages`, when each key was applied there (the machine's clock). */
export async function watchApplies(pages: readonly Page[]): Promise<void> {
  await Promise.all(
    pages.map((page) =>
      page.evaluate(() => {
        const w = window as BenchWindow;
        const appliedAt = new Map<string, number>();
        w.appliedAt = appliedAt;
        w.webraft!.subscribe((changes) => {
          const now = performance.timeOrigin + performance.now();
          for (const change of changes) appliedAt.set(change.key, now);
        });
      }),
    ),
  );
}

/**
 * Puts keys `prefix0…` one after another from `writer`, each timed from the call (machine
 * clock); with the times the watched `readers` applied each, gives write-to-applied latencies.
 */
export async function writeToApplied(
  writer: Page,
  readers: readonly Page[],
  count: number,
  prefix: string,
): Promise<{ commits: number[]; lags: number[] }> {
  const writes = await writer.evaluate(
    async ({ count, prefix, value }) => {
      const kv = (window as DemoWindow).webraft!.kv;
      const out: { key: string; startedAt: number; ackedAt: number }[] = [];
      for (let i = 0; i < count; i++) {
        const key = `${prefix}${i}`;
        const startedAt = performance.timeOrigin + performance.now();
        await kv.put(key, value);
        out.push({ key, startedAt, ackedAt: performance.timeOrigin + performance.now() });
      }
      return out;
    },
    { count, prefix, value: VALUE_100_BYTES },
  );
  await sleep(300); // The last writes reach every reader.
  const seen = await Promise.all(
    readers.map((page) =>
      page.evaluate(
        (keys) => keys.map((key) => (window as BenchWindow).appliedAt?.get(key) ?? null),
        writes.map((w) => w.key),
      ),
    ),
  );
  const lags: number[] = [];
  for (const times of seen) {
    times.forEach((at, i) => {
      if (at !== null) lags.push(at - writes[i]!.startedAt);
    });
  }
  return { commits: writes.map((w) => w.ackedAt - w.startedAt), lags };
}

/**
 * One failover trial: a writer tab (a follower) puts in a loop while the leader's tab is closed;
 * the result is the time from the close to the acknowledgement of the first write begun after it
 * (the loop begins it once a write stuck across the close is through, so the wait counts whole).
 */
export async function failoverTrial(room: Room): Promise<number> {
  const { page: leader } = await leaderPage(room.pages);
  const writer = room.pages.find((page) => page !== leader)!;
  await writer.evaluate((value) => {
    const w = window as DemoWindow & {
      acks?: { startedAt: number; ackedAt: number }[];
      stopWriting?: boolean;
    };
    const acks: { startedAt: number; ackedAt: number }[] = [];
    w.acks = acks;
    w.stopWriting = false;
    void (async () => {
      for (let i = 0; !w.stopWriting; i++) {
        const startedAt = Date.now();
        try {
          await w.webraft!.kv.put(`f${i}`, value);
          acks.push({ startedAt, ackedAt: Date.now() });
        } catch {
          // An election under way: the next attempt waits for it.
        }
      }
    })();
  }, VALUE_100_BYTES);
  await sleep(300);
  const closedAt = Date.now();
  room.pages.splice(room.pages.indexOf(leader), 1);
  await leader.close();
  const ackedAt = await waitFor(
    () =>
      writer.evaluate((closedAt) => {
        const w = window as DemoWindow & { acks?: { startedAt: number; ackedAt: number }[] };
        const next = (w.acks ?? []).find((ack) => ack.startedAt >= closedAt);
        return next === undefined ? null : next.ackedAt;
      }, closedAt),
    'a write after the leader closed',
    30_000,
  );
  await writer.evaluate(() => {
    (window as DemoWindow & { stopWriting?: boolean }).stopWriting = true;
  });
  return ackedAt - closedAt;
}
