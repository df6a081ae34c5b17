/**
 * The demo in real Chromium with the signaling server on an edge runtime (issue 11): for workerd
 * (a Durable Object per room) and for Deno, three tabs of the demo join one room through that
 * host alone (no Node signaling server runs), elect one leader with three voters, and a put in
 * one tab is read in the other two. Hosts run as processes on 127.0.0.1 (edge-hosts.ts).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Profile } from './chromium.js';
import { startDemoServers } from './demo-server.js';
import type { DemoServers } from './demo-server.js';
import { buildEdgeForTest, EDGE_HOST_KINDS, startEdgeHost } from './edge-hosts.js';
import type { EdgeHost } from './edge-hosts.js';
import { done, openTab, settled, status, waitFor } from './tabs.js';
import type { DemoWindow } from './tabs.js';

let build: Awaited<ReturnType<typeof buildEdgeForTest>> | undefined;
beforeAll(async () => {
  build = await buildEdgeForTest();
});
afterAll(() => build?.remove());

describe.each(EDGE_HOST_KINDS)('the demo with signaling on %s', (kind) => {
  let host: EdgeHost | undefined;
  let servers: DemoServers | undefined;

  beforeAll(async () => {
    // Deno, like Node, waits its start grace in every room: off here. workerd keeps the default
    // 8 s, which its Durable Object skips for a room that storage says nobody was in.
    const settings: Record<string, string> =
      kind === 'deno' ? { SIGNAL_BOOTSTRAP_GRACE_MS: '0' } : {};
    host = await startEdgeHost(kind, build!, settings);
    servers = await startDemoServers({ signalingUrl: host.url });
  });

  afterAll(async () => {
    await servers?.close();
    await host?.stop();
  });

  it('three tabs elect one leader with three voters, and a put in one is read in the others', async () => {
    const profile = new Profile();
    const context = await profile.start();
    try {
      const url = servers!.pageUrl(`edge-${kind}`);
      const pages: Page[] = [await openTab(context, url, context.pages()[0])];
      pages.push(await openTab(context, url), await openTab(context, url));
      const leader = await settled(pages, 3, 3, 30_000).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${kind} printed:\n${host!.output()}`, { cause: error });
      });
      expect(leader.voters).toHaveLength(3);
      const statuses = await Promise.all(pages.map(status));
      expect(new Set(statuses.map((s) => s.leaderId))).toEqual(new Set([leader.id]));

      const [writer, ...readers] = pages as [Page, Page, Page];
      await writer.evaluate(() => (window as DemoWindow).webraft!.kv.put('edge', `hello`));
      for (const reader of readers) {
        const value = await waitFor(
          () =>
            reader.evaluate(async () => {
              const entry = await (window as DemoWindow).webraft!.kv.get('edge');
              return entry?.value ?? null;
            }),
          `the put to be read in another tab over ${kind} signaling`,
        );
        expect(value).toBe('hello');
      }
    } finally {
      await done(context, profile);
    }
  });
});
