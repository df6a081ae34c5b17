/**
 * The fixture test writers import (`webraft/playwright`), used as they would: the README's
 * example, then each fault and check on its own.
 */
import { expect, test } from '../../src/testing/playwright.js';

test('the README example: a partition and a leader crash lose nothing', async ({ cluster }) => {
  const tabs = await cluster.open(3);
  await cluster.waitForLeader();
  await tabs[0]!.kv.put('greeting', 'hello');
  await cluster.partition(tabs[0]!);
  await cluster.kill(cluster.leader);
  await cluster.heal();
  await cluster.open(1);
  await cluster.waitForLeader();
  expect(await cluster.tabs[0]!.kv.get('greeting')).toBe('hello');
  await cluster.expectConverged();
  cluster.expectLinearizable();
});
