/**
 * Vitest config for the browser tests in test/e2e: real Chromium (/usr/bin/chromium) through
 * Playwright, one file at a time (each starts its own browsers on a 2-core machine).
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
