/**
 * Waiting on a LocalCluster in real time, for the tests that run one: its members elect on real
 * timers, so a test polls for what it needs instead of sleeping a guessed while.
 */
import type { KvMember, LocalCluster } from '../../../src/runtime/local-cluster.js';

/** How often a wait polls. */
const POLL_MS = 5;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The member leading `cluster` (other than `not`), once there is one within `withinMs`. */
export async function leaderOf(
  cluster: LocalCluster,
  not?: KvMember,
  withinMs = 2500,
): Promise<KvMember> {
  for (let waited = 0; waited < withinMs; waited += POLL_MS) {
    const leader = cluster.leader();
    if (leader !== null && leader !== not) return leader;
    await sleep(POLL_MS);
  }
  throw new Error(`no leader within ${withinMs / 1000} s`);
}
