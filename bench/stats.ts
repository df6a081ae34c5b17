/** Small helpers the benchmarks share for reporting. */
import { cpus } from 'node:os';

/** The p-quantile (0..1) of `values`, which need not be sorted. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** Rounds to three decimals for tables and JSON lines. */
export const round3 = (value: number): number => Number(value.toFixed(3));

/** The median and the 99th percentile of `samples`, unrounded. */
export function stats(samples: readonly number[]): { p50: number; p99: number } {
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

/** CPU time of the whole machine so far, in ms, from Node's per-core counters. */
function machineCpuMs(): { busy: number; all: number } {
  let busy = 0;
  let all = 0;
  for (const { times } of cpus()) {
    const working = times.user + times.nice + times.sys + times.irq;
    busy += working;
    all += working + times.idle;
  }
  return { busy, all };
}

/**
 * Runs `work` and reports how busy the machine's cores were meanwhile (every process: the
 * browser's, the servers', ours): `coresBusy` of `cores`. A speed that stops growing while the
 * cores are all busy is bound by CPU, not by waiting.
 */
export async function withCpuUse<T>(
  work: () => Promise<T>,
): Promise<{ result: T; coresBusy: number; cores: number; cpuMs: number }> {
  const before = machineCpuMs();
  const result = await work();
  const after = machineCpuMs();
  const cores = cpus().length;
  const busy = after.busy - before.busy;
  const all = after.all - before.all;
  return { result, coresBusy: all > 0 ? round3((busy / all) * cores) : 0, cores, cpuMs: busy };
}
