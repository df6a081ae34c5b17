/** Small helpers the benchmarks share for reporting. */

/** The p-quantile (0..1) of `values`, which need not be sorted. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** Rounds to three decimals for tables and JSON lines. */
export const round3 = (value: number): number => Number(value.toFixed(3));
