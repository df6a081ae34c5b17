/**
 * Metric 7, `vs_ywebrtc` (issue 9): what consensus costs against merging. One run of real
 * Chromium holds rooms of three tabs each, each library started as an app would start it, with a
 * signaling server on loopback. Both then carry updates between tabs of one browser (one origin)
 * over BroadcastChannel, and between browsers over WebRTC:
 *   - theirs: y-webrtc + yjs, a Y.Map; latency is `map.set` on the writer tab to the `observe`
 *     event on each other tab. The metric's tabs share one origin; as a note, a second room has
 *     its three tabs on three origins, where BroadcastChannel cannot link them and every update
 *     travels over WebRTC (how this metric was measured before our tabs took BroadcastChannel);
 *   - ours: the demo app (`window.webraft`); latency is `kv.put` on a follower tab to the
 *     `subscribe` callback for that key on each other tab (and, as a note, from the leader tab).
 * Writes are 100-byte strings, one at a time, a random 20–45 ms apart (random, so the writes do
 * not lock onto our 50 ms tick); blocks alternate ours, theirs, ours… so a noisy moment hurts
 * both. The ratio is ours / theirs at p50; the goal is ≤ 1.5.
 *
 * One clock for all tabs: each tab reads `performance.timeOrigin + performance.now()` minus its
 * offset from the system wall clock, measured in the tab at the edge of a `Date.now()` tick
 * (re-measured before every block). Renderer processes convert their monotonic clock to a
 * time origin each on its own, so raw time-origin clocks of two tabs may disagree; the wall clock
 * is one kernel clock for all of them. The raw disagreement is reported in the notes.
 *
 * Run alone: `npx tsx bench/vs-ywebrtc.ts [--quick]` prints the MetricResult as JSON.
 */
import { openTab, sleep, status, waitFor } from '../test/e2e/tabs.js';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import type { ClusterStatus } from '../src/client/connect.js';
import type { KvChange } from '../src/state/kv-types.js';
import { bundle, Profile, serveLab } from '../test/e2e/chromium.js';
import { startDemoServers } from '../test/e2e/demo-server.js';
import type { MetricResult } from './results.js';
import { percentile, round3 } from './stats.js';
import { startYWebrtcSignaling } from './ywebrtc-signaling.js';
import type * as YLab from './ywebrtc-lab.js';

type LabWindow = { lab: typeof YLab };
type BenchWindow = {
  benchClock?: () => number;
  benchSeen?: Map<string, number>;
  webraft?: {
    kv: { put(key: string, value: string): Promise<unknown> };
    subscribe(listener: (changes: readonly KvChange[]) => void): () => void;
    status(): Promise<ClusterStatus>;
  };
};

const VALUE = 'v'.repeat(100); // 100 bytes as UTF-8 and as a JSON string body.
const GAP_MS_MIN = 20;
const GAP_MS_SPAN = 25;
const WARMUP_WRITES = 20;
const ROOM = 'vs-ywebrtc';
const ROOM_OVER_WEBRTC = 'vs-ywebrtc-webrtc';

/** One block of writes: when each write started, and when each reader saw it (null: never). */
interface Block {
  readonly sentAt: readonly number[];
  readonly seenAt: readonly (readonly (number | null)[])[];
}

/** Latency samples of one side, with how they were gathered. */
class Side {
  readonly samples: number[] = [];
  /** Per reader label (e.g. the reader's role), its samples. */
  readonly byReader = new Map<string, number[]>();
  missing = 0;
  /** Writes that a reader saw only after the next write had started. */
  overlapped = 0;
  writes = 0;

  add(block: Block, readers: readonly string[]): void {
    block.sentAt.forEach((sent, i) => {
      this.writes++;
      const next = block.sentAt[i + 1] ?? Infinity;
      let late = false;
      block.seenAt.forEach((seen, r) => {
        const at = seen[i] ?? null;
        if (at === null) {
          this.missing++;
          return;
        }
        const latency = at - sent;
        this.samples.push(latency);
        const label = readers[r] ?? `reader${r}`;
        this.byReader.set(label, [...(this.byReader.get(label) ?? []), latency]);
        late ||= at > next;
      });
      if (late) this.overlapped++;
    });
  }

  summary(): Record<string, unknown> {
    const byReader = Object.fromEntries(
      [...this.byReader].map(([label, values]) => [
        label,
        { p50: round3(percentile(values, 0.5)), p99: round3(percentile(values, 0.99)) },
      ]),
    );
    return {
      p50: round3(percentile(this.samples, 0.5)),
      p99: round3(percentile(this.samples, 0.99)),
      writes: this.writes,
      samples: this.samples.length,
      missing: this.missing,
      overlapped: this.overlapped,
      byReader,
    };
  }
}

