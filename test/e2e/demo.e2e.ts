/**
 * The vertical slice in real Chromium (issue 7): tabs of the demo page on one room, each running
 * its member in a worker, over the signaling server and WebRTC. One leader and one term
 * everywhere and writes seen by every tab; a closed leader tab replaced within 2 s; a reloaded
 * tab back from IndexedDB; 200 concurrent writes from three tabs converging, and a refused write's
 * typed error reaching the page.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/client/connect.js';
import { TestCluster } from '../../src/testing/cluster.js';
import { crashTab, Profile } from './chromium.js';
import { done, openTab, sleep, status, useDemoServers, waitFor } from './demo-harness.js';
import type { DemoWindow } from './demo-harness.js';

const servers = useDemoServers();
let rooms = 0;

/** Waits until every tab sees the same leader and term and `voters` voters; returns the leader. */
function settled(pages: readonly Page[], voters: number): Promise<ClusterStatus> {
  return waitFor(async () => {
    const all = await Promise.all(pages.map(status));
    const leader = all.find((s) => s.role === 'leader');
    const agree = all.every(
      (s) =>
        leader !== undefined &&
        s.leaderId === leader.id &&
        s.term === leader.term &&
        s.voters.length === voters,
    );
    return agree && leader !== undefined ? leader : null;
  }, `one leader with ${voters} voters`);
}

/** The tab whose member is `id`. */
async function pageOf(pages: readonly Page[], id: string): Promise<Page> {
  const ids = await Promise.all(pages.map(async (page) => (await status(page)).id));
  return pages[ids.indexOf(id)]!;
}

/** Three tabs of a fresh room on a fresh profile. */
async function threeTabs(): Promise<{
  context: BrowserContext;
  pages: Page[];
  room: string;
  profile: Profile;
}> {
  const profile = new Profile();
  const context = await profile.start();
  const room = `e2e${++rooms}`;
  const url = servers.current.pageUrl(room);
  const pages = [await openTab(context, url, context.pages()[0])];
  pages.push(await openTab(context, url), await openTab(context, url));
  return { context, pages, room, profile };
}

