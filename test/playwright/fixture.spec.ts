/**
 * The fixture test writers import (`webraft/playwright`), used as they would: the README's
 * example, each fault on its own, and the two checks — which must also fail when they should.
 */
import { expect, test } from '../../src/testing/playwright.js';
import { NotConvergedError, NotLinearizableError } from '../../src/testing/playwright.js';

test('the README example: a partition and a leader crash lose nothing', async ({ cluster }) => {
  const tabs = await cluster.open(3);
  await cluster.waitForLeader();
  await tabs[0]!.kv.put('greeting', 'hello');
  await cluster.partition(tabs[0]!);
  await cluster.kill(cluster.leader);
  await cluster.heal();
  await cluster.open(1); // Takes the killed tab's place.
  await cluster.waitForLeader();
  expect(await cluster.tabs[0]!.kv.get('greeting')).toBe('hello');
  await cluster.expectConverged();
  cluster.expectLinearizable();
});

test('concurrent writers on every tab, through reload, freeze and a signaling restart', async ({
  cluster,
}) => {
  const tabs = await cluster.open(3);
  await cluster.waitForLeader({ voters: 3 });
  const writeBurst = (round: number) =>
    Promise.all(
      cluster.tabs.flatMap((tab) =>
        ['a', 'b'].map(async (key) => {
          await tab.kv.put(key, { round, by: tab.label });
          await tab.kv.cas(key, { round, by: tab.label }, { round, by: tab.label, swapped: true });
          await tab.kv.get(key);
        }),
      ),
    );
  await writeBurst(1);
  await cluster.reload(tabs[1]!);
  await writeBurst(2);
  await cluster.freeze(tabs[2]!);
  await Promise.all(tabs.slice(0, 2).map((tab) => tab.kv.put('c', tab.label)));
  await cluster.thaw(tabs[2]!);
  await cluster.restartSignaling(500);
  const agreed = await cluster.waitForAgreement({ voters: 3, members: 3 });
  expect(agreed.leaderId).toBe(await (await cluster.waitForLeader()).memberId());
  await writeBurst(3);
  await cluster.expectConverged();
  const verdict = cluster.expectLinearizable();
  expect(verdict.opsChecked).toBe(cluster.operations().length);
  expect(cluster.operations().length).toBe(3 * 2 * 3 * 3 + 2);
});

test('a full disk: the member restarts from its database and keeps its writes', async ({
  cluster,
}) => {
  const tabs = await cluster.open(3);
  await cluster.waitForLeader({ voters: 3 });
  await tabs[0]!.kv.put('before', 1);
  const id = await tabs[1]!.memberId();
  await cluster.fillDisk(tabs[1]!);
  await tabs[0]!.kv.put('during', 2); // Its next write fails; its page restarts it.
  await expect
    .poll(async () => (await tabs[1]!.status()).restarts.count, { timeout: 30_000 })
    .toBeGreaterThan(0);
  await cluster.waitForLeader({ voters: 3 });
  expect(await tabs[1]!.memberId()).toBe(id);
  expect(await tabs[1]!.kv.get('during')).toBe(2);
  await cluster.expectConverged();
  cluster.expectLinearizable();
});

test.describe('the checks fail when they should', () => {
  test.use({ webraft: { timeoutMs: 3_000 } });

  test('a tab cut off from a write has not converged', async ({ cluster }) => {
    const tabs = await cluster.open(3);
    await cluster.waitForLeader({ voters: 3 });
    const follower = tabs.find((tab) => tab !== cluster.leader)!;
    await cluster.partition(follower);
    await cluster.leader.kv.put('missed', true);
    await expect(cluster.expectConverged()).rejects.toBeInstanceOf(NotConvergedError);
    await cluster.heal();
    await cluster.expectConverged();
  });

  test('a read of a value nobody wrote is not linearizable', async ({ cluster }) => {
    const [tab] = await cluster.open(1);
    await cluster.waitForLeader();
    await tab!.kv.put('x', 'real');
    const at = performance.timeOrigin + performance.now();
    cluster.history.record({
      kind: 'invoke',
      id: 'forged',
      client: 'forger',
      input: { op: 'get', key: 'x' },
      at,
    });
    cluster.history.record({ kind: 'return', id: 'forged', output: { value: '"ghost"' }, at });
    expect(() => cluster.expectLinearizable()).toThrow(NotLinearizableError);
  });
});
