/**
 * What the message timeline costs (README "Message timeline"): the CPU time of recording a send
 * and a receive, the frame it makes larger, and a 3-member in-process cluster's write throughput
 * with recording off and on, in alternating runs so a noisy moment hurts both.
 * `npx tsx bench/timeline.ts`
 */
import { KvSession } from '../src/client/kv-session.js';
import type { Message } from '../src/core/messages.js';
import { LocalCluster } from '../src/runtime/local-cluster.js';
import { TimelineRecorder } from '../src/runtime/timeline/recorder.js';
import { encodeFrame } from '../src/transport/codec.js';

const RUNS = 5;
const RUN_MS = 2000;
const SESSIONS = 32;
const CALLS = 300_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[values.length >> 1]!;

/** CPU nanoseconds per call of `work`, after a warm-up. */
function cpuNs(work: () => unknown): number {
  for (let i = 0; i < 20_000; i++) work();
  const start = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) work();
  const { user, system } = process.cpuUsage(start);
  return Math.round(((user + system) * 1000) / CALLS);
}

async function writesPerSecond(recording: boolean): Promise<number> {
  const cluster = await LocalCluster.start({
    size: 3,
    tickMs: 5,
    ...(recording ? { timeline: {} } : {}),
  });
  try {
    while (cluster.leader() === null) await sleep(5);
    const sessions = await Promise.all(
      Array.from({ length: SESSIONS }, () =>
        KvSession.open({ submit: (command) => cluster.submit(command), sleep, attemptsMax: 100 }),
      ),
    );
    let writes = 0;
    const end = Date.now() + RUN_MS;
    await Promise.all(
      sessions.map(async (session, i) => {
        while (Date.now() < end) await session.put(`k${i}`, writes++);
      }),
    );
    return Math.round((writes * 1000) / RUN_MS);
  } finally {
    await cluster.stop();
  }
}

const append: Message = {
  type: 'append',
  from: 'm-18d9bb914a',
  to: 'm-efeb20559c',
  term: 3,
  prevIndex: 400,
  prevTerm: 3,
  commit: 399,
  entries: [{ index: 401, term: 3, kind: 'normal', data: new Uint8Array(60) }],
};
const sender = new TimelineRecorder(append.from, Date.now);
// A leader that has heard from both followers: its clock names all three members.
sender.received({
  type: 'appendResponse',
  from: append.to,
  to: append.from,
  term: 3,
  reject: false,
  index: 400,
  hintIndex: 0,
  hintTerm: 0,
  clock: { [append.to]: 812, 'm-e5f62a5a6f': 790 },
} as Message);
const receiver = new TimelineRecorder(append.to, Date.now);
receiver.record({ kind: 'commit', index: 1 });
const stamped = sender.stamp([append])[0]!;
console.log('CPU per message, ns:', {
  encodeOff: cpuNs(() => encodeFrame('demo', append)),
  recordSend: cpuNs(() => sender.stamp([append])),
  encodeClocked: cpuNs(() => encodeFrame('demo', stamped)),
  recordReceive: cpuNs(() => receiver.received(stamped)),
});
console.log('append frame bytes:', {
  off: encodeFrame('demo', append).length,
  clocked: encodeFrame('demo', stamped).length,
});
const runs = { off: [] as number[], on: [] as number[] };
for (let i = 0; i < RUNS; i++) {
  runs.off.push(await writesPerSecond(false));
  runs.on.push(await writesPerSecond(true));
}
console.log('writes/s, 3 members, 32 sessions:', {
  off: median(runs.off),
  on: median(runs.on),
  runs,
});
