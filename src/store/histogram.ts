/**
 * Fixed latency buckets (milliseconds), shared by the D1 rollups, the Analytics Engine
 * queries and /admin/metrics. Bucket i counts values in (BOUNDS[i-1], BOUNDS[i]]; the last
 * bucket, past the final bound, counts everything slower. 300 s is the longest route timeout.
 */
export const BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 300000] as const;

/** Number of buckets: one per bound and one for anything slower. */
export const BUCKETS = BOUNDS_MS.length + 1;

/** Column-name suffixes of the buckets: `1`, `2`, …, `300000`, `inf`. */
export const BUCKET_NAMES = [...BOUNDS_MS.map(String), "inf"];

export const emptyHistogram = (): number[] => new Array<number>(BUCKETS).fill(0);

export function bucketOf(ms: number): number {
  for (let i = 0; i < BOUNDS_MS.length; i++) if (ms <= BOUNDS_MS[i]) return i;
  return BOUNDS_MS.length;
}

export function addInto(into: number[], from: readonly number[]): number[] {
  for (let i = 0; i < BUCKETS; i++) into[i] += from[i] ?? 0;
  return into;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * The upper bound of the bucket holding the q-th value (rank ceil(q * n)), so the true
 * percentile is at most the figure given. Anything past the last bound reports that bound.
 * null when the histogram is empty.
 */
function percentile(histogram: readonly number[], q: number): number | null {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += histogram[i];
    if (seen >= rank) return BOUNDS_MS[Math.min(i, BOUNDS_MS.length - 1)];
  }
  return BOUNDS_MS[BOUNDS_MS.length - 1];
}

export const percentiles = (histogram: readonly number[]): Percentiles => ({
  p50: percentile(histogram, 0.5),
  p95: percentile(histogram, 0.95),
  p99: percentile(histogram, 0.99),
});
