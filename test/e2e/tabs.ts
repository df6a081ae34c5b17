/**
 * Tabs of the demo page with `window.webraft`, for browser tests and benchmarks alike (no test
 * framework here): waiting for a condition, opening a tab, reading each tab's cluster status, and
 * reaching the origin's databases in every Storage Bucket.
 */
import type { BrowserContext, Page } from 'playwright-core';
import type { Cluster, ClusterStatus } from '../../src/client/connect.js';
import type { Profile } from './chromium.js';

export type DemoWindow = { webraft?: Cluster };

export const sleep = (ms: number): Promise<void> =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it gives a value (not null, not a throw), or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | null>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export const status = (page: Page): Promise<ClusterStatus> =>
  page.evaluate(() => (window as DemoWindow).webraft!.status());

/** Opens the demo at `url` in `page` (or a new tab) and waits until it has joined. */
export async function openTab(context: BrowserContext, url: string, page?: Page): Promise<Page> {
  const tab = page ?? (await context.newPage());
  await tab.goto(url);
  await tab.waitForFunction(() => (window as DemoWindow).webraft !== undefined, null, {
    timeout: 20_000,
  });
  return tab;
}

/** The status of the tab that leads, or null. */
export async function leaderStatus(pages: readonly Page[]): Promise<ClusterStatus | null> {
  const all = await Promise.all(pages.map((page) => status(page).catch(() => null)));
  return all.find((s) => s?.role === 'leader') ?? null;
}

/** Waits until the leader among `pages` has `voters` voters and `members` members in all. */
export function settled(
  pages: readonly Page[],
  voters: number,
  members: number,
  timeoutMs = 20_000,
): Promise<ClusterStatus> {
  return waitFor(
    async () => {
      const s = await leaderStatus(pages);
      const all = s === null ? 0 : s.voters.length + s.learners.length;
      return s !== null && s.voters.length === voters && all === members ? s : null;
    },
    `${voters} voters of ${members} members`,
    timeoutMs,
  );
}

/** Closes the browser of `profile` and deletes the profile. */
export async function done(context: BrowserContext, profile: Profile): Promise<void> {
  await context.close().catch(() => undefined);
  await profile.kill();
  profile.remove();
}

/** Waits until the leader among `pages` counts the member of tab `newcomer`; its status. */
export async function joinedBy(
  pages: readonly Page[],
  newcomer: Page,
  what = 'the new tab to join the same cluster',
): Promise<ClusterStatus> {
  const id = (await status(newcomer)).id;
  return waitFor(
    async () => {
      const s = await leaderStatus(pages);
      return s !== null && [...s.voters, ...s.learners].includes(id) ? s : null;
    },
    what,
    30_000,
  );
}

type BucketsWindow = {
  navigator: {
    storageBuckets: {
      keys(): Promise<string[]>;
      open(name: string): Promise<{ indexedDB: IDBFactory }>;
    };
  };
};

/**
 * In `page`, lists the IndexedDB databases of its origin, or deletes database `name`, in the
 * default bucket and in every Storage Bucket: as other code of the origin reaches a member's
 * database wherever it lives.
 */
function inEveryBucket(page: Page, op: 'list' | 'delete', name = ''): Promise<string[]> {
  return page.evaluate(
    async ({ op, name }) => {
      const buckets = (window as unknown as BucketsWindow).navigator.storageBuckets;
      const factories = [indexedDB];
      for (const bucket of await buckets.keys()) {
        factories.push((await buckets.open(bucket)).indexedDB);
      }
      const names: string[] = [];
      for (const factory of factories) {
        if (op === 'list') {
          names.push(...(await factory.databases()).map((d) => d.name ?? ''));
          continue;
        }
        await new Promise<void>((resolve, reject) => {
          const request = factory.deleteDatabase(name);
          request.onsuccess = () => resolve();
          request.onerror = () => reject(request.error);
        });
      }
      return names;
    },
    { op, name },
  );
}

/** The names of the IndexedDB databases of `page`'s origin, in every bucket. */
export const databaseNames = (page: Page): Promise<string[]> => inEveryBucket(page, 'list');

/** Deletes database `name` of `page`'s origin, in whichever bucket it is. */
export async function deleteDatabase(page: Page, name: string): Promise<void> {
  await inEveryBucket(page, 'delete', name);
}
