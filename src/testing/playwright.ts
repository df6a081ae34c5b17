/**
 * `webraft/playwright`: a Playwright Test fixture that gives each test a fresh webraft cluster of
 * real browser tabs (src/testing/cluster.ts), closed with everything it started when the test
 * ends. On a failure, each open tab's status and recent log are attached to the report.
 *
 *     import { test, expect } from 'webraft/playwright';
 *
 *     test('a write survives the leader', async ({ cluster }) => {
 *       const tabs = await cluster.open(3);
 *       await cluster.waitForLeader();
 *       await tabs[0].kv.put('greeting', 'hello');
 *       await cluster.kill(cluster.leader);
 *       await cluster.waitForLeader();
 *       expect(await cluster.tabs[0].kv.get('greeting')).toBe('hello');
 *       await cluster.expectConverged();
 *       cluster.expectLinearizable();
 *     });
 *
 * Options go through `test.use({ webraft: { … } })` (TestClusterOptions: your app's URL, the
 * global it sets, a signaling server of your own, the Chromium to drive, timeouts).
 */
import { test as base } from '@playwright/test';
import type { TestInfo } from '@playwright/test';
import { TestCluster } from './cluster.js';
import type { TestClusterOptions } from './cluster.js';

export interface WebraftFixtures {
  /** A fresh cluster for this test: open tabs on it, fault them, check them. */
  readonly cluster: TestCluster;
  /** Options for `cluster`; set them with `test.use({ webraft: { … } })`. */
  readonly webraft: TestClusterOptions;
}

export const test = base.extend<WebraftFixtures>({
  webraft: [{}, { option: true }],
  cluster: async ({ webraft }, use, testInfo) => {
    const cluster = await TestCluster.start(webraft);
    try {
      await use(cluster);
      if (testInfo.status !== testInfo.expectedStatus) await attachMembers(cluster, testInfo);
    } finally {
      await cluster.close();
    }
  },
});

export { expect } from '@playwright/test';
export {
  ClusterCheckError,
  ClusterTimeoutError,
  NotConvergedError,
  NotLinearizableError,
  TestCluster,
  TestTab,
} from './cluster.js';
export type { RecordedKv, TestClusterOptions } from './cluster.js';

/** What each open tab's member said of itself when the test failed, for the report. */
async function attachMembers(cluster: TestCluster, testInfo: TestInfo): Promise<void> {
  for (const tab of cluster.tabs) {
    const body = await tab.page
      .evaluate(async (handle) => {
        const member = (window as unknown as Record<string, unknown>)[handle] as {
          status(): Promise<unknown>;
          recentLog(count: number): Promise<unknown>;
        };
        return JSON.stringify(
          { status: await member.status(), log: await member.recentLog(50) },
          null,
          2,
        );
      }, cluster.handle)
      .catch((error: unknown) => JSON.stringify({ unreachable: String(error) }));
    await testInfo.attach(`webraft ${tab.label}`, { body, contentType: 'application/json' });
  }
}