/**
 * Installs `window.benchClock` in a page (run there by `page.evaluate`; self-contained). Returns
 * the offset of the page's time-origin clock from the wall clock, in ms.
 */
function installBenchClock(): number {
  // No inner named functions: tsx would wrap them in a `__name` helper the page does not have.
  const offsets: number[] = [];
  for (let round = 0; round < 5; round++) {
    const start = Date.now();
    let tick = start;
    while (tick === start) tick = Date.now(); // Spin to the edge of a millisecond.
    offsets.push(performance.timeOrigin + performance.now() - tick);
  }
  offsets.sort((a, b) => a - b);
  const offset = offsets[2]!;
  (window as BenchWindow).benchClock = () => performance.timeOrigin + performance.now() - offset;
  return offset;
}

/** Re-measures every tab's clock offset; returns the spread of the raw offsets (max − min). */
async function calibrate(pages: readonly Page[]): Promise<number> {
  const offsets = [];
  for (const page of pages) offsets.push(await page.evaluate(installBenchClock));
  return Math.max(...offsets) - Math.min(...offsets);
}

// ---- theirs: y-webrtc + yjs ----

/** Three y-webrtc tabs in `room`, linked to each other `over` one kind of link. */
async function openYTabs(
  context: BrowserContext,
  urls: readonly string[],
  signalingUrl: string,
  room: string,
  over: 'broadcastChannel' | 'webrtc',
) {
  const pages: Page[] = [];
  for (const url of urls) {
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => (window as { labReady?: boolean }).labReady === true);
    await page.evaluate(installBenchClock);
    await page.evaluate((options) => (window as unknown as LabWindow).lab.join(options), {
      signalingUrl,
      room,
    });
    pages.push(page);
  }
  // Each connected with both others over that kind of link. (y-webrtc's own `synced` flag stays
  // false for a peer that connects after the room first synced: not used.)
  await waitFor(async () => {
    const all = await Promise.all(
      pages.map((page) => page.evaluate(() => (window as unknown as LabWindow).lab.peers())),
    );
    const linked = (p: { webrtc: number; broadcastChannel: number }) =>
      over === 'webrtc' ? p.webrtc === 2 && p.broadcastChannel === 0 : p.broadcastChannel === 2;
    return all.every(linked) ? true : null;
  }, `three y-webrtc tabs linked over ${over}`);
  // And each tab's write reaches both others.
  for (const [i, page] of pages.entries()) {
    const probe = await yBlock(
      page,
      pages.filter((other) => other !== page),
      `probe${i}-`,
      1,
    );
    if (probe.seenAt.some((row) => row[0] === null)) throw new Error('a y-webrtc probe was lost');
  }
  return pages;
}

async function yBlock(writer: Page, readers: readonly Page[], prefix: string, count: number) {
  const sentAt = await writer.evaluate(
    (args) =>
      (window as unknown as LabWindow).lab.writeBlock(
        args.prefix,
        args.count,
        args.value,
        args.gap,
        args.span,
      ),
    { prefix, count, value: VALUE, gap: GAP_MS_MIN, span: GAP_MS_SPAN },
  );
  return { sentAt, seenAt: await collect(readers, prefix, count, yReadSeen) };
}

const yReadSeen = (page: Page, prefix: string, count: number) =>
  page.evaluate((args) => (window as unknown as LabWindow).lab.seen(args.prefix, args.count), {
    prefix,
    count,
  });

// ---- ours: the demo app ----

async function openOurTabs(context: BrowserContext, url: string): Promise<Page[]> {
  const pages: Page[] = [];
  for (let i = 0; i < 3; i++) {
    pages.push(await openTab(context, url));
  }
  // One leader, three voters, and every tab knows both others as tabs of this browser (reached
  // over BroadcastChannel, with no WebRTC connection).
  await waitFor(async () => {
    const all = await Promise.all(pages.map(status));
    const leader = all.find((s) => s.role === 'leader');
    const ok = all.every(
      (s) =>
        leader !== undefined &&
        s.leaderId === leader.id &&
        s.voters.length === 3 &&
        s.peers.filter((peer) => peer.state === 'local').length === 2,
    );
    return ok ? true : null;
  }, 'three webraft tabs: one leader, three voters, each knowing the others as local');
  for (const page of pages) {
    await page.evaluate(installBenchClock);
    await page.evaluate(() => {
      const w = window as BenchWindow;
      const seen = (w.benchSeen = new Map<string, number>());
      w.webraft!.subscribe((changes) => {
        const at = w.benchClock!();
        for (const change of changes) if (!seen.has(change.key)) seen.set(change.key, at);
      });
    });
  }
  return pages;
}

