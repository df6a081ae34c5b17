/**
 * `npm run bench [-- --quick] [--json] [NAME...]`.
 *
 * With no NAME it runs the suite (bench/suite.ts): every metric of issue 9 against the baseline
 * measured in the same run, printed as a table, written to bench/results/latest.json with SVG and
 * PNG plots beside it, and with `--json` also printed one JSON object per metric as the last
 * lines. `--quick` takes few samples (under 2 minutes; CI runs it to keep the code alive and
 * checks only that it writes valid results, never the speed).
 *
 * A NAME runs one of the detailed benchmarks instead:
 *   in-process  a 3-member cluster over the memory twins, against an unreplicated state machine
 *   storage     IndexedDB storage in real Chromium, against raw IndexedDB puts
 *   transport   framed worker-to-worker round trips over WebRTC, against a plain data channel
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runInProcessBench } from './in-process.js';
import { writePlots } from './plots.js';
import type { BenchResults, MetricResult } from './results.js';
import { runStorageBench } from './storage.js';
import { runSuite } from './suite.js';
import { runTransportBench } from './transport.js';

const DETAILED: Record<string, () => Promise<void>> = {
  'in-process': runInProcessBench,
  storage: runStorageBench,
  transport: runTransportBench,
};

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flags = new Set(args.filter((arg) => arg.startsWith('--')));
  const names = args.filter((arg) => !arg.startsWith('--'));
  const unknownFlags = [...flags].filter((flag) => flag !== '--quick' && flag !== '--json');
  const unknown = names.filter((name) => !(name in DETAILED));
  if (unknownFlags.length > 0 || unknown.length > 0) {
    throw new Error(
      `unknown ${[...unknownFlags, ...unknown].join(', ')}; ` +
        `flags: --quick, --json; benchmarks: ${Object.keys(DETAILED).join(', ')}`,
    );
  }
  if (names.length > 0) {
    for (const name of names) {
      console.log(`\n# ${name}`);
      await DETAILED[name]!();
    }
    return;
  }
  const began = Date.now();
  const results = await runSuite({
    quick: flags.has('--quick'),
    log: (line) => console.log(`… ${line}`),
  });
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}latest.json`;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  checkResults(readFileSync(file, 'utf8'));
  const plots = await writePlots(results, RESULTS_DIR);
  console.log(`\n${describeMachine(results)}; ${Math.round((Date.now() - began) / 1000)} s`);
  console.table(results.metrics.map(row));
  console.log(`wrote ${file} and ${plots.length} plots`);
  if (flags.has('--json')) {
    for (const metric of results.metrics) console.log(JSON.stringify(summary(metric)));
  }
}

/**
 * What CI holds the suite to (never the speed): the file parses, and every metric of issues 9
 * and 13 is there with finite numbers.
 */
function checkResults(text: string): void {
  const results = JSON.parse(text) as BenchResults;
  const expected = ['rtt', 'idb', 'commit_latency', 'reads', 'throughput', 'failover', 'scale'];
  const names = results.metrics.map((metric) => metric.name);
  const missing = [...expected, 'edge_commit', 'vs_ywebrtc'].filter(
    (name) => !names.includes(name),
  );
  const broken = results.metrics.filter(
    (metric) =>
      Object.keys(metric.values).length === 0 ||
      !Object.values(metric.values).every(Number.isFinite),
  );
  if (missing.length > 0 || broken.length > 0) {
    throw new Error(
      `bench results incomplete: missing ${missing.join(', ') || 'none'}, ` +
        `non-finite values in ${broken.map((m) => m.name).join(', ') || 'none'}`,
    );
  }
}

function describeMachine({ machine, quick }: BenchResults): string {
  return (
    `${quick ? 'quick run' : 'full run'} on ${machine.cpus} × ${machine.cpuModel}, ` +
    `${machine.memoryGiB} GiB, ${machine.chromium}, Node ${machine.node}`
  );
}

function row(metric: MetricResult) {
  return {
    metric: metric.name,
    values: Object.entries(metric.values)
      .map(([key, value]) => `${key} ${value}`)
      .join(', '),
    baseline:
      metric.baseline === null ? '–' : `${metric.baseline.value} (${metric.baseline.description})`,
    ratio: metric.ratio ?? '–',
    goal: metric.goal ?? '–',
    met: metric.met === null ? '–' : metric.met ? 'yes' : 'NO',
  };
}

/** A metric without its raw samples: one short line for tools. */
function summary(metric: MetricResult) {
  const { samples: _samples, notes, ...rest } = metric;
  const {
    theirsSamples: _theirs,
    samplesByMode: _byMode,
    ...smallNotes
  } = (notes ?? {}) as Record<string, unknown>;
  return { metric: metric.name, ...rest, notes: smallNotes };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
