/**
 * The autopilot in real Chromium (issue 8, first part): with four tabs (three voters and a
 * learner), a voter that is cut off is replaced by the learner, and a voter tab that closes is
 * removed and replaced; each time the cluster is back at three healthy voters and takes writes.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/client/connect.js';
import { Profile } from './chromium.js';
import {
  done,
  joinedBy,
  leaderStatus,
  sleep,
  status,
  useDemoServers,
  waitFor,
} from './demo-harness.js';
import type { DemoWindow } from './demo-harness.js';

const servers = useDemoServers();
let rooms = 0;

/** Four tabs of a fresh room; resolves once three are voters and one a learner. */
/** Waits until the leader among `pages` has three voters and `gone` is no member at all. */
function threeVotersWithout(pages: readonly Page[], gone: string): Promise<ClusterStatus> {
  return waitFor(
    async () => {
      const s = await leaderStatus(pages);
      const all = s === null ? [] : [...s.voters, ...s.learners];
      return s !== null && s.voters.length === 3 && !all.includes(gone) ? s : null;
    },
    `three voters without ${gone}`,
    30_000,
  );
}

/** The leader's status, and a voter that is not the leader with its tab. */
async function aFollowerVoter(pages: readonly Page[]) {
  const leader = (await leaderStatus(pages))!;
  const statuses = await Promise.all(pages.map(status));
  const victim = statuses.find((s) => s.role !== 'leader' && leader.voters.includes(s.id))!;
  return { leader, victim, victimPage: pages[statuses.indexOf(victim)]! };
}

async function fourTabs(): Promise<{ context: BrowserContext; pages: Page[]; profile: Profile }> {
  const profile = new Profile();
  const context = await profile.start();
  const url = servers.current.pageUrl(`auto${++rooms}`);
  const pages = [context.pages()[0] ?? (await context.newPage())];
  while (pages.length < 4) pages.push(await context.newPage());
  for (const page of pages) {
    await page.goto(url);
    await page.waitForFunction(() => (window as DemoWindow).webraft !== undefined);
  }
  await waitFor(async () => {
    const s = await leaderStatus(pages);
    return s !== null && s.voters.length === 3 && s.learners.length === 1 ? s : null;
  }, 'three voters and a learner');
  return { context, pages, profile };
}

