/**
 * A Node member in a room of tabs (issue 11): two Chromium tabs of the demo and one
 * `webraft member` process (the CLI, its log in a data directory) form one cluster of three
 * voters, and a write on a tab is applied by the Node member. Killed with SIGKILL and started
 * again from the same data directory — through the API this time, in this process — it is the
 * same member: it catches up on what was written while it was down, its own writes show on the
 * tabs, and the cluster is back at three voters with it among them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../../src/client/connect.js';
import { startNodeMember } from '../../src/node/member.js';
import { Profile } from './chromium.js';
import { spawnCli } from './cli-process.js';
import { done, leaderStatus, openTab, useDemoServers, waitFor } from './demo-harness.js';
import type { DemoWindow } from './demo-harness.js';

const servers = useDemoServers();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What the CLI prints with `--json`, as far as this test reads it. */
interface StatusLine {
  readonly id: string;
  readonly role: string;
  readonly applied: number;
  readonly voters: readonly string[];
}

/** `webraft member` as a child process, with the status lines it printed so far. */
function spawnCliMember(room: string, signalingUrl: string, dataDir: string) {
  const args = ['--room', room, '--signal', signalingUrl, '--data-dir', dataDir, '--json'];
  return spawnCli<StatusLine>(['member', ...args], cleanups);
}

const kvOf = (page: Page) => ({
  put: (key: string, value: string) =>
    page.evaluate(([k, v]) => (window as DemoWindow).webraft!.kv.put(k, v), [key, value] as const),
  get: (key: string) => page.evaluate((k) => (window as DemoWindow).webraft!.kv.get(k), key),
});

describe('a Node member with two tabs', () => {
  it('joins as a voter, sees the tabs’ writes, and comes back from its data directory', async () => {
    const room = `node${Date.now() % 100_000}`;
    const pageUrl = servers.current.pageUrl(room);
    const signalingUrl = new URL(pageUrl).searchParams.get('signal')!;
    const dataDir = mkdtempSync(join(tmpdir(), 'webraft-node-member-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const profile = new Profile();
    const context = await profile.start();
    cleanups.push(() => done(context, profile));
    const tabs = [await openTab(context, pageUrl, context.pages()[0])];
    tabs.push(await openTab(context, pageUrl));

    const cli = spawnCliMember(room, signalingUrl, dataDir);
    const nodeId = await waitFor(async () => cli.latest()?.id ?? null, 'the CLI member', 20_000);
    await waitFor(
      async () => {
        const leader = await leaderStatus(tabs);
        return leader?.voters.length === 3 && leader.voters.includes(nodeId) ? leader : null;
      },
      `three voters, the Node member ${nodeId} among them:\n${cli.output()}`,
      40_000,
    );

    const written = await kvOf(tabs[0]!).put('from-tab', 'hello node');
    await waitFor(
      async () => ((cli.latest()?.applied ?? 0) >= written.index ? true : null),
      'the Node member to apply the tab’s write',
    );

    // A crash: no hand-off, no goodbye, its lock file left behind.
    cli.child.kill('SIGKILL');
    await new Promise((resolve) => cli.child.once('exit', resolve));
    await kvOf(tabs[1]!).put('while-down', 'missed');

    const node: Cluster = await startNodeMember({ room, signalingUrl, dataDir });
    cleanups.push(() => node.close());
    expect(node.id).toBe(nodeId);
    const caughtUp = await waitFor(async () => {
      const read = await node.kv.get('while-down', { consistency: 'local' });
      return read?.value === 'missed' ? read : null;
    }, 'the restarted Node member to catch up');
    expect(caughtUp.value).toBe('missed');
    expect((await node.kv.get('from-tab'))?.value).toBe('hello node');

    await node.kv.put('from-node', 'hello tabs');
    for (const tab of tabs) {
      const read = await waitFor(async () => {
        const got = await kvOf(tab).get('from-node');
        return got?.value === 'hello tabs' ? got : null;
      }, 'the Node member’s write on every tab');
      expect(read.value).toBe('hello tabs');
    }
    const settled = await waitFor(async () => {
      const leader = await leaderStatus(tabs);
      const nodeStatus = await node.status();
      const voters = leader?.voters ?? nodeStatus.voters;
      return voters.length === 3 && voters.includes(nodeId) ? voters : null;
    }, 'three voters again, the Node member among them');
    expect(settled).toContain(nodeId);
  });
});
