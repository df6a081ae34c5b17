/**
 * Tabs that come and go as users make them (issue 8), in real Chromium: tabs of one browser that
 * start with no signaling server form one cluster over BroadcastChannel and merge back into the
 * mesh when the server returns; a frozen leader or voter is replaced, and once thawed it rejoins
 * without disrupting anyone.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/client/connect.js';
import { freezeTab, Profile } from './chromium.js';
import {
  done,
  joinedBy,
  leaderStatus,
  openTab,
  sleep,
  status,
  useDemoServers,
  waitFor,
} from './demo-harness.js';
import type { DemoWindow } from './demo-harness.js';

const servers = useDemoServers();
let rooms = 0;

const put = (page: Page, key: string, value: number) =>
  page.evaluate(([k, v]) => (window as DemoWindow).webraft!.kv.put(k, v), [key, value] as const);

/** The leader among `pages` once it has `voters` voters, all of them answering. */
function healthyVoters(pages: readonly Page[], voters: number, what: string) {
  return waitFor(
    async () => {
      const s = await leaderStatus(pages);
      return s !== null && s.voters.length === voters ? s : null;
    },
    what,
    30_000,
  );
}

async function tabs(count: number, room: string) {
  const profile = new Profile();
  const context = await profile.start();
  const url = servers.current.pageUrl(room);
  const pages: Page[] = [];
  for (let i = 0; i < count; i++) {
    pages.push(await openTab(context, url, i === 0 ? context.pages()[0] : undefined));
  }
  return { profile, context, pages, url };
}

describe('with no signaling server', () => {
  it('tabs of one browser start one cluster, and merge into the mesh when it returns', async () => {
    const room = `offline${++rooms}`;
    await servers.current.stopSignaling();
    let first: { profile: Profile; context: BrowserContext; pages: Page[] } | null = null;
    const other = new Profile();
    const otherContext = await other.start();
    try {
      // Opened at once: the Web Lock lets exactly one of them start the cluster.
      const profile = new Profile();
      const context = await profile.start();
      const url = servers.current.pageUrl(room);
      const blank = [context.pages()[0] ?? (await context.newPage())];
      while (blank.length < 3) blank.push(await context.newPage());
      const pages = await Promise.all(blank.map((page) => openTab(context, url, page)));
      first = { profile, context, pages };
      expect((await status(pages[0]!)).signaling).toBe('offline');
      const leader = await healthyVoters(pages, 3, 'three voters over BroadcastChannel');
      const all = await Promise.all(pages.map(status));
      expect(all.every((s) => s.leaderId === leader.id)).toBe(true);
      await put(pages[1]!, 'offline', 1);
      await put(pages[2]!, 'offline', 2);

      await servers.current.startSignaling();
      await waitFor(
        async () => ((await status(pages[0]!)).signaling === 'connected' ? true : null),
        'the tabs to reach the server again',
      );
      const newcomer = await openTab(otherContext, url, otherContext.pages()[0]);
      await joinedBy(pages, newcomer, 'a tab of another browser to join the same cluster');
      const seen = await newcomer.evaluate(() => (window as DemoWindow).webraft!.kv.get('offline'));
      expect(seen?.value).toBe(2);
      // The tab of the other browser is linked over WebRTC; the tabs of this one keep talking
      // over BroadcastChannel, with no WebRTC connection between them.
      const newcomerId = (await status(newcomer)).id;
      const linked = await waitFor(async () => {
        const s = await status(pages[0]!);
        const states = new Map(s.peers.map((p) => [p.id, p.state]));
        const locals = [...states.values()].filter((state) => state === 'local').length;
        return states.get(newcomerId) === 'open' && locals === 2 ? s : null;
      }, 'a WebRTC link to the other browser, none within this one');
      expect(linked.peers.length).toBe(3);
    } finally {
      await servers.current.startSignaling();
      await otherContext.close().catch(() => undefined);
      await other.kill();
      other.remove();
      if (first !== null) await done(first.context, first.profile);
    }
  });
});

describe('a restarted signaling server', () => {
  it('does not let a new tab that arrives before the old ones start a second cluster', async () => {
    const { profile, context, pages, url } = await tabs(3, `restart${++rooms}`);
    const other = new Profile();
    const otherContext = await other.start();
    try {
      const before = await healthyVoters(pages, 3, 'three voters');
      await servers.current.stopSignaling();
      await sleep(6000); // The tabs' reconnect backoff grows to its 5 s ceiling.
      await servers.current.startSignaling();
      // A stranger reaches the fresh server first and finds an empty room.
      const newcomer = await openTab(otherContext, url, otherContext.pages()[0]);
      const id = (await status(newcomer)).id;
      const joined = await waitFor(
        async () => {
          const s = await status(newcomer);
          return s.leaderId !== null && s.appliedIndex > 0 ? s : null;
        },
        'the newcomer to follow a leader',
        30_000,
      );
      const leader = (await leaderStatus(pages))!;
      expect(joined.leaderId).toBe(leader.id);
      expect([...leader.voters, ...leader.learners]).toContain(id);
      // Its log begins with the old cluster's bootstrap entry, not one of its own.
      const firstEntry = (page: Page) =>
        page.evaluate(async () => (await (window as DemoWindow).webraft!.recentLog(1000))[0]);
      expect(await firstEntry(newcomer)).toEqual(await firstEntry(pages[0]!));
      expect(leader.term).toBeGreaterThanOrEqual(before.term);
    } finally {
      await servers.current.startSignaling();
      await otherContext.close().catch(() => undefined);
      await other.kill();
      other.remove();
      await done(context, profile);
    }
  });
});

describe('frozen tabs', () => {
  it('a frozen leader is replaced; thawed, it steps down and rejoins quietly', async () => {
    const { profile, context, pages } = await tabs(4, `freeze${++rooms}`);
    try {
      const before = await healthyVoters(pages, 3, 'three voters and a learner');
      const frozenPage =
        pages[(await Promise.all(pages.map(status))).findIndex((s) => s.role === 'leader')]!;
      const rest = pages.filter((page) => page !== frozenPage);
      const thaw = await freezeTab(frozenPage);
      const frozenAt = Date.now();
      let after: ClusterStatus;
      try {
        after = await waitFor(
          async () => {
            const s = await leaderStatus(rest);
            return s !== null && s.voters.length === 3 && !s.voters.includes(before.id) ? s : null;
          },
          'a new leader and the frozen voter replaced',
          30_000,
        );
        await put(rest[0]!, 'during-freeze', 1);
      } finally {
        await thaw();
      }
      const replacedMs = Date.now() - frozenAt;
      const thawed = await waitFor(async () => {
        const s = await status(frozenPage);
        return s.role !== 'leader' && s.pauses.count > 0 ? s : null;
      }, 'the thawed leader to notice its pause and step down');
      expect(thawed.pauses.longestMs).toBeGreaterThan(1000);
      // Back in the room it catches up and does not unseat the new leader.
      await waitFor(async () => {
        const s = await frozenPage.evaluate(() =>
          (window as DemoWindow).webraft!.kv.get('during-freeze', { consistency: 'local' }),
        );
        return s?.value === 1 ? s : null;
      }, 'the thawed tab to catch up');
      await sleep(1500);
      const later = (await leaderStatus(pages))!;
      expect(later.id).toBe(after.id);
      expect(later.term).toBe(after.term);
      console.log(JSON.stringify({ metric: 'frozen_leader_replaced', replacedMs }));
    } finally {
      await done(context, profile);
    }
  });
});