describe('the demo in Chromium: three tabs, one replicated state', () => {
  it('elects one leader in one term, and a put in tab 1 shows in tabs 2 and 3', async () => {
    const { context, pages, profile } = await threeTabs();
    try {
      await settled(pages, 3);
      const [first, second, third] = pages as [Page, Page, Page];
      await first.getByTestId('kv-key').fill('greeting');
      await first.getByTestId('kv-value').fill('"hello"');
      await first.getByTestId('kv-put').click();
      for (const page of [second, third]) {
        const row = page.locator('[data-testid="kv-row"][data-key="greeting"]');
        await row.waitFor({ timeout: 10_000 });
        expect(await row.textContent()).toContain('"hello"');
      }
      const terms = new Set(
        await Promise.all(pages.map((p) => p.getByTestId('term').textContent())),
      );
      expect(terms.size).toBe(1);
      // A room without a secret says so, loudly.
      await first.getByTestId('room-warning').waitFor({ state: 'visible', timeout: 5_000 });
      expect(await first.getByTestId('room-warning').textContent()).toContain('no secret');
    } finally {
      await done(context, profile);
    }
  });

  it('a tab given a room secret (#secret=… in the URL) shows no open-room warning', async () => {
    const profile = new Profile();
    const context = await profile.start();
    try {
      const url = `${servers.current.pageUrl(`e2e${++rooms}`)}#secret=correct-horse`;
      const page = await openTab(context, url, context.pages()[0]);
      const s = await waitFor(async () => {
        const current = await status(page);
        return current.role === 'leader' ? current : null;
      }, 'a one-tab cluster');
      expect(s.roomSecret).toBe(true);
      await page.getByTestId('role').waitFor({ timeout: 5_000 });
      expect(await page.getByTestId('room-warning').isHidden()).toBe(true);
    } finally {
      await done(context, profile);
    }
  });

  it('replaces a closed leader tab within 2 s, and then takes writes', async () => {
    const { context, pages, profile } = await threeTabs();
    try {
      const leader = await settled(pages, 3);
      const leaderPage = await pageOf(pages, leader.id);
      const others = pages.filter((p) => p !== leaderPage);
      // Commit latency while healthy: sequential puts from a follower tab (forwarded).
      const latencies = await others[0]!.evaluate(async () => {
        const times: number[] = [];
        for (let i = 0; i < 30; i++) {
          const started = performance.now();
          await (window as DemoWindow).webraft!.kv.put(`warm${i}`, i);
          times.push(performance.now() - started);
        }
        return times.sort((a, b) => a - b);
      });
      const closedAt = Date.now();
      await leaderPage.close({ runBeforeUnload: true });
      const next = await waitFor(
        async () => {
          const s = await status(others[0]!);
          return s.role === 'leader' || (s.leaderId !== null && s.leaderId !== leader.id)
            ? s
            : null;
        },
        'a new leader',
        5000,
      );
      const electedMs = Date.now() - closedAt;
      await others[1]!.evaluate(() => (window as DemoWindow).webraft!.kv.put('after', 'failover'));
      const writtenMs = Date.now() - closedAt;
      console.log(
        JSON.stringify({
          metric: 'demo_failover',
          commitLatencyMsP50: latencies[15],
          commitLatencyMsMax: latencies[29],
          newLeaderMs: electedMs,
          writeAfterFailoverMs: writtenMs,
        }),
      );
      expect(next.term).toBeGreaterThan(leader.term);
      expect(writtenMs).toBeLessThan(2000);
    } finally {
      await done(context, profile);
    }
  });

  it('replaces a crashed leader tab (no pagehide, no handover) by election', async () => {
    const { context, pages, profile } = await threeTabs();
    try {
      const leader = await settled(pages, 3);
      const leaderPage = await pageOf(pages, leader.id);
      const others = pages.filter((p) => p !== leaderPage);
      const crashedAt = Date.now();
      void crashTab(leaderPage); // The election starts while the renderer dies.
      await waitFor(
        async () => {
          const s = await status(others[0]!);
          return s.leaderId !== null && s.leaderId !== leader.id ? s : null;
        },
        'a new leader',
        10_000,
      );
      const electedMs = Date.now() - crashedAt;
      await others[1]!.evaluate(() => (window as DemoWindow).webraft!.kv.put('after', 'crash'));
      const writtenMs = Date.now() - crashedAt;
      console.log(
        JSON.stringify({
          metric: 'demo_crash_failover',
          newLeaderMs: electedMs,
          writeAfterCrashMs: writtenMs,
        }),
      );
      expect(writtenMs).toBeLessThan(2000);
    } finally {
      await done(context, profile);
    }
  });

  it('a frozen leader page keeps leading from its worker: writes still commit', async () => {
    const { context, pages, profile } = await threeTabs();
    try {
      const leader = await settled(pages, 3);
      const leaderPage = await pageOf(pages, leader.id);
      const other = pages.find((p) => p !== leaderPage)!;
      const cdp = await context.newCDPSession(leaderPage);
      // The CDP freeze of a background tab. Headless Chromium freezes nothing with it (measured:
      // page timers and the worker run on, no freeze event), so this shows only that a member
      // whose page is told it is frozen keeps leading; lifecycle.e2e.ts holds a tab for real.
      await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
      const started = Date.now();
      await other.evaluate(() => (window as DemoWindow).webraft!.kv.put('while-frozen', 1));
      const writeMs = Date.now() - started;
      await sleep(1500); // Longer than an election timeout: nobody took over.
      const seen = await status(other);
      await cdp.send('Page.setWebLifecycleState', { state: 'active' });
      console.log(JSON.stringify({ metric: 'demo_frozen_leader', writeMs }));
      expect(seen.leaderId).toBe(leader.id);
      expect(seen.term).toBe(leader.term);
      expect(writeMs).toBeLessThan(1000);
    } finally {
      await done(context, profile);
    }
  });

  it('a reloaded follower tab comes back with its id and log from IndexedDB and catches up', async () => {
    const { context, pages, profile } = await threeTabs();
    try {
      const leader = await settled(pages, 3);
      const statuses = await Promise.all(pages.map(status));
      const followerIndex = statuses.findIndex((s) => s.id !== leader.id);
      const follower = pages[followerIndex]!;
      const before = statuses[followerIndex]!;
      await follower.evaluate(() => (window as DemoWindow).webraft!.kv.put('before-reload', 1));
      await follower.reload();
      await follower.waitForFunction(() => (window as DemoWindow).webraft !== undefined);
      const after = await status(follower);
      expect(after.id).toBe(before.id);
      expect(after.lastIndex).toBeGreaterThan(0); // Its log came back before any catch-up.
      const writer = pages.find((p) => p !== follower)!;
      await writer.evaluate(() => (window as DemoWindow).webraft!.kv.put('after-reload', 2));
      await waitFor(async () => {
        const keys = (
          await follower.evaluate(() => (window as DemoWindow).webraft!.kv.entries())
        ).map((e) => e.key);
        return keys.includes('before-reload') && keys.includes('after-reload') ? true : null;
      }, 'the reloaded tab to catch up');
      expect((await settled(pages, 3)).term).toBeGreaterThanOrEqual(leader.term);
    } finally {
      await done(context, profile);
    }
  });

  it('200 concurrent writes from three tabs converge to one state and one log', async () => {
    // Through the test cluster users get (src/testing): its checks are the ones we trust.
    const cluster = await TestCluster.start();
    try {
      const tabs = await cluster.open(3);
      await cluster.waitForLeader({ voters: 3 });
      await Promise.all(
        tabs.flatMap((tab, t) =>
          Array.from({ length: t === 0 ? 68 : 66 }, (_, i) => tab.kv.put(`t${t}-${i}`, i)),
        ),
      );
      await cluster.expectConverged();
      expect(cluster.expectLinearizable().opsChecked).toBe(200);
      const entries = await tabs[2]!.page.evaluate(() =>
        (window as DemoWindow).webraft!.kv.entries(),
      );
      expect(entries).toHaveLength(200);
      // A refused write reaches the page as its own class, with its code.
      const refused = await tabs[1]!.page.evaluate(() =>
        (window as DemoWindow).webraft!.kv.put('', 1).then(
          () => null,
          (error: Error & { code?: string }) => ({ name: error.name, code: error.code ?? null }),
        ),
      );
      expect(refused).toEqual({ name: 'InvalidKvCommandError', code: 'BAD_COMMAND' });
    } finally {
      await cluster.close();
    }
  });
});
