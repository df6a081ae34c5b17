/**
 * A member's identity outlives its tab (issue 12), in real Chromium with a profile on disk: after
 * the browser is killed, new tabs adopt the persisted identities and the cluster comes back with
 * its data; with two of three it commits again; a wiped member comes back as a new one; and tabs
 * opened at once never run one identity twice.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/client/connect.js';
import { Profile } from './chromium.js';
import { databaseNames, deleteDatabase, status, useDemoServers, waitFor } from './demo-harness.js';
import type { DemoWindow } from './demo-harness.js';

const servers = useDemoServers();
let rooms = 0;

async function openTabs(context: BrowserContext, url: string, count: number): Promise<Page[]> {
  const pages = [context.pages()[0] ?? (await context.newPage())];
  while (pages.length < count) pages.push(await context.newPage());
  await Promise.all(
    pages.map(async (page) => {
      await page.goto(url);
      await page.waitForFunction(() => (window as DemoWindow).webraft !== undefined, null, {
        timeout: 20_000,
      });
    }),
  );
  return pages;
}

/** Waits for a leader every tab agrees on; returns its status. */
function leaderOf(pages: readonly Page[], voters: number): Promise<ClusterStatus> {
  return waitFor(async () => {
    const all = await Promise.all(pages.map(status));
    const leader = all.find((s) => s.role === 'leader');
    if (leader === undefined || leader.voters.length !== voters) return null;
    return all.every((s) => s.leaderId === leader.id) ? leader : null;
  }, `a leader with ${voters} voters`);
}

/** A room whose three tabs wrote 200 acknowledged keys, then the browser was killed. */
async function populated(): Promise<{ profile: Profile; url: string; ids: string[] }> {
  const profile = new Profile();
  const url = servers.current.pageUrl(`ids${++rooms}`);
  const context = await profile.start();
  const pages = await openTabs(context, url, 3);
  await leaderOf(pages, 3);
  await Promise.all(
    pages.map((page, tab) =>
      page.evaluate(async (tabIndex) => {
        const cluster = (window as DemoWindow).webraft!;
        const count = tabIndex === 0 ? 68 : 66;
        await Promise.all(
          Array.from({ length: count }, (_, i) => cluster.kv.put(`k${tabIndex}-${i}`, i)),
        );
      }, tab),
    ),
  );
  const ids = (await Promise.all(pages.map(status))).map((s) => s.id).sort();
  await profile.kill(); // SIGKILL: no pagehide, no handover, nothing flushed on the way out.
  return { profile, url, ids };
}

/** How many of the 200 keys `page` reads (linearizably unless told), and which it misses. */
function readKeys(
  page: Page,
  consistency: 'linearizable' | 'local' = 'linearizable',
): Promise<{ found: number; missing: string[] }> {
  return page.evaluate(async (consistency) => {
    const cluster = (window as DemoWindow).webraft!;
    const keys = [0, 1, 2].flatMap((tab) =>
      Array.from({ length: tab === 0 ? 68 : 66 }, (_, i) => `k${tab}-${i}`),
    );
    const values = await Promise.all(keys.map((key) => cluster.kv.get(key, { consistency })));
    const missing = keys.filter((_, i) => values[i] === null);
    return { found: keys.length - missing.length, missing };
  }, consistency);
}

/**
 * Every one of the 200 keys, read linearizably from `page`. Short of that, the error says what
 * every tab holds and whether the keys turn up a moment later (a stale read) or never (lost).
 */
