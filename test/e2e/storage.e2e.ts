/**
 * IndexedDbStorage in real Chromium with a profile on disk: acknowledged writes survive the
 * browser being killed mid-write, and a corrupt last record is truncated on recovery.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { bundle, Profile, serveLab } from './chromium.js';
import type * as Lab from './storage-lab.js';

type LabWindow = { lab: typeof Lab };
let server: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  server = await serveLab(
    await bundle(fileURLToPath(new URL('./storage-lab.ts', import.meta.url))),
  );
});

afterAll(async () => {
  await server?.close();
});

const verify = (page: Page, memberId: string) =>
  page.evaluate((id) => (window as unknown as LabWindow).lab.verify(id), memberId);

describe('IndexedDbStorage in Chromium', () => {
  it('keeps every acknowledged entry when the browser is killed mid-write', async () => {
    const profile = new Profile();
    try {
      const { page } = await profile.launch(server.url);
      let acked = 0;
      let reached: () => void = () => undefined;
      const enough = new Promise<void>((resolve) => (reached = resolve));
      await page.exposeFunction('acked', (index: number) => {
        acked = Math.max(acked, index);
        if (acked >= 600) reached();
      });
      void page
        .evaluate(() => (window as unknown as LabWindow).lab.appendAndReport('m1', 1_000_000, 7))
        .catch(() => undefined); // Cut short by the kill.
      await enough;
      await profile.kill();
      const ackedAtKill = acked;

      const { context, page: after } = await profile.launch(server.url);
      const found = await verify(after, 'm1');
      await context.close();
      expect(found.badEntries).toEqual([]);
      expect(found.lastIndex).toBeGreaterThanOrEqual(ackedAtKill);
      expect(found.term).toBe(1);
      expect(found.vote).toBe('m1');
      // In a Storage Bucket of its own, whose strict writes survive the kill as well.
      expect(found.info.bucket).toMatch(/^webraft-[0-9a-f]{16}$/);
    } finally {
      await profile.kill();
      profile.remove();
    }
  });

  it('truncates a deliberately corrupted last record and carries on after it', async () => {
    const profile = new Profile();
    try {
      const { context, page } = await profile.launch(server.url);
      await page.exposeFunction('acked', () => undefined);
      await page.evaluate(() =>
        (window as unknown as LabWindow).lab.appendAndReport('m2', 700, 70),
      );
      const before = await verify(page, 'm2');
      expect(before.lastIndex).toBe(700);
      const corrupted = await page.evaluate(() =>
        (window as unknown as LabWindow).lab.corruptLastSegment('m2'),
      );
      const after = await verify(page, 'm2');
      expect(after.badEntries).toEqual([]);
      expect(after.lastIndex).toBe(corrupted - 1);
      expect(after.info.repair).toMatchObject({ truncatedAfter: corrupted - 1 });
      const last = await page.evaluate(
        (from) => (window as unknown as LabWindow).lab.appendAfterRecovery('m2', from, 5),
        corrupted,
      );
      expect(last).toBe(corrupted + 4);
      await context.close();
    } finally {
      await profile.kill();
      profile.remove();
    }
  });
});
