/**
 * The simulator as a test: healthy seeds pass with no violation for 3- and 5-member clusters,
 * with the autopilot driving the membership, and with an edge member preferred as a voter; a seed
 * replays byte for byte, and every deliberate core bug (CORE_BUGS) is caught — proof that the
 * checks can fail. `npm run sim` runs many more seeds.
 */
import { describe, expect, it } from 'vitest';
import { CORE_BUGS } from '../../src/core/config.js';
import type { CoreBug } from '../../src/core/config.js';
import { runSeed } from './run-seed.js';
import type { SeedResult } from './run-seed.js';

/** Seeds per cluster size in the healthy run. */
const HEALTHY_SEEDS = 24;
/** Seeds of the autopilot mode (tabs come and go; the leader's tab changes the membership). */
const AUTOPILOT_SEEDS = 12;
/** Autopilot seeds with an edge member (a preferred voter, or one that must never vote). */
const EDGE_SEEDS = 12;
/** Seeds tried per deliberate bug before giving up (the brief's bound). */
const BUG_SEEDS_MAX = 500;

function describeFailure(result: SeedResult): string {
  const first = result.violations[0];
  const edge = result.options.edge.ids.length;
  const replay = `npm run sim -- --seeds 1 --start ${result.seed} --members ${result.members} --membership ${result.membership}${edge > 0 ? ` --edge ${edge}` : ''}`;
  return first === undefined
    ? ''
    : `seed ${result.seed}: ${first.kind}: ${first.message}\n  replay: ${replay}`;
}

describe('simulator', () => {
  for (const members of [3, 5] as const) {
    it(`${HEALTHY_SEEDS} seeds of a ${members}-member cluster run with no violation`, async () => {
      const failures: string[] = [];
      let acked = 0;
      for (let seed = 1; seed <= HEALTHY_SEEDS; seed++) {
        const result = await runSeed(seed, { members });
        acked += result.ops.acked;
        if (result.violationCount > 0 || result.linearizable !== 'ok')
          failures.push(describeFailure(result));
      }
      expect(failures).toEqual([]);
      expect(acked).toBeGreaterThan(HEALTHY_SEEDS * 50);
    }, 300_000);
  }

  it(`${AUTOPILOT_SEEDS} autopilot seeds: membership follows the tabs with no violation`, async () => {
    const failures: string[] = [];
    const totals = new Map<string, number>();
    for (let seed = 1; seed <= AUTOPILOT_SEEDS; seed++) {
      const result = await runSeed(seed, { members: 3, membership: 'autopilot' });
      for (const [name, value] of Object.entries(result.counters))
        totals.set(name, (totals.get(name) ?? 0) + value);
      if (result.violationCount > 0 || result.linearizable !== 'ok')
        failures.push(describeFailure(result));
    }
    expect(failures).toEqual([]);
    for (const counter of [
      'autopilotAddLearner',
      'autopilotPromote',
      'autopilotRemove',
      'tabsJoined',
    ])
      expect(totals.get(counter), counter).toBeGreaterThan(0);
    expect(totals.get('configChangeAttempts')).toBe(0); // No random churn in this mode.
  }, 300_000);

  it(`${EDGE_SEEDS} autopilot seeds with an edge member: it votes before tabs, with no violation`, async () => {
    const failures: string[] = [];
    const totals = new Map<string, number>();
    for (let seed = 1; seed <= EDGE_SEEDS; seed++) {
      const members = seed % 2 === 0 ? 5 : 3;
      const result = await runSeed(seed, { members, membership: 'autopilot', edge: 1 });
      for (const [name, value] of Object.entries(result.counters))
        totals.set(name, (totals.get(name) ?? 0) + value);
      if (result.violationCount > 0 || result.linearizable !== 'ok')
        failures.push(describeFailure(result));
    }
    expect(failures).toEqual([]);
    expect(totals.get('edgeMembers')).toBe(EDGE_SEEDS);
    expect(totals.get('autopilotPreferredPromoted'), 'preferred promotions').toBeGreaterThan(0);
  }, 300_000);

  it('replays a seed exactly: same seed, same history, byte for byte', async () => {
    for (const [seed, members] of [
      [7, 3],
      [8, 5],
    ] as const) {
      const first = await runSeed(seed, { members });
      const second = await runSeed(seed, { members });
      expect(second.historyDigest).toBe(first.historyDigest);
      expect(second.events).toBe(first.events);
      expect(second.ops).toEqual(first.ops);
    }
    const edge = { members: 3, membership: 'autopilot', edge: 1 } as const;
    const edgeFirst = await runSeed(9, edge);
    expect((await runSeed(9, edge)).historyDigest).toBe(edgeFirst.historyDigest);
    const other = await runSeed(9, { members: 3 });
    const again = await runSeed(7, { members: 3 });
    expect(other.historyDigest).not.toBe(again.historyDigest);
  }, 120_000);

  for (const bug of CORE_BUGS) {
    it(`catches the deliberate core bug '${bug}' within ${BUG_SEEDS_MAX} seeds`, async () => {
      const found = await huntBug(bug);
      expect(found, `no violation in ${BUG_SEEDS_MAX} seeds with bug ${bug}`).not.toBeNull();
      expect(found!.violations.length).toBeGreaterThan(0);
    }, 600_000);
  }
});

/** Runs seeds with `bug` switched on until one shows a violation. */
async function huntBug(bug: CoreBug): Promise<SeedResult | null> {
  for (let seed = 1; seed <= BUG_SEEDS_MAX; seed++) {
    const result = await runSeed(seed, {
      members: seed % 2 === 0 ? 5 : 3,
      bug,
      stopAtFirstViolation: true,
    });
    if (result.violationCount > 0) return result;
  }
  return null;
}