async function readAll(page: Page, pages: readonly Page[]): Promise<number> {
  const { found, missing } = await readKeys(page);
  if (found === 200) return found;
  const tabs = await Promise.all(
    pages.map(async (tab) => {
      const s = await status(tab);
      const local = await readKeys(tab, 'local');
      const { role, leaderId, term, commitIndex, appliedIndex, lastIndex, voters, learners } = s;
      return {
        reader: tab === page,
        ...{ id: s.id, role, leaderId, term, commitIndex, appliedIndex, lastIndex },
        ...{ voters, learners, localFound: local.found, restarts: s.restarts.count },
      };
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const later = await readKeys(page);
  throw new Error(
    `read ${found} of 200 keys linearizably (missing ${missing.slice(0, 20).join(', ')}…); ` +
      `2 s later ${later.found}; tabs: ${JSON.stringify(tabs)}`,
  );
}

describe('identities outlive their tabs (Chromium, persistent profile)', () => {
  it('after the browser is killed, three new tabs are the old members with every key', async () => {
    const { profile, url, ids } = await populated();
    const context = await profile.start();
    try {
      const pages = await openTabs(context, url, 3);
      await leaderOf(pages, 3);
      const now = (await Promise.all(pages.map(status))).map((s) => s.id).sort();
      expect(now).toEqual(ids);
      expect(await readAll(pages[0]!, pages)).toBe(200);
    } finally {
      await context.close().catch(() => undefined);
      await profile.kill();
      profile.remove();
    }
  });

  it('with two of the three tabs reopened, the cluster commits again', async () => {
    const { profile, url, ids } = await populated();
    const context = await profile.start();
    try {
      const pages = await openTabs(context, url, 2);
      await waitFor(async () => {
        const s = await status(pages[0]!);
        return s.leaderId !== null ? s : null;
      }, 'a leader among two of three');
      await pages[1]!.evaluate(() => (window as DemoWindow).webraft!.kv.put('again', true));
      expect(await readAll(pages[0]!, pages)).toBe(200);
      const running = (await Promise.all(pages.map(status))).map((s) => s.id);
      for (const id of running) expect(ids).toContain(id);
      // The third member is removed after its grace period, then its database is forgotten.
      const missing = ids.find((id) => !running.includes(id))!;
      await waitFor(
        async () => {
          const names = await databaseNames(pages[0]!);
          return names.some((name) => name.endsWith(`/${missing}`)) ? null : true;
        },
        'the removed identity to be forgotten',
        30_000,
      );
    } finally {
      await context.close().catch(() => undefined);
      await profile.kill();
      profile.remove();
    }
  });

  it('a member whose database was wiped comes back as a new member; no key is lost', async () => {
    const { profile, url, ids } = await populated();
    const context = await profile.start();
    try {
      const origin = new URL(url).origin;
      const room = new URL(url).searchParams.get('room')!;
      const blank = context.pages()[0] ?? (await context.newPage());
      await blank.goto(`${origin}/style.css`); // Any page of the origin, without the demo.
      const wiped = ids[0]!;
      await deleteDatabase(blank, `webraft/${room}/${wiped}`);
      // As if the browser was killed before localStorage reached the disk (Chromium writes it a
      // while later): the mark that a cluster of the room lives here must survive in IndexedDB,
      // or the new member, if the server names it first, starts a second cluster.
      await blank.evaluate((key) => localStorage.removeItem(key), `webraft/${room}/cluster`);
      const pages = await openTabs(context, url, 3);
      const now = await Promise.all(pages.map(status));
      const newcomers = now.filter((s) => !ids.includes(s.id));
      expect(newcomers).toHaveLength(1);
      expect(now.map((s) => s.id)).not.toContain(wiped);
      await waitFor(
        async () => {
          const leader = (await Promise.all(pages.map(status))).find((s) => s.role === 'leader');
          return leader?.voters.includes(newcomers[0]!.id) === true ? leader : null;
        },
        'the new member to replace the wiped voter',
        30_000,
      );
      expect(await readAll(pages[1]!, pages)).toBe(200);
    } finally {
      await context.close().catch(() => undefined);
      await profile.kill();
      profile.remove();
    }
  });

  it('five tabs opened at once on three identities never run one identity twice', async () => {
    const { profile, url, ids } = await populated();
    const context = await profile.start();
    try {
      const pages = await openTabs(context, url, 5);
      const now = (await Promise.all(pages.map(status))).map((s) => s.id);
      expect(new Set(now).size).toBe(5);
      expect(now.filter((id) => ids.includes(id)).sort()).toEqual(ids);
      await leaderOf(pages, 3);
      expect(await readAll(pages[4]!, pages)).toBe(200);
    } finally {
      await context.close().catch(() => undefined);
      await profile.kill();
      profile.remove();
    }
  });
});