/** The tabs in roles: the leader and the two followers (the writer is the first follower). */
async function roles(pages: readonly Page[]) {
  const all = await Promise.all(pages.map(status));
  const leader = all.findIndex((s) => s.role === 'leader');
  if (leader < 0) throw new Error('no leader among our tabs');
  const followers = pages.filter((_, i) => i !== leader);
  return { leader: pages[leader]!, followers, term: all[leader]!.term };
}

async function ourBlock(writer: Page, readers: readonly Page[], prefix: string, count: number) {
  const written = await writer.evaluate(
    async (args) => {
      const w = window as BenchWindow;
      const sentAt: number[] = [];
      const doneAt: number[] = [];
      for (let i = 0; i < args.count; i++) {
        sentAt.push(w.benchClock!());
        await w.webraft!.kv.put(`${args.prefix}${i}`, args.value);
        doneAt.push(w.benchClock!());
        await new Promise((resolve) => setTimeout(resolve, args.gap + Math.random() * args.span));
      }
      return { sentAt, doneAt };
    },
    { prefix, count, value: VALUE, gap: GAP_MS_MIN, span: GAP_MS_SPAN },
  );
  const seenAt = await collect(readers, prefix, count, ourReadSeen);
  const putMs = written.doneAt.map((done, i) => done - written.sentAt[i]!);
  return { sentAt: written.sentAt, seenAt, putMs };
}

const ourReadSeen = (page: Page, prefix: string, count: number) =>
  page.evaluate(
    (args) =>
      Array.from(
        { length: args.count },
        (_, i) => (window as BenchWindow).benchSeen!.get(`${args.prefix}${i}`) ?? null,
      ),
    { prefix, count },
  );

/** Reads what each reader saw, waiting up to 2 s for the last writes to arrive. */
async function collect(
  readers: readonly Page[],
  prefix: string,
  count: number,
  read: (page: Page, prefix: string, count: number) => Promise<(number | null)[]>,
): Promise<(number | null)[][]> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const seen = await Promise.all(readers.map((page) => read(page, prefix, count)));
    if (seen.every((row) => row.every((at) => at !== null)) || Date.now() > deadline) return seen;
    await sleep(50);
  }
}

// ---- the run ----

