import { z } from "@hono/zod-openapi";
import { ProblemError } from "../errors";
import { Tally, type UsageFigures } from "../analytics/figures";
import type { Cell } from "../store/measures";
import type { HourRange } from "../store/usage";

/**
 * Usage figures as the admin and portal APIs answer them: the counts of one group or time
 * bucket, the range rules, and a series built from hourly cells (DESIGN.md, "Admin API").
 */

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
const MAX_RANGE_DAYS = 90;

const RANGE_RULE = `\`from\` must be earlier than \`to\`, and they may be at most ${MAX_RANGE_DAYS} days apart (400 otherwise).`;

const Time = (which: string) =>
  z.iso
    .datetime({ offset: true })
    .transform((s) => Date.parse(s))
    .optional()
    .openapi({ type: "string", format: "date-time", description: `${which}, an ISO 8601 time with an offset. ${RANGE_RULE}` });
export const From = Time("Start of the range");
export const To = Time("End of the range (default: now)");
export const Granularity = z.enum(["hour", "day"]).default("hour");

const Count = z.number().int().min(0);
const Percentiles = z
  .object({ p50: Count.nullable(), p95: Count.nullable(), p99: Count.nullable() })
  .openapi("LatencyPercentiles", {
    description: "Upper bound (ms) of the latency bucket holding each percentile; null when no request was measured",
  });

export const UsageFiguresSchema = z
  .object({
    requests: Count,
    allowed: Count.openapi({ description: "admitted and proxied (outcome OK), whatever the origin answered" }),
    rateLimited: Count,
    quotaExhausted: Count,
    denied: Count.openapi({ description: "every other outcome: refusals, origin failures, storage outages" }),
    byOutcome: z.record(z.string(), Count).openapi({ description: "requests per outcome code", example: { OK: 41, RATE_LIMITED: 2 } }),
    status2xx: Count,
    status4xx: Count,
    status5xx: Count,
    creditsUsed: Count,
    requestBytes: Count,
    responseBytes: Count,
    latency: z.object({
      gatewayMs: Percentiles.openapi({ description: "time keygate spent, excluding the wait for the origin" }),
      upstreamMs: Percentiles.openapi({ description: "time waiting for the origin, requests sent to it only" }),
    }),
  })
  .openapi("UsageCounts");

export const Source = z.enum(["d1", "analytics-engine"]).openapi({
  description: "d1: keygate's own rollups (at most 60 s behind); analytics-engine: the Analytics Engine SQL API",
});

export const SeriesSchema = z.array(UsageFiguresSchema.extend({ start: z.string().openapi({ format: "date-time" }) }));

/** A 400 whose detail names the parameter, with `issues` in the shape request validation gives. */
function invalid(path: string, detail: string): ProblemError {
  return new ProblemError("VALIDATION_FAILED", detail, { extensions: { issues: [{ path, message: detail }] } });
}

const floorTo = (ms: number, step: number) => Math.floor(ms / step) * step;
const ceilTo = (ms: number, step: number) => Math.ceil(ms / step) * step;

/**
 * The hours a query covers. Figures are hourly (daily series add up whole days), so `from` is
 * rounded down to the step and `to` up to the hour; the answer states the range it covers.
 */
export function hours(from: number | undefined, to: number | undefined, step: number, defaultSpan: number): HourRange {
  const end = to ?? Date.now();
  const start = from ?? end - defaultSpan;
  if (start >= end) throw invalid("from", "from must be earlier than to.");
  if (end - start > MAX_RANGE_DAYS * DAY) throw invalid("from", `from and to may be at most ${MAX_RANGE_DAYS} days apart.`);
  return { from: floorTo(start, step), to: ceilTo(end, HOUR) };
}

export const tally = (cells: Cell[] = []) => cells.reduce((t, cell) => t.add(cell), new Tally());
export const iso = (ms: number) => new Date(ms).toISOString();

/** A range and granularity as a query gives them: the last 24 hours hourly, or the last 30 days daily, by default. */
export function seriesRange(query: { from?: number; to?: number; granularity: "hour" | "day" }): { range: HourRange; step: number } {
  const step = query.granularity === "hour" ? HOUR : DAY;
  return { range: hours(query.from, query.to, step, query.granularity === "hour" ? DAY : 30 * DAY), step };
}

/** One bucket per step from the range's start, empty ones included, and the totals. */
export function series(cells: Map<number, Cell[]>, range: HourRange, step: number) {
  const buckets: (UsageFigures & { start: string })[] = [];
  const totals = new Tally();
  for (let t = range.from; t < range.to; t += step) {
    const bucket = cells.get(t) ?? [];
    for (const cell of bucket) totals.add(cell);
    buckets.push({ start: iso(t), ...tally(bucket).figures() });
  }
  return { from: iso(range.from), to: iso(range.to), series: buckets, totals: totals.figures() };
}
