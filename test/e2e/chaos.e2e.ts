/**
 * The chaos runner in `npm test` (issue 10), short: a few rounds of leader crashes under load
 * plus seeded faults in real Chromium; `npm run test:long` runs twenty. Nothing acknowledged may
 * be lost, the history must be linearizable, and the live members must agree.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from '../chaos/chaos.js';

const ROUNDS = Number(process.env['WEBRAFT_CHAOS_ROUNDS'] ?? 3);

describe('chaos in real browsers', () => {
  it(`${ROUNDS} rounds of leader crashes under load and seeded faults: no violation`, async () => {
    const report = await runChaos({ rounds: ROUNDS, seed: 11, tabs: 4 });
    console.log(JSON.stringify({ metric: 'chaos', ...report }));
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ lost: 0, linearizable: true, violations: 0 });
    expect(report.leaderKills).toBe(ROUNDS);
    expect(report.opsAcked).toBeGreaterThan(50 * ROUNDS);
  }, 300_000);
});