/** Runs the comparison; `quick` takes 40 writes a side instead of 200. */
export async function runVsYWebrtcBench(options: { quick: boolean }): Promise<MetricResult> {
  const writes = options.quick ? 40 : 200;
  const blocks = options.quick ? 4 : 5;
  const perBlock = Math.ceil(writes / blocks);
  const labCode = await bundle(fileURLToPath(new URL('./ywebrtc-lab.ts', import.meta.url)));
  // Three lab servers: the metric's tabs on the first (one origin, as our tabs are), and the
  // note's on all three, so that y-webrtc's BroadcastChannel (per origin) cannot link them.
  const labs = await Promise.all([0, 1, 2].map(() => serveLab(labCode)));
  const ySignaling = await startYWebrtcSignaling();
  const demo = await startDemoServers();
  const profile = new Profile();
  const startedAt = Date.now();
  try {
    const context = await profile.start();
    const yTabs = await openYTabs(
      context,
      labs.map(() => labs[0]!.url),
      ySignaling.url,
      ROOM,
      'broadcastChannel',
    );
    const [yWriter, ...yReaders] = yTabs as [Page, Page, Page];
    const yTabsOverWebrtc = await openYTabs(
      context,
      labs.map((lab) => lab.url),
      ySignaling.url,
      ROOM_OVER_WEBRTC,
      'webrtc',
    );
    const [yWriterOverWebrtc, ...yReadersOverWebrtc] = yTabsOverWebrtc as [Page, Page, Page];
    // A control block of theirs before our tabs exist (whose timers then run beside theirs).
    await yBlock(yWriter, yReaders, 'warm-', WARMUP_WRITES);
    const theirsAlone = new Side();
    await calibrate(yTabs);
    theirsAlone.add(await yBlock(yWriter, yReaders, 'alone-', perBlock), ['tab2', 'tab3']);
    const ourTabs = await openOurTabs(context, demo.pageUrl(ROOM, 'bare'));
    const setupMs = Date.now() - startedAt;
    const initial = await roles(ourTabs);
    const readerLabels = (leader: Page, readers: readonly Page[]) =>
      readers.map((page) => (page === leader ? 'leader' : 'follower'));

    // Warm-up, discarded: code paths compiled, channels busy once.
    await yBlock(yWriter, yReaders, 'warm2-', WARMUP_WRITES);
    await yBlock(yWriterOverWebrtc, yReadersOverWebrtc, 'warm2-', WARMUP_WRITES);
    const [warmWriter] = initial.followers as [Page, Page];
    await ourBlock(warmWriter, [initial.leader, initial.followers[1]!], 'warm-', WARMUP_WRITES);

    const ours = new Side();
    const oursFromLeader = new Side();
    const theirs = new Side();
    const theirsOverWebrtc = new Side();
    const putMs: number[] = [];
    const clockSpreadMs: number[] = [];
    const terms = new Set<number>([initial.term]);
    for (let block = 0; block < blocks; block++) {
      clockSpreadMs.push(await calibrate([...yTabs, ...yTabsOverWebrtc, ...ourTabs]));
      const now = await roles(ourTabs);
      terms.add(now.term);
      const [writer, other] = now.followers as [Page, Page];
      const ourReaders = [now.leader, other];
      const mine = await ourBlock(writer, ourReaders, `b${block}-`, perBlock);
      ours.add(mine, readerLabels(now.leader, ourReaders));
      putMs.push(...mine.putMs);
      theirs.add(await yBlock(yWriter, yReaders, `b${block}-`, perBlock), ['tab2', 'tab3']);
      const fromLeader = await ourBlock(now.leader, now.followers, `l${block}-`, perBlock);
      oursFromLeader.add(fromLeader, ['follower', 'follower']);
      theirsOverWebrtc.add(
        await yBlock(yWriterOverWebrtc, yReadersOverWebrtc, `b${block}-`, perBlock),
        ['tab2', 'tab3'],
      );
    }
    await context.close();

    const oursP50 = percentile(ours.samples, 0.5);
    const theirsP50 = percentile(theirs.samples, 0.5);
    const ratio = round3(oursP50 / theirsP50);
    return {
      name: 'vs_ywebrtc',
      unit: 'ms',
      values: {
        oursP50: round3(oursP50),
        oursP99: round3(percentile(ours.samples, 0.99)),
        theirsP50: round3(theirsP50),
        theirsP99: round3(percentile(theirs.samples, 0.99)),
      },
      baseline: { description: 'y-webrtc + yjs write-to-visible p50', value: round3(theirsP50) },
      ratio,
      goal: 'ratio <= 1.5',
      met: ratio <= 1.5,
      samples: ours.samples.map(round3),
      notes: {
        quick: options.quick,
        theirSamples: theirs.samples.map(round3),
        ours: { writer: 'follower', ...ours.summary() },
        oursFromLeader: { writer: 'leader', ...oursFromLeader.summary() },
        theirs: theirs.summary(),
        theirsOverWebrtc: { origins: 3, ...theirsOverWebrtc.summary() },
        theirsBeforeOurTabsOpened: theirsAlone.summary(),
        oursPutResolvedMs: {
          p50: round3(percentile(putMs, 0.5)),
          p99: round3(percentile(putMs, 0.99)),
        },
        blocks,
        writesPerBlockPerSide: perBlock,
        warmupWrites: WARMUP_WRITES,
        valueBytes: VALUE.length,
        gapMs: `${GAP_MS_MIN}–${GAP_MS_MIN + GAP_MS_SPAN} after each set (theirs) or resolved put (ours)`,
        ourTerms: [...terms],
        rawClockSpreadMs: clockSpreadMs.map(round3),
        setupMs,
        totalMs: Date.now() - startedAt,
        method:
          'one Chromium (persistent profile, for our IndexedDB on disk); both sides with their tabs on one origin, so both carry updates over BroadcastChannel (y-webrtc with filterBcConns at its default; ours to tabs holding identity locks in this browser); theirsOverWebrtc: y-webrtc tabs on 3 origins, every update over WebRTC; latency = writer stamp before set/put → reader stamp at the top of observe/subscribe, one wall-clock-calibrated clock in all tabs; samples are (write, reader) pairs',
      },
    };
  } finally {
    await profile.kill();
    profile.remove();
    await demo.close();
    await ySignaling.close();
    await Promise.all(labs.map((lab) => lab.close()));
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runVsYWebrtcBench({ quick: process.argv.includes('--quick') })
    .then((result) => console.log(JSON.stringify(result, null, 2)))
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
