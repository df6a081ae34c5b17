/**
 * The simulator's command line (`npm run sim -- --seeds N [--start S] [--members 3|5|mixed]
 * [--membership churn|autopilot|mixed] [--edge N] [--bug NAME] [--verbose] [--jobs J]`). Seeds run in parallel in child processes, one per core;
 * every failing seed is printed with the one-line command that replays it exactly, and the last
 * line printed is a JSON summary. Exit code 0 only when no seed had a violation.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CORE_BUGS } from '../../src/core/config.js';
import type { CoreBug } from '../../src/core/config.js';
import { drawSimOptions } from './options.js';
import type { MembershipMode, StorageBackend } from './options.js';
import { runSeed } from './run-seed.js';
import type { SeedResult } from './run-seed.js';

interface CliOptions {
  readonly seeds: number;
  readonly start: number;
  readonly members: 3 | 5 | 'mixed';
  readonly membership: MembershipMode | 'mixed';
  readonly edge: number;
  readonly bug: CoreBug | undefined;
  readonly storage: StorageBackend;
  readonly verbose: boolean;
  readonly jobs: number;
  readonly stopAtFirstViolation: boolean;
}

/** One seed to run, as sent to a worker. */
interface Job {
  readonly seed: number;
  readonly members: 3 | 5;
  readonly membership: MembershipMode | 'mixed';
  readonly edge: number;
  readonly bug: CoreBug | undefined;
  readonly storage: StorageBackend;
  readonly verbose: boolean;
  readonly stopAtFirstViolation: boolean;
}

/** What a worker sends back: the result without the bulky parts nobody reads. */
type Summary = Omit<SeedResult, 'options' | 'stats'> & { readonly crashedWorker?: string };

const USAGE = `usage: npm run sim -- --seeds N [--start S] [--members 3|5|mixed] [--membership churn|autopilot|mixed] [--edge N] [--bug ${CORE_BUGS.join('|')}] [--storage memory|indexeddb] [--verbose] [--jobs J] [--stop-at-first]`;
/** Most edge members asked for (each seed caps it at its initial members less one). */
const EDGE_MAX = 4;
/** Seeds per invocation (10,000+ is fine; this only stops typos). */
const SEEDS_MAX = 10_000_000;
/** Failing seeds listed in the JSON line. */
const FAILED_SEEDS_LISTED = 10;
/** Violations printed per failing seed. */
const VIOLATIONS_PRINTED = 3;

function parseArgs(argv: readonly string[]): CliOptions {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}\n${USAGE}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (['verbose', 'stop-at-first', 'worker', 'help'].includes(name)) flags.add(name);
    else values.set(name, inline ?? argv[++i] ?? '');
  }
  if (flags.has('help')) throw new Error(USAGE);
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = values.get(name);
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`--${name} must be an integer in [${min}, ${max}]\n${USAGE}`);
    return value;
  };
  const members = values.get('members') ?? 'mixed';
  if (members !== '3' && members !== '5' && members !== 'mixed')
    throw new Error(`--members must be 3, 5 or mixed\n${USAGE}`);
  const membership = values.get('membership') ?? 'mixed';
  if (membership !== 'churn' && membership !== 'autopilot' && membership !== 'mixed')
    throw new Error(`--membership must be churn, autopilot or mixed\n${USAGE}`);
  const bug = values.get('bug');
  if (bug !== undefined && !CORE_BUGS.includes(bug as CoreBug))
    throw new Error(`--bug must be one of ${CORE_BUGS.join(', ')}`);
  const storage = values.get('storage') ?? 'memory';
  if (storage !== 'memory' && storage !== 'indexeddb')
    throw new Error(`--storage must be memory or indexeddb\n${USAGE}`);
  for (const name of values.keys()) {
    if (
      !['seeds', 'start', 'members', 'membership', 'edge', 'bug', 'jobs', 'storage'].includes(name)
    )
      throw new Error(`unknown option --${name}\n${USAGE}`);
  }
  return {
    seeds: integer('seeds', 1, 1, SEEDS_MAX),
    start: integer('start', 1, 0, 0xffffffff),
    members: members === 'mixed' ? 'mixed' : (Number(members) as 3 | 5),
    membership,
    edge: integer('edge', 0, 0, EDGE_MAX),
    bug: bug as CoreBug | undefined,
    storage,
    verbose: flags.has('verbose'),
    jobs: integer('jobs', Math.max(1, availableParallelism()), 1, 256),
    stopAtFirstViolation: flags.has('stop-at-first'),
  };
}

/** Mixed runs alternate cluster sizes by seed, so a replay names the size explicitly. */
function membersFor(options: CliOptions, seed: number): 3 | 5 {
  if (options.members !== 'mixed') return options.members;
  return seed % 2 === 0 ? 5 : 3;
}

/** The command that replays `job` exactly; it names the membership mode the seed ran. */
function replayCommand(job: Job, membership: MembershipMode): string {
  const bug = job.bug === undefined ? '' : ` --bug ${job.bug}`;
  const storage = job.storage === 'memory' ? '' : ` --storage ${job.storage}`;
  const edge = job.edge === 0 ? '' : ` --edge ${job.edge}`;
  return `npm run sim -- --seeds 1 --start ${job.seed} --members ${job.members} --membership ${membership}${edge}${bug}${storage}`;
}

async function runJob(job: Job): Promise<Summary> {
  const {
    options: _options,
    stats: _stats,
    ...summary
  } = await runSeed(job.seed, {
    members: job.members,
    membership: job.membership,
    edge: job.edge,
    bug: job.bug,
    storage: job.storage,
    stopAtFirstViolation: job.stopAtFirstViolation,
    verbose: job.verbose,
  });
  return summary;
}

