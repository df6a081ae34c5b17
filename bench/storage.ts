/**
 * Storage benchmark (issue 5), from one run of real Chromium: raw IndexedDB put transactions are
 * the baseline; IndexedDbStorage appends are reported against it. Single-entry latency p50/p99,
 * then entries/s for batches of 1, 16 and 256 entries of 100 bytes, all with the durability the
 * storage uses ('strict'), and the same with 'relaxed' for context.
 */
import { percentile, round3 } from './stats.js';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { bundle, Profile, serveLab } from '../test/e2e/chromium.js';
import type * as Lab from './storage-lab.js';
import type { Durability } from '../src/storage/indexeddb.js';

type LabWindow = { lab: typeof Lab };
const ROUNDS_ENTRIES = Number(process.env.BENCH_STORAGE_ENTRIES ?? 20_000);
const WARMUP_ROUNDS = 20;

async function measure(
  page: Page,
  batch: number,
  durability: Durability,
  entries = ROUNDS_ENTRIES,
  withRaw = true,
): Promise<{ raw: number[]; appends: number[] }> {
  const rounds = Math.max(50, Math.min(2000, Math.ceil(entries / batch)));
  const times = await page.evaluate(
    ({ rounds, batch, durability, withRaw }) =>
      (window as unknown as LabWindow).lab.interleaved(rounds, batch, durability, withRaw),
    { rounds: rounds + WARMUP_ROUNDS, batch, durability, withRaw },
  );
  return { raw: times.raw.slice(WARMUP_ROUNDS), appends: times.appends.slice(WARMUP_ROUNDS) };
}

/**
 * The storage lab in a tab of a persistent profile, for the duration of `use`; `more` opens
 * further tabs of the lab in the same profile (one origin, as a cluster's tabs are).
 */
async function withLab<T>(use: (page: Page, more: () => Promise<Page>) => Promise<T>): Promise<T> {
  const server = await serveLab(
    await bundle(fileURLToPath(new URL('./storage-lab.ts', import.meta.url))),
  );
  const profile = new Profile();
  try {
    const { context, page } = await profile.launch(server.url);
    const more = async (): Promise<Page> => {
      const tab = await context.newPage();
      await tab.goto(server.url);
      await tab.waitForFunction(() => (window as { labReady?: boolean }).labReady === true);
      return tab;
    };
    const result = await use(page, more);
    await context.close();
    return result;
  } finally {
    await profile.kill();
    profile.remove();
    await server.close();
  }
}

const rate = (batch: number, times: readonly number[]): number =>
  Math.round((batch * times.length) / (times.reduce((a, b) => a + b, 0) / 1000));

/**
 * The `idb` baseline of `npm run bench` (single-put transactions, ms each, durability 'strict'),
 * and the batched raw put rate (entries/s in transactions of 256) that throughput is held to.
 */
export function indexedDbBaselines(entries: number): Promise<{
  singlePut: number[];
  singleAppend: number[];
  singlePutThreeTabsAtOnce: number[];
  batchedPutsPerSecond: number;
  batchedAppendsPerSecond: number;
  batchedAppendsPerSecondThreeTabsAtOnce: number;
}> {
  return withLab(async (page, more) => {
    const single = await measure(page, 1, 'strict', entries);
    const batched = await measure(page, 256, 'strict', entries * 16);
    // Context, not the baseline: a cluster's three tabs on one machine write at the same time,
    // and each write then waits for the others in the browser's one IndexedDB backend.
    const others = [await more(), await more()];
    const tabs = [page, ...others];
    const atOnce = await Promise.all(tabs.map((tab) => measure(tab, 1, 'strict', entries)));
    // The ceiling of a three-tab cluster's throughput in one browser: every member writes every
    // entry, so each tab appends what the others do, at the same time, into the same backend.
    const batchedAtOnce = await Promise.all(
      tabs.map((tab) => measure(tab, 256, 'strict', entries * 16, false)),
    );
    return {
      singlePut: single.raw,
      singleAppend: single.appends,
      singlePutThreeTabsAtOnce: atOnce[0]!.raw,
      batchedPutsPerSecond: rate(256, batched.raw),
      batchedAppendsPerSecond: rate(256, batched.appends),
      batchedAppendsPerSecondThreeTabsAtOnce: Math.min(
        ...batchedAtOnce.map((tab) => rate(256, tab.appends)),
      ),
    };
  });
}

export async function runStorageBench(): Promise<void> {
  const rows = await withLab(async (page) => {
    const rows = [];
    for (const durability of ['strict', 'relaxed'] as const) {
      for (const batch of [1, 16, 256]) {
        const { raw, appends: ours } = await measure(page, batch, durability);
        rows.push({
          durability,
          batch,
          rawP50Ms: round3(percentile(raw, 0.5)),
          rawP99Ms: round3(percentile(raw, 0.99)),
          appendP50Ms: round3(percentile(ours, 0.5)),
          appendP99Ms: round3(percentile(ours, 0.99)),
          p50Ratio: round3(percentile(ours, 0.5) / percentile(raw, 0.5)),
          rawEntriesPerSecond: rate(batch, raw),
          appendEntriesPerSecond: rate(batch, ours),
          throughputRatio: round3(rate(batch, ours) / rate(batch, raw)),
        });
      }
    }
    return rows;
  });
  console.table(rows);
  for (const row of rows) console.log(JSON.stringify({ metric: 'indexeddb_append', ...row }));
}
