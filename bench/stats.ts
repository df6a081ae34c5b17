/** Small helpers the benchmarks share for reporting. */

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