/** Runs in a child process: answers each job message with its summary. */
function serveAsWorker(): void {
  process.on('message', (job: Job) => {
    void runJob(job).then(
      (summary) => process.send?.(summary),
      (error: unknown) =>
        process.send?.(
          crashSummary(job, `runSeed threw: ${(error as Error).stack ?? String(error)}`),
        ),
    );
  });
}

function crashSummary(job: Job, message: string): Summary {
  return {
    seed: job.seed,
    members: job.members,
    membership: drawSimOptions(job.seed, { members: job.members, membership: job.membership })
      .membershipMode,
    bug: job.bug ?? null,
    violations: [{ timeMs: 0, kind: 'exception', message }],
    violationCount: 1,
    linearizable: 'skipped',
    opsChecked: 0,
    ops: { recorded: 0, acked: 0, unknownApplied: 0, unknownDropped: 0 },
    virtualMs: 0,
    events: 0,
    wallMs: 0,
    checkMs: 0,
    historyDigest: '',
    counters: {},
    trace: [],
    crashedWorker: message,
  };
}

/** Hands jobs to `jobs` child processes, one at a time each, and collects the summaries. */
async function runParallel(
  jobs: readonly Job[],
  workers: number,
  onResult: (job: Job, summary: Summary) => void,
): Promise<void> {
  let next = 0;
  const self = fileURLToPath(import.meta.url);
  const runWorker = (): Promise<void> =>
    new Promise((resolve) => {
      const child: ChildProcess = fork(self, ['--worker'], {
        execArgv: process.execArgv,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let current: Job | null = null;
      const feed = (): void => {
        current = next < jobs.length ? jobs[next++]! : null;
        if (current === null) child.disconnect();
        else child.send(current);
      };
      child.on('message', (summary: Summary) => {
        onResult(current!, summary);
        feed();
      });
      child.on('exit', (code) => {
        if (current !== null)
          onResult(current, crashSummary(current, `worker exited with code ${code}`));
        current = null;
        resolve();
      });
      feed();
    });
  await Promise.all(Array.from({ length: Math.min(workers, jobs.length) }, runWorker));
}

function printFailure(job: Job, summary: Summary, verbose: boolean): void {
  const lines = [
    `FAIL seed ${job.seed} (members ${job.members}, ${summary.membership}${job.edge > 0 ? `, edge ${job.edge}` : ''}${job.bug ? `, bug ${job.bug}` : ''}): ${summary.violationCount} violation(s)`,
  ];
  for (const violation of summary.violations.slice(0, VIOLATIONS_PRINTED)) {
    lines.push(
      `  at ${violation.timeMs.toFixed(3)} ms ${violation.kind}: ${violation.message
        .split('\n')
        .slice(0, verbose ? 40 : 1)
        .join('\n    ')}`,
    );
  }
  lines.push(`  replay: ${replayCommand(job, summary.membership)}`);
  if (verbose && summary.trace.length > 0)
    lines.push(
      '  trace (last lines before the end of the run):',
      ...summary.trace.map((l) => `    ${l}`),
    );
  console.log(lines.join('\n'));
}

async function main(): Promise<number> {
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const started = performance.now();
  const jobs: Job[] = [];
  for (let i = 0; i < options.seeds; i++) {
    const seed = (options.start + i) >>> 0;
    const members = membersFor(options, seed);
    jobs.push({
      seed,
      members,
      membership: options.membership,
      edge: options.edge,
      bug: options.bug,
      storage: options.storage,
      verbose: options.verbose,
      stopAtFirstViolation: options.stopAtFirstViolation,
    });
  }
  let violations = 0;
  let opsChecked = 0;
  let linearizable = true;
  let done = 0;
  const counters: Record<string, number> = {};
  const failedSeeds: number[] = [];
  const onResult = (job: Job, summary: Summary): void => {
    done++;
    violations += summary.violationCount;
    opsChecked += summary.opsChecked;
    for (const [name, value] of Object.entries(summary.counters))
      counters[name] = (counters[name] ?? 0) + value;
    if (summary.linearizable === 'illegal' || summary.linearizable === 'unknown')
      linearizable = false;
    if (summary.violationCount > 0) {
      failedSeeds.push(job.seed);
      printFailure(job, summary, options.verbose);
    } else if (options.verbose || options.seeds === 1) {
      console.log(
        `ok seed ${job.seed} (members ${job.members}, ${summary.membership}): ${summary.ops.acked} acked, ${summary.opsChecked} checked, ${summary.events} events, ${summary.wallMs.toFixed(0)} ms, ${JSON.stringify(summary.counters)}`,
      );
    }
    if (done % 100 === 0 && done < jobs.length)
      console.error(`... ${done}/${jobs.length} seeds, ${failedSeeds.length} failing`);
  };
  if (options.jobs === 1 || jobs.length === 1) {
    for (const job of jobs) onResult(job, await runJob(job));
  } else {
    await runParallel(jobs, options.jobs, onResult);
  }
  failedSeeds.sort((a, b) => a - b);
  const summary = {
    seeds: jobs.length,
    violations,
    linearizable,
    opsChecked,
    failedSeeds: failedSeeds.slice(0, FAILED_SEEDS_LISTED),
    failedSeedCount: failedSeeds.length,
    wallMs: Math.round(performance.now() - started),
    snapshotsInstalled: counters.snapshotsInstalled ?? 0,
    snapshotsTaken: counters.snapshotsTaken ?? 0,
    configChangesCommitted: counters.configChangesCommitted ?? 0,
    counters,
  };
  console.log(JSON.stringify(summary));
  return violations === 0 ? 0 : 1;
}

if (process.argv.includes('--worker')) serveAsWorker();
else process.exitCode = await main();
