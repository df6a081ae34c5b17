/**
 * In-process benchmark: a 3-member cluster in one Node process over the memory twins (no disk, no
 * network), so it measures the core and the driver alone. Reports commit throughput and latency
 * per client count, and the ratio to a baseline measured in the same run: the same number of
 * clients doing the same KV work against a single unreplicated state machine, which is what
 * consensus costs on top of applying commands.
 */
import { percentile, round3 } from './stats.js';
import { KvSession } from '../src/client/kv-session.js';
import { LocalCluster } from '../src/runtime/local-cluster.js';
import { KvStateMachine } from '../src/state/kv.js';
import { kvCommand } from '../src/state/kv-commands.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const durationMs = Number(process.env.BENCH_MS ?? 2000);

interface Row {
  readonly clients: number;
  readonly opsPerSecond: number;
  readonly latencyMsP50: number;
  readonly latencyMsP99: number;
}

async function replicated(clients: number): Promise<Row> {
  const cluster = await LocalCluster.start({ size: 3, tickMs: 10 });
  while (cluster.leader() === null) await sleep(5);
  const sessions = await Promise.all(
    Array.from({ length: clients }, () =>
      KvSession.open({
        submit: (c) => cluster.submit(c),
        sleep,
        attemptsMax: 100,
        retryDelayMs: 5,
      }),
    ),
  );
  const latencies: number[] = [];
  const end = performance.now() + durationMs;
  await Promise.all(
    sessions.map(async (session, i) => {
      for (let n = 0; performance.now() < end; n++) {
        const start = performance.now();
        await session.put(`c${i}/${n % 32}`, 'x'.repeat(100));
        latencies.push(performance.now() - start);
      }
    }),
  );
  await cluster.stop();
  return {
    clients,
    opsPerSecond: Math.round(latencies.length / (durationMs / 1000)),
    latencyMsP50: round3(percentile(latencies, 0.5)),
    latencyMsP99: round3(percentile(latencies, 0.99)),
  };
}

/** Baseline: the same commands applied to one state machine, one macrotask hop per command. */
async function unreplicated(clients: number): Promise<number> {
  const machine = new KvStateMachine();
  const session = (
    machine.apply(kvCommand.registerSession(), { index: 1, term: 1, time: 0 }) as {
      session: number;
    }
  ).session;
  let index = 1;
  let ops = 0;
  const end = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      for (let n = 0; performance.now() < end; n++) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        index++;
        const header = { session, seq: index, lowestUnacked: index };
        machine.apply(kvCommand.put(header, `c${i}/${n % 32}`, 'x'.repeat(100)), {
          index,
          term: 1,
          time: 0,
        });
        ops++;
      }
    }),
  );
  return Math.round(ops / (durationMs / 1000));
}

/** Runs the in-process benchmark and prints a table and one JSON line per client count. */
export async function runInProcessBench(): Promise<void> {
  const results = [];
  for (const clients of [1, 16, 64, 256]) {
    const row = await replicated(clients);
    const baseline = await unreplicated(clients);
    results.push({
      ...row,
      baselineOpsPerSecond: baseline,
      ratio: Number((row.opsPerSecond / baseline).toFixed(3)),
    });
  }
  console.table(results);
  for (const result of results)
    console.log(JSON.stringify({ metric: 'in_process_throughput', ...result }));
}
