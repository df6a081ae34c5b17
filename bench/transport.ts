/**
 * Transport benchmark (issue 6), from one run of real Chromium with two tabs and the Node
 * signaling server: the round trip of a small message on a plain RTCDataChannel between the two
 * pages (the baseline) against our framed round trip worker to worker through the mesh, for both
 * ways of reaching the worker (the channel moved into it, or bridged through a MessagePort).
 * Baseline and subject alternate in blocks, so a noisy moment hurts both.
 */
import { percentile, round3 } from './stats.js';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { startSignalingServer } from '../src/signaling/node-server.js';
import { bundle, Profile, serveLab } from '../test/e2e/chromium.js';
import type * as Lab from '../test/e2e/mesh-lab.js';
import type { BridgeMode } from '../test/e2e/mesh-lab.js';

type LabWindow = { lab: typeof Lab };
const BLOCKS = 5;
const ROUNDS_PER_BLOCK = Number(process.env.BENCH_TRANSPORT_ROUNDS ?? 300);
const WARMUP_ROUNDS = 50;

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

async function openTab(page: Page, url: string): Promise<Page> {
  await page.goto(url);
  await page.waitForFunction(() => (window as { labReady?: boolean }).labReady === true);
  return page;
}

/** Round trips on a plain data channel (raw) and framed worker to worker, alternating blocks. */
async function roundTrips(
  a: Page,
  b: Page,
  signalUrl: string,
  mode: BridgeMode,
  rounds = ROUNDS_PER_BLOCK,
): Promise<{ raw: number[]; framed: number[]; broadcastChannel: number[] }> {
  const room = `bench-${mode}`;
  for (const [page, memberId] of [
    [a, 'm1'],
    [b, 'm2'],
  ] as const) {
    await page.evaluate((options) => (window as unknown as LabWindow).lab.join(options), {
      url: signalUrl,
      room,
      memberId,
      mode,
    } as const);
  }
  for (const page of [a, b]) {
    await page.waitForFunction(() =>
      Object.values((window as unknown as LabWindow).lab.peerStates()).includes('open'),
    );
  }
  await b.evaluate(() => (window as unknown as LabWindow).lab.setEcho(true));
  await Promise.all([
    b.evaluate(() => (window as unknown as LabWindow).lab.rawPrepare('m1')),
    a.evaluate(() => (window as unknown as LabWindow).lab.rawPrepare('m2')),
  ]);
  // The mesh channel reaches the worker a little after 'open' on the page: wait for an answer.
  await a.evaluate((n) => (window as unknown as LabWindow).lab.pingPong('m2', n), WARMUP_ROUNDS);
  await a.evaluate((n) => (window as unknown as LabWindow).lab.rawPingPong(n), WARMUP_ROUNDS);
  await b.evaluate(() => (window as unknown as LabWindow).lab.broadcastPrepare(false));
  await a.evaluate(() => (window as unknown as LabWindow).lab.broadcastPrepare(true));
  const broadcastRounds = (n: number) =>
    a.evaluate((n) => (window as unknown as LabWindow).lab.broadcastPingPong(n), n);
  await broadcastRounds(WARMUP_ROUNDS);
  const raw: number[] = [];
  const framed: number[] = [];
  const broadcastChannel: number[] = [];
  for (let block = 0; block < BLOCKS; block++) {
    raw.push(
      ...(await a.evaluate((n) => (window as unknown as LabWindow).lab.rawPingPong(n), rounds)),
    );
    framed.push(
      ...(await a.evaluate((n) => (window as unknown as LabWindow).lab.pingPong('m2', n), rounds)),
    );
    broadcastChannel.push(...(await broadcastRounds(rounds)));
  }
  return { raw, framed, broadcastChannel };
}

async function measure(a: Page, b: Page, signalUrl: string, mode: BridgeMode) {
  const { raw, framed, broadcastChannel } = await roundTrips(a, b, signalUrl, mode);
  return {
    mode,
    rawP50Ms: round3(percentile(raw, 0.5)),
    rawP99Ms: round3(percentile(raw, 0.99)),
    framedP50Ms: round3(percentile(framed, 0.5)),
    framedP99Ms: round3(percentile(framed, 0.99)),
    p50Ratio: round3(percentile(framed, 0.5) / percentile(raw, 0.5)),
    p99Ratio: round3(percentile(framed, 0.99) / percentile(raw, 0.99)),
    roundTrips: framed.length,
    broadcastChannelP50Ms: round3(percentile(broadcastChannel, 0.5)),
  };
}

/** Two tabs, the lab page and the signaling server, for the duration of `use`. */
async function withTwoTabs<T>(
  use: (open: () => Promise<Page>, first: Page, signalUrl: string) => Promise<T>,
): Promise<T> {
  const [page, worker] = await Promise.all([
    bundle(here('../test/e2e/mesh-lab.ts')),
    bundle(here('../test/e2e/mesh-worker.ts')),
  ]);
  const server = await serveLab(page, { '/worker.js': worker });
  const signaling = await startSignalingServer({ port: 0, limits: { bootstrapGraceMs: 0 } });
  const profile = new Profile();
  try {
    const { context, page: first } = await profile.launch(server.url);
    const result = await use(
      async () => openTab(await context.newPage(), server.url),
      first,
      signaling.url,
    );
    await context.close();
    return result;
  } finally {
    await profile.kill();
    profile.remove();
    await signaling.close();
    await server.close();
  }
}

/**
 * The `rtt` baseline of `npm run bench`: round trips of a small message on a plain data channel
 * between two tabs (and, for context, our framed round trip worker to worker, and a plain
 * BroadcastChannel round trip page to page, the path between tabs of one browser), in ms.
 */
export function dataChannelRoundTrips(
  rounds: number,
): Promise<{ raw: number[]; framed: number[]; broadcastChannel: number[] }> {
  return withTwoTabs(async (open, first, signalUrl) =>
    roundTrips(first, await open(), signalUrl, 'transfer', rounds),
  );
}

export async function runTransportBench(): Promise<void> {
  const rows = await withTwoTabs(async (open, first, signalUrl) => {
    const rows = [];
    for (const mode of ['transfer', 'port'] as const) {
      const a = mode === 'transfer' ? first : await open();
      const b = await open();
      rows.push(await measure(a, b, signalUrl, mode));
      await b.close();
    }
    return rows;
  });
  console.table(rows);
  for (const row of rows) console.log(JSON.stringify({ metric: 'transport_round_trip', ...row }));
}
