/**
 * Issue 13's room as a story, on real members in one process: a laptop tab, an always-on edge
 * member and a phone tab, their membership run by the autopilot with the edge member preferred as
 * a voter. The laptop closes: the other two are a majority and keep committing; the autopilot
 * then leaves the edge member voting, so the phone can close too and the room still commits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  AUTOPILOT_DEFAULTS,
  membershipView,
  nextMembershipChange,
} from '../../../src/client/autopilot.js';
import type { VoterPreferences } from '../../../src/client/autopilot.js';
import { KvSession } from '../../../src/client/kv-session.js';
import type { MemberId } from '../../../src/core/types.js';
import { LocalCluster } from '../../../src/runtime/local-cluster.js';
import { leaderOf, sleep } from '../runtime/cluster-wait.js';

/** LocalCluster names its first member m1: here, the laptop tab that starts the room. */
const LAPTOP = 'm1';
const EDGE = 'e-1';
const PHONE = 'm-phone';
const EDGE_PREFERRED: VoterPreferences = { preferred: new Set([EDGE]), neverVote: new Set() };

/**
 * Runs the autopilot at whoever leads (as MemberHost does every 250 ms, faster here) until the
 * voters are `voters` and nothing more is decided; returns the changes applied, in order.
 */
async function autopilotUntil(
  cluster: LocalCluster,
  room: ReadonlySet<MemberId>,
  voters: readonly MemberId[],
): Promise<string[]> {
  const made: string[] = [];
  for (let round = 0; round < 200; round++) {
    const leader = await leaderOf(cluster);
    const decision = nextMembershipChange(
      membershipView(leader),
      room,
      (id) => (room.has(id) ? 0 : AUTOPILOT_DEFAULTS.removeAfterMs),
      AUTOPILOT_DEFAULTS,
      EDGE_PREFERRED,
    );
    if (decision === null) {
      const now = [...leader.status().voters].sort();
      if (now.join() === [...voters].sort().join()) return made;
      await sleep(10); // A learner still catching up, or a leader still to be elected.
      continue;
    }
    // Refused (a change in progress, leadership lost): decided again next round.
    const applied = await leader.changeMembership(decision.change).then(
      () => true,
      () => sleep(10).then(() => false),
    );
    if (applied) made.push(`${decision.change.type} ${decision.change.member}`);
  }
  throw new Error(`voters never became ${voters.join(',')}; changes: ${made.join('; ')}`);
}

async function write(cluster: LocalCluster, key: string, value: number): Promise<void> {
  const session = await KvSession.open({
    submit: (command) => cluster.submit(command),
    sleep,
    attemptsMax: 40,
  });
  await session.put(key, value);
}

let cluster: LocalCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe('a laptop tab, an edge member and a phone tab', () => {
  it('keep a quorum when the laptop closes, and the edge member keeps the room after both', async () => {
    cluster = await LocalCluster.start({ size: 1, tickMs: 5 });
    const c = cluster;
    await leaderOf(c);
    await c.join(EDGE);
    await c.join(PHONE);
    const all = new Set([LAPTOP, EDGE, PHONE]);
    const joined = await autopilotUntil(c, all, [LAPTOP, EDGE, PHONE]);
    // The edge member is added and promoted before the phone.
    expect(joined.slice(0, 2)).toEqual([`addLearner ${EDGE}`, `addLearner ${PHONE}`]);
    expect(joined.indexOf(`promote ${EDGE}`)).toBeLessThan(joined.indexOf(`promote ${PHONE}`));
    await write(c, 'before', 1);

    // The laptop tab closes without a word: two of three voters remain, a majority.
    await c.crash(LAPTOP);
    await write(c, 'laptop-closed', 2);
    const withoutLaptop = new Set([EDGE, PHONE]);
    const shrunk = await autopilotUntil(c, withoutLaptop, [EDGE]);
    expect(shrunk).toEqual([`remove ${LAPTOP}`, `demote ${PHONE}`]);

    // Now the phone closes too: the edge member alone commits.
    await c.crash(PHONE);
    await write(c, 'phone-closed', 3);
    const leader = await leaderOf(c);
    expect(leader.status().id).toBe(EDGE);
    expect(await c.read({ type: 'get', key: 'before' })).toMatchObject({ value: 1 });
  });
});
