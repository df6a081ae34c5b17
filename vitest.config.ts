/**
 * Vitest config: unit and simulation tests in Node. Browser tests (test/e2e, real Chromium
 * through Playwright) have their own config, vitest.e2e.config.ts (`npm run test:e2e`).
 */
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/e2e/**'],
    environment: 'node',
    // Simulation and property tests run many seeds; keep a generous ceiling, not a tight one.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Forks isolate tests that touch process-wide state; fine on a 2-core CI box.
    pool: 'forks',
  },
});
