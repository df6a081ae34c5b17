/**
 * The demo's message timeline in real Chromium (issue 11): three tabs of one room; turning the
 * timeline on in one tab turns it on in all, the panel draws a lane per member with commit marks,
 * a leader that closes its tab shows up as an election, and the ShiViz download parses with
 * ShiViz's default parser. TIMELINE_SCREENSHOT=path saves the panel as a PNG.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { readShiViz } from '../../src/runtime/timeline/shiviz.js';
import { Profile } from './chromium.js';
import { done, openTab, settled, status, useDemoServers, waitFor } from './demo-harness.js';

const servers = useDemoServers();

const count = (page: Page, testId: string) => page.getByTestId(testId).count();

describe('the message timeline panel', () => {
  it('draws three lanes with commits and an election, and downloads a log ShiViz parses', async () => {
    const profile = new Profile();
    const context = await profile.start();
    try {
      const url = servers.current.pageUrl('timeline');
      const pages = [await openTab(context, url, context.pages()[0])];
      pages.push(await openTab(context, url), await openTab(context, url));
      await settled(pages, 3, 3);
      const [first] = pages as [Page, Page, Page];
      await first.getByTestId('timeline-toggle').click();
      // The other tabs follow the toggle.
      for (const page of pages)
        await waitFor(
          async () =>
            (await page.getByTestId('timeline-toggle').getAttribute('aria-pressed')) === 'true'
              ? true
              : null,
          'every tab recording',
        );
      for (let i = 0; i < 5; i++) {
        await first.getByTestId('kv-key').fill(`k${i}`);
        await first.getByTestId('kv-value').fill(String(i));
        await first.getByTestId('kv-put').click();
      }
      await waitFor(
        async () =>
          (await count(first, 'timeline-lane')) === 3 && (await count(first, 'timeline-commit')) > 0
            ? true
            : null,
        'three lanes and a commit mark',
      );

      // Downloaded by the button, as a user would, with every tab's ring in it.
      const [download] = await Promise.all([
        first.waitForEvent('download'),
        first.getByTestId('timeline-download').click(),
      ]);
      const file = readFileSync(await download.path(), 'utf8');
      const events = readShiViz(file); // Every line pair parses with ShiViz's default parser.
      const hosts = new Set<string>();
      for (const { host, clock } of events) {
        expect(clock[host]).toBeGreaterThan(0);
        hosts.add(host);
      }
      expect(hosts.size).toBe(3);
      expect(events.some(({ event }) => event.includes('commit index'))).toBe(true);

      // The leader's tab closes: it hands leadership over, and the others hold an election.
      const leaderId = (await Promise.all(pages.map(status))).find((s) => s.role === 'leader')!.id;
      const ids = await Promise.all(pages.map(async (page) => (await status(page)).id));
      const leaderPage = pages[ids.indexOf(leaderId)]!;
      await leaderPage.close({ runBeforeUnload: true });
      const watcher = pages.find((page) => page !== leaderPage)!;
      await waitFor(
        async () => ((await count(watcher, 'timeline-election')) > 0 ? true : null),
        'an election mark',
        30_000,
      );
      // The closed tab's ring is gone with it, but its lane stays: its messages came through.
      expect(await count(watcher, 'timeline-lane')).toBe(3);
      const exported = await watcher.evaluate(() => window.webraftTimeline!.exportShiViz());
      expect(exported).toContain('elected leader');

      const screenshot = process.env['TIMELINE_SCREENSHOT'];
      if (screenshot) await watcher.locator('#timeline').screenshot({ path: screenshot });
    } finally {
      await done(context, profile);
    }
  });
});
