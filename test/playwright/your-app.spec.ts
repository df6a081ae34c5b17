/**
 * The fixture on an app of the user's own (`url`, `handle`): tabs open that app, its UI is driven
 * through `tab.page`, and the members must converge. The clicks' writes are not recorded, so
 * this history is no case for `expectLinearizable` (a read of 4 with no write of it looks illegal).
 */
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';
import type { ViteDevServer } from 'vite';
import { expect, test } from '../../src/testing/playwright.js';

let app: ViteDevServer;
let base = '';

test.beforeAll(async () => {
  app = await createServer({
    root: fileURLToPath(new URL('./app', import.meta.url)),
    configFile: false,
    logLevel: 'silent',
    server: {
      host: '127.0.0.1',
      port: 0,
      hmr: false,
      watch: null,
      fs: { allow: [fileURLToPath(new URL('../../', import.meta.url))] },
    },
    worker: { format: 'es' },
  });
  await app.listen();
  base = app.resolvedUrls!.local[0]!;
});

test.afterAll(async () => {
  await app.close();
});

test.use({
  webraft: {
    url: (room, signalingUrl) => `${base}?room=${room}&signal=${encodeURIComponent(signalingUrl)}`,
    handle: 'board',
  },
});

test('votes clicked in three tabs of your app all count, once each', async ({ cluster }) => {
  const tabs = await cluster.open(3);
  await cluster.waitForLeader({ voters: 3 });
  for (const tab of tabs) await tab.page.getByTestId('vote').click();
  await cluster.kill(cluster.leader);
  const [fresh] = await cluster.open(1);
  await cluster.waitForLeader();
  await fresh!.page.getByTestId('vote').click();
  for (const tab of cluster.tabs) await expect(tab.page.getByTestId('votes')).toHaveText('4');
  expect(await cluster.tabs[0]!.kv.get('votes')).toBe(4);
  await cluster.expectConverged();
});
