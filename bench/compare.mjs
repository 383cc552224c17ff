/**
 * Same-workerd comparisons of two configurations of keygate under the same load, in
 * alternating rounds: each round runs one configuration, the baseline, then the other (they
 * swap every round, so neither is always the one measured furthest from the baseline or on a
 * warmer workerd). All three share workerd's one thread, so one baseline per round serves
 * both ratios. Used by the usage rollups (bench/rollups.mjs) and the webhooks
 * (bench/webhooks.mjs) comparisons.
 */
import { round } from "./load.mjs";

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return round(sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2, 3);
}

/** Two-sided 95% quantiles of Student's t for n - 1 degrees of freedom, n rounds (1.96 past 30). */
const T95 = [12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.2, 2.18, 2.16, 2.14, 2.13, 2.12, 2.11, 2.1, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05, 2.05, 2.05];

/** The mean of the values and the half-width of its 95% interval (0 for a single value). */
export function meanInterval(values) {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, spread: 0 };
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, spread: (T95[n - 2] ?? 1.96) * (sd / Math.sqrt(n)) };
}

/**
 * Runs `rounds` alternating rounds of `measure(name)` (a load result with `rps`, `requests`,
 * `seconds` and `workerd_cpu_ms_per_request`) for the two names `[a, b]` and "baseline".
 * Answers per round each name's ratio to that round's baseline, the drop (`a` against `b`:
 * ratio of `b` minus ratio of `a`, positive when `a` is slower), and the sums per name.
 */
export async function alternate({ names: [a, b], rounds, measure, onRound }) {
  const sums = {};
  const add = (name, r) => {
    const s = (sums[name] ??= { requests: 0, seconds: 0, cpu_ms: 0 });
    s.requests += r.requests;
    s.seconds += r.seconds;
    s.cpu_ms += (r.workerd_cpu_ms_per_request ?? 0) * r.requests;
    return r.rps;
  };
  const perRound = [];
  for (let i = 0; i < rounds; i++) {
    const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
    const rps = {};
    rps[first] = add(first, await measure(first));
    rps.baseline = add("baseline", await measure("baseline"));
    rps[second] = add(second, await measure(second));
    perRound.push({ [a]: round(rps[a] / rps.baseline, 3), [b]: round(rps[b] / rps.baseline, 3) });
    onRound?.(i, perRound[i]);
  }
  const drops = perRound.map((r) => round(r[b] - r[a], 3));
  const { mean, spread } = meanInterval(drops);
  const figures = (name) => ({
    rps: round(sums[name].requests / sums[name].seconds),
    workerd_cpu_ms_per_request: round(sums[name].cpu_ms / sums[name].requests, 3),
    requests: sums[name].requests,
  });
  return {
    perRound,
    drops,
    baseline: figures("baseline"),
    /** `name`'s rps, CPU and requests over all rounds, and the median of its rounds' ratios (a round disturbed by other work on the machine does not move it) */
    figures: (name) => ({ ...figures(name), ratio_to_baseline: median(perRound.map((r) => r[name])) }),
    /** median over the rounds of (ratio of b - ratio of a) */
    ratio_drop: median(drops),
    /** the mean of the rounds' drops and its 95% interval (t distribution): how precise the median is */
    ratio_drop_mean: round(mean, 3),
    ratio_drop_interval: [round(mean - spread, 3), round(mean + spread, 3)],
  };
}