describe('autopilot in Chromium', () => {
  it('replaces a voter that stops answering with the learner', async () => {
    const { context, pages, profile } = await fourTabs();
    try {
      const { leader, victim, victimPage } = await aFollowerVoter(pages);
      const learner = leader.learners[0]!;
      const cutAt = Date.now();
      await victimPage.evaluate(() => (window as DemoWindow).webraft!.setDisconnected(true));
      const healed = await waitFor(
        async () => {
          const s = await leaderStatus(pages.filter((p) => p !== victimPage));
          return s !== null && s.voters.length === 3 && !s.voters.includes(victim.id) ? s : null;
        },
        'the silent voter to be replaced',
        30_000,
      );
      const replacedMs = Date.now() - cutAt;
      expect(healed.voters).toContain(learner);
      expect(healed.learners).toContain(victim.id);
      const writer = pages.find((p) => p !== victimPage)!;
      await writer.evaluate(() => (window as DemoWindow).webraft!.kv.put('after', 'replacement'));
      console.log(JSON.stringify({ metric: 'autopilot_replace_silent_voter', replacedMs }));
    } finally {
      await done(context, profile);
    }
  });

  it('a voter tab that closes is removed and replaced: back at three voters', async () => {
    const { context, pages, profile } = await fourTabs();
    try {
      const { victim, victimPage } = await aFollowerVoter(pages);
      const closedAt = Date.now();
      await victimPage.close();
      const rest = pages.filter((p) => p !== victimPage);
      await threeVotersWithout(rest, victim.id);
      const backMs = Date.now() - closedAt;
      await rest[0]!.evaluate(() => (window as DemoWindow).webraft!.kv.put('after', 'close'));
      console.log(JSON.stringify({ metric: 'autopilot_voter_tab_closed', backAtTargetMs: backMs }));
      expect(backMs).toBeLessThan(15_000);
    } finally {
      await done(context, profile);
    }
  });

  it('a voter that leaves with close() is removed at once, without the grace period', async () => {
    const { context, pages, profile } = await fourTabs();
    try {
      const { victim, victimPage } = await aFollowerVoter(pages);
      const leftAt = Date.now();
      await victimPage.evaluate(() => (window as DemoWindow).webraft!.close());
      const rest = pages.filter((p) => p !== victimPage);
      await threeVotersWithout(rest, victim.id);
      const backMs = Date.now() - leftAt;
      console.log(JSON.stringify({ metric: 'autopilot_voter_left', backAtTargetMs: backMs }));
      expect(backMs).toBeLessThan(2500); // The grace period alone is 3 s.
    } finally {
      await done(context, profile);
    }
  });

  it('six tabs opened at once on a fresh room form exactly one cluster, round after round', async () => {
    const profile = new Profile();
    const context = await profile.start();
    try {
      const pages: Page[] = [context.pages()[0] ?? (await context.newPage())];
      while (pages.length < 6) pages.push(await context.newPage());
      for (let round = 0; round < SIX_TAB_ROUNDS; round++) {
        const url = servers.current.pageUrl(`six${++rooms}`);
        await Promise.all(
          pages.map(async (page) => {
            await page.goto(url);
            await page.waitForFunction(() => (window as DemoWindow).webraft !== undefined);
          }),
        );
        const leader = await waitFor(
          async () => {
            const all = await Promise.all(pages.map(status));
            const leaders = all.filter((s) => s.role === 'leader');
            if (leaders.length !== 1) return null;
            const [only] = leaders as [ClusterStatus];
            const members = new Set([...only.voters, ...only.learners]);
            const agree = all.every((s) => s.leaderId === only.id && members.has(s.id));
            return agree && only.voters.length === 3 ? only : null;
          },
          `one cluster of six tabs (round ${round + 1})`,
        );
        // Every tab's log starts with the same bootstrap entry: one cluster, not two that merged.
        const firsts = await Promise.all(
          pages.map((page) =>
            page.evaluate(async () => (await (window as DemoWindow).webraft!.recentLog(500))[0]),
          ),
        );
        expect(new Set(firsts.map((line) => JSON.stringify(line))).size).toBe(1);
        expect(leader.learners).toHaveLength(3);
        await Promise.all(
          pages.map((page) => page.evaluate(() => (window as DemoWindow).webraft!.close())),
        );
      }
    } finally {
      await done(context, profile);
    }
  });
});

describe('without the signaling server', () => {
  it('tabs keep committing while it is down; after it returns, another browser joins', async () => {
    const { context, pages, profile } = await fourTabs();
    const other = new Profile();
    const otherContext = await other.start();
    try {
      const room = new URL(pages[0]!.url()).searchParams.get('room')!;
      await servers.current.stopSignaling();
      await pages[0]!.evaluate(() => (window as DemoWindow).webraft!.kv.put('offline', 1));
      await pages[3]!.evaluate(() => (window as DemoWindow).webraft!.kv.put('offline', 2));
      await servers.current.startSignaling();
      await sleep(1500); // The tabs reconnect (backoff from 250 ms) before a stranger arrives.
      const newcomer = otherContext.pages()[0] ?? (await otherContext.newPage());
      await newcomer.goto(servers.current.pageUrl(room));
      await newcomer.waitForFunction(() => (window as DemoWindow).webraft !== undefined);
      await joinedBy(pages, newcomer, 'the other browser to join the same cluster');
      const seen = await newcomer.evaluate(() => (window as DemoWindow).webraft!.kv.get('offline'));
      expect(seen?.value).toBe(2);
    } finally {
      await servers.current.startSignaling();
      await otherContext.close().catch(() => undefined);
      await other.kill();
      other.remove();
      await done(context, profile);
    }
  });
});

/** Rounds of the six-tab bootstrap test: 3 in `npm test`, 20 in `npm run test:long`. */
const SIX_TAB_ROUNDS = Number(process.env['WEBRAFT_SIX_TAB_ROUNDS'] ?? 3);
