/**
 * The transport layer in real Chromium (issue 6): three tabs and the Node signaling server form a
 * full WebRTC mesh whose raft channels live in each tab's worker, frames flow both ways, a
 * reloaded tab rejoins, a wrong secret is refused, and tabs talk over BroadcastChannel with the
 * signaling server stopped.
 */
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSignalingServer } from '../../src/signaling/node-server.js';
import { bundle, Profile, serveLab } from './chromium.js';
import type * as Lab from './mesh-lab.js';
import type { BridgeMode } from './mesh-lab.js';

type LabWindow = { lab: typeof Lab };
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
let server: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  const [page, worker] = await Promise.all([
    bundle(here('./mesh-lab.ts')),
    bundle(here('./mesh-worker.ts')),
  ]);
  server = await serveLab(page, { '/worker.js': worker });
});

afterAll(async () => {
  await server?.close();
});

type LabApi = typeof Lab;

/** Calls `lab[name](...args)` in the page and returns its (serializable) result. */
function call<K extends keyof LabApi>(
  page: Page,
  name: K,
  ...args: Parameters<LabApi[K]>
): Promise<Awaited<ReturnType<LabApi[K]>>> {
  return page.evaluate(
    ({ name, args }) => {
      const fn = (window as unknown as LabWindow).lab[name] as (...a: unknown[]) => unknown;
      return fn(...args);
    },
    { name, args: args as unknown[] },
  ) as Promise<Awaited<ReturnType<LabApi[K]>>>;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const joinAs = (page: Page, url: string, memberId: string, mode: BridgeMode, secret: string) =>
  call(page, 'join', { url, room: 'mesh', memberId, mode, secret });

/** The signaling server of these tests: room `mesh` has a secret; bootstrappers named at once. */
const startMeshSignaling = () =>
  startSignalingServer({
    port: 0,
    secrets: { mesh: 'opensesame' },
    limits: { bootstrapGraceMs: 0 },
  });

const report = (page: Page) => call(page, 'report');

/** Three tabs of the mesh lab in `profile`'s browser. */
async function threeLabTabs(profile: Profile) {
  const { context, page: first } = await profile.launch(server.url);
  const pages = [first, await context.newPage(), await context.newPage()];
  for (const page of pages.slice(1)) {
    await page.goto(server.url);
    await page.waitForFunction(() => (window as { labReady?: boolean }).labReady === true);
  }
  return { context, pages };
}

describe.each(['transfer', 'port'] as const)('WebRTC mesh in Chromium (%s)', (mode) => {
  it('three tabs form a full mesh, exchange frames in their workers, survive a reload and a dropped link', async () => {
    const signaling = await startMeshSignaling();
    const profile = new Profile();
    try {
      const { context, pages } = await threeLabTabs(profile);
      const ids = ['m1', 'm2', 'm3'];
      for (const [i, page] of pages.entries())
        await joinAs(page, signaling.url, ids[i]!, mode, 'opensesame');
      for (const [i, page] of pages.entries()) {
        await waitFor(async () => (await report(page)).peers.length === 2, `${ids[i]} mesh`);
      }
      for (const [i, page] of pages.entries()) {
        for (const peer of ids.filter((id) => id !== ids[i])) await call(page, 'send', peer, 5);
      }
      for (const [i, page] of pages.entries()) {
        await waitFor(async () => {
          const received = (await report(page)).received;
          return ids.filter((id) => id !== ids[i]).every((id) => received[id] === 5);
        }, `${ids[i]} frames`);
      }

      // m2 reloads: the others replace its old connection and frames flow again.
      await pages[1]!.reload();
      await pages[1]!.waitForFunction(() => (window as { labReady?: boolean }).labReady === true);
      await joinAs(pages[1]!, signaling.url, 'm2', mode, 'opensesame');
      await waitFor(async () => (await report(pages[1]!)).peers.length === 2, 'm2 back in mesh');
      await call(pages[0]!, 'send', 'm2', 3);
      await call(pages[2]!, 'send', 'm2', 4);
      await waitFor(async () => {
        const received = (await report(pages[1]!)).received;
        return received['m1'] === 3 && received['m3'] === 4;
      }, 'frames to the reloaded tab');

      // m1 drops its connection to m3: it comes back by itself (retry with backoff).
      await call(pages[0]!, 'restart', 'm3');
      await waitFor(async () => (await call(pages[0]!, 'peerStates'))['m3'] === 'open', 'retry');
      await waitFor(async () => {
        await call(pages[0]!, 'send', 'm3', 1);
        return ((await report(pages[2]!)).received['m1'] ?? 0) > 5;
      }, 'frames after the reconnect');
      await context.close();
    } finally {
      await profile.kill();
      profile.remove();
      await signaling.close();
    }
  });
});

describe('room auth and BroadcastChannel in Chromium', () => {
  it('detects that Chromium can move a data channel into a worker', async () => {
    const profile = new Profile();
    try {
      const { context, page } = await profile.launch(server.url);
      expect(await call(page, 'transferSupported')).toBe(true);
      await context.close();
    } finally {
      await profile.kill();
      profile.remove();
    }
  });

  it('refuses a tab with a wrong secret with AUTH_FAILED', async () => {
    const signaling = await startMeshSignaling();
    const profile = new Profile();
    try {
      const { context, page } = await profile.launch(server.url);
      const refused = await page.evaluate(
        (options) =>
          (window as unknown as LabWindow).lab.join(options).then(
            () => 'joined',
            (error: { code?: string }) => error.code ?? 'no code',
          ),
        {
          url: signaling.url,
          room: 'mesh',
          memberId: 'intruder',
          mode: 'port',
          secret: 'guess',
        } as const,
      );
      expect(refused).toBe('AUTH_FAILED');
      await context.close();
    } finally {
      await profile.kill();
      profile.remove();
      await signaling.close();
    }
  });

  it('peers refuse each other at the handshake when their secrets differ, though the server let both in', async () => {
    // The server knows no secret for this room: only the peers' own proofs stand in the way.
    const signaling = await startSignalingServer({ port: 0, limits: { bootstrapGraceMs: 0 } });
    const profile = new Profile();
    try {
      const { context, pages } = await threeLabTabs(profile);
      const secrets = { alice: 'opensesame', bob: 'opensesame', mallory: 'guess' };
      for (const [i, [memberId, secret]] of Object.entries(secrets).entries()) {
        await call(pages[i]!, 'join', {
          url: signaling.url,
          room: 'open-room',
          memberId,
          mode: 'transfer',
          secret,
        });
      }
      // Whichever of alice and mallory checks the other's proof first refuses it for good (the
      // other then sees a closed connection, and gets nowhere retrying).
      await waitFor(async () => {
        const alices = await call(pages[0]!, 'peerStates');
        const mallorys = await call(pages[2]!, 'peerStates');
        return (
          alices['bob'] === 'open' &&
          (alices['mallory'] === 'refused' || mallorys['alice'] === 'refused')
        );
      }, 'alice linked with bob, and alice and mallory refusing each other');
      await call(pages[1]!, 'send', 'alice', 2);
      await call(pages[2]!, 'send', 'alice', 3); // Nothing to send it on.
      await waitFor(async () => (await report(pages[0]!)).received['bob'] === 2, 'bob to alice');
      expect((await call(pages[0]!, 'peerStates'))['mallory']).not.toBe('open');
      expect((await report(pages[0]!)).received['mallory']).toBeUndefined();
      await context.close();
    } finally {
      await profile.kill();
      profile.remove();
      await signaling.close();
    }
  });

  it('tabs exchange frames over BroadcastChannel with no signaling server', async () => {
    const profile = new Profile();
    try {
      const { context, page: a } = await profile.launch(server.url);
      const b = await context.newPage();
      await b.goto(server.url);
      await b.waitForFunction(() => (window as { labReady?: boolean }).labReady === true);
      await call(a, 'joinBroadcast', 'offline', 'a');
      await call(b, 'joinBroadcast', 'offline', 'b');
      await call(a, 'send', 'b', 6);
      await call(b, 'send', 'a', 2);
      await waitFor(async () => (await report(b)).received['a'] === 6, 'frames a to b');
      await waitFor(async () => (await report(a)).received['b'] === 2, 'frames b to a');
      await context.close();
    } finally {
      await profile.kill();
      profile.remove();
    }
  });
});
