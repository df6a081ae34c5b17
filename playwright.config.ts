/**
 * Playwright Test config for test/playwright: our own tests written with the fixture users
 * import (`webraft/playwright`). One worker: each test runs a browser of several tabs, and the
 * machine has 2 cores. The fixture starts its own Chromium (/usr/bin/chromium here).
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'test/playwright',
  testMatch: '**/*.spec.ts',
  workers: 1,
  timeout: 180_000,
  retries: 0,
  reporter: [['list']],
  forbidOnly: process.env['CI'] !== undefined,
  outputDir: 'test-results',
});
