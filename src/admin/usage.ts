import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { Tally, type UsageFigures } from "../analytics/figures";
import type { Cell } from "../store/measures";
import { usageSource } from "../analytics/usage";
import { GROUP_COLUMNS, type GroupBy, type HourRange } from "../store/usage";
import { getKey } from "../lifecycle/keys";
import { KeyIdParam } from "./schemas";
import { jsonContent, problemResponses } from "./openapi";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_RANGE_DAYS = 90;
/** Groups listed at most; `totals` always covers every group. */
const MAX_GROUPS = 1000;

const RANGE_RULE = `\`from\` must be earlier than \`to\`, and they may be at most ${MAX_RANGE_DAYS} days apart (400 otherwise).`;

const Time = (which: string) =>
  z.iso
    .datetime({ offset: true })
    .transform((s) => Date.parse(s))
    .optional()
    .openapi({ type: "string", format: "date-time", description: `${which}, an ISO 8601 time with an offset. ${RANGE_RULE}` });
const From = Time("Start of the range");
const To = Time("End of the range (default: now)");

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

const Source = z.enum(["d1", "analytics-engine"]).openapi({
  description: "d1: keygate's own rollups (at most 60 s behind); analytics-engine: the Analytics Engine SQL API",
});

const KeyUsageSchema = z
  .object({
    keyId: z.string(),
    from: z.string().openapi({ format: "date-time" }),
    to: z.string().openapi({ format: "date-time" }),
    granularity: z.enum(["hour", "day"]),
    source: Source,
    series: z.array(UsageFiguresSchema.extend({ start: z.string().openapi({ format: "date-time" }) })),
    totals: UsageFiguresSchema,
  })
  .openapi("KeyUsage");

const GROUP_BY = Object.keys(GROUP_COLUMNS) as [GroupBy, ...GroupBy[]];

const UsageSchema = z
  .object({
    from: z.string().openapi({ format: "date-time" }),
    to: z.string().openapi({ format: "date-time" }),
    groupBy: z.enum(GROUP_BY),
    ownerId: z.string().nullable(),
    source: Source,
    data: z.array(UsageFiguresSchema.extend({ group: z.string() })),
    totals: UsageFiguresSchema,
  })
  .openapi("Usage");

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
function hours(from: number | undefined, to: number | undefined, step: number, defaultSpan: number): HourRange {
  const end = to ?? Date.now();
  const start = from ?? end - defaultSpan;
  if (start >= end) throw invalid("from", "from must be earlier than to.");
  if (end - start > MAX_RANGE_DAYS * DAY) throw invalid("from", `from and to may be at most ${MAX_RANGE_DAYS} days apart.`);
  return { from: floorTo(start, step), to: ceilTo(end, HOUR) };
}

const tally = (cells: Cell[] = []) => cells.reduce((t, cell) => t.add(cell), new Tally());
const iso = (ms: number) => new Date(ms).toISOString();

export function registerUsageRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/keys/{id}/usage",
      operationId: "getKeyUsage",
      tags: ["usage"],
      summary: "One key's usage over time",
      description:
        "Requests, outcomes, status classes, credits, bytes and latency percentiles per hour or day, and totals. " +
        "Defaults: the last 24 hours hourly, or the last 30 days daily; at most 90 days.",
      request: {
        params: KeyIdParam,
        query: z.object({ from: From, to: To, granularity: z.enum(["hour", "day"]).default("hour") }),
      },
      responses: { 200: jsonContent(KeyUsageSchema, "Time series and totals"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const step = query.granularity === "hour" ? HOUR : DAY;
      const range = hours(query.from, query.to, step, query.granularity === "hour" ? DAY : 30 * DAY);
      const key = await getKey(c.env, c.req.valid("param").id);
      const source = usageSource(c.env, c.get("services").config);
      const cells = await source.keyCells(key.id, range, step);
      const series: (UsageFigures & { start: string })[] = [];
      const totals = new Tally();
      for (let t = range.from; t < range.to; t += step) {
        const bucket = cells.get(t) ?? [];
        for (const cell of bucket) totals.add(cell);
        series.push({ start: iso(t), ...tally(bucket).figures() });
      }
      return c.json(
        {
          keyId: key.id,
          from: iso(range.from),
          to: iso(range.to),
          granularity: query.granularity,
          source: source.name,
          series,
          totals: totals.figures(),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/usage",
      operationId: "getUsage",
      tags: ["usage"],
      summary: "Usage across keys, grouped by key, route, status or owner",
      description:
        "With ownerId, only that owner's keys count. Requests refused before a key was known count under the " +
        `key "anonymous" and the owner "". Defaults to the last 30 days; at most 90. At most ${MAX_GROUPS} groups, most requests first.`,
      request: {
        query: z.object({
          ownerId: z.string().min(1).max(200).regex(/^[\x20-\x7e]+$/, "must be printable ASCII").optional(),
          groupBy: z.enum(GROUP_BY).default("key"),
          from: From,
          to: To,
        }),
      },
      responses: { 200: jsonContent(UsageSchema, "Usage per group and totals"), ...problemResponses() },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const range = hours(query.from, query.to, HOUR, 30 * DAY);
      const source = usageSource(c.env, c.get("services").config);
      const cells = await source.groupedCells(query.groupBy, range, query.ownerId);
      const totals = new Tally();
      const groups = [...cells].map(([group, list]) => {
        for (const cell of list) totals.add(cell);
        return { group, tally: tally(list) };
      });
      groups.sort((a, b) => b.tally.requests - a.tally.requests || (a.group < b.group ? -1 : 1));
      return c.json(
        {
          from: iso(range.from),
          to: iso(range.to),
          groupBy: query.groupBy,
          ownerId: query.ownerId ?? null,
          source: source.name,
          data: groups.slice(0, MAX_GROUPS).map(({ group, tally }) => ({ group, ...tally.figures() })),
          totals: totals.figures(),
        },
        200,
      );
    },
  );
}
