/**
 * What `npm run bench` writes to bench/results/latest.json (and prints, one JSON object per
 * metric, with `--json`): each metric with the baseline it is judged against, measured in the
 * same run, its ratio, and the goal the ratio is held to. The plots are drawn from this file.
 */

/** One figure of one metric. */
export interface MetricResult {
  /** `rtt`, `idb`, `commit_latency`, `throughput`, `failover`, `scale`, `vs_ywebrtc`, `reads`… */
  readonly name: string;
  readonly unit: 'ms' | 'ops/s';
  /** The headline numbers (p50/p99 for latencies, the rate for throughput, …). */
  readonly values: Readonly<Record<string, number>>;
  /** What the metric is judged against, from this run; null for baselines themselves. */
  readonly baseline: { readonly description: string; readonly value: number } | null;
  /** Subject / baseline as the goal defines it; null for baselines. */
  readonly ratio: number | null;
  /** The goal, e.g. `ratio <= 1.25`; null when there is none. */
  readonly goal: string | null;
  /** Whether the goal is met (null: no goal). */
  readonly met: boolean | null;
  /** Raw samples (ms) of a latency, for the CDF plot; omitted for rates. */
  readonly samples?: readonly number[];
  /** Points of a curve: throughput vs concurrency, commit latency vs members. */
  readonly series?: readonly { readonly x: number; readonly y: number }[];
  /** Anything else worth keeping (trial counts, settings, the other side's numbers). */
  readonly notes?: Readonly<Record<string, unknown>>;
}

export interface BenchResults {
  readonly startedAt: string;
  readonly quick: boolean;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly node: string;
    readonly chromium: string;
    readonly platform: string;
  };
  readonly metrics: readonly MetricResult[];
}
