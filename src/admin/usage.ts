import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { addCounts, emptyCounts, groupedSql, keySeriesSql, querySql, type UsageCounts } from "../analytics/usage";
import { getKey } from "./lifecycle";
import { KeyIdParam } from "./schemas";
import { jsonContent, problemResponses } from "./openapi";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_BUCKETS = 750;

const Time = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)).optional();

const CountsSchema = z
  .object({
    requests: z.number(),
    allowed: z.number().openapi({ description: "admitted and proxied (outcome OK)" }),
    rateLimited: z.number(),
    quotaExhausted: z.number(),
    denied: z.number().openapi({ description: "refused for any other reason" }),
    creditsUsed: z.number(),
  })
  .openapi("UsageCounts");

const KeyUsageSchema = z
  .object({
    keyId: z.string(),
    from: z.string(),
    to: z.string(),
    granularity: z.enum(["hour", "day"]),
    series: z.array(CountsSchema.extend({ start: z.string() })),
    totals: CountsSchema,
  })
  .openapi("KeyUsage");

const UsageSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    groupBy: z.enum(["key", "route", "status"]),
    ownerId: z.string().nullable(),
    data: z.array(CountsSchema.extend({ group: z.string() })),
    totals: CountsSchema,
  })
  .openapi("Usage");

/** from/to default to the last day (hourly) or the last 30 days (daily); `from` must come first. */
function range(from: number | undefined, to: number | undefined, step: number) {
  const end = to ?? Date.now();
  const start = from ?? end - (step === HOUR ? DAY : 30 * DAY);
  if (start >= end) throw new ProblemError("VALIDATION_FAILED", "from must be earlier than to.");
  if ((end - start) / step > MAX_BUCKETS) {
    throw new ProblemError("VALIDATION_FAILED", `The range spans more than ${MAX_BUCKETS} ${step === HOUR ? "hours" : "days"}; narrow it.`);
  }
  return { from: start, to: end };
}

/** The SQL API writes DateTime as "YYYY-MM-DD hh:mm:ss" in UTC. */
const bucketTime = (value: unknown) => Date.parse(`${String(value).replace(" ", "T")}Z`);

export function registerUsageRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/keys/{id}/usage",
      operationId: "getKeyUsage",
      tags: ["usage"],
      summary: "One key's usage over time",
      request: {
        params: KeyIdParam,
        query: z.object({ from: Time, to: Time, granularity: z.enum(["hour", "day"]).default("hour") }),
      },
      responses: { 200: jsonContent(KeyUsageSchema, "Time series and totals"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const key = await getKey(c.env, c.req.valid("param").id);
      const step = query.granularity === "hour" ? HOUR : DAY;
      const window = range(query.from, query.to, step);
      const rows = await querySql(c.get("services").config, keySeriesSql(key.id, window, query.granularity));
      const byBucket = new Map(rows.map((row) => [bucketTime(row.bucket), row]));
      const series: (UsageCounts & { start: string })[] = [];
      const totals = emptyCounts();
      for (let t = Math.floor(window.from / step) * step; t < window.to; t += step) {
        const counts = addCounts(emptyCounts(), byBucket.get(t) ?? {});
        addCounts(totals, counts);
        series.push({ start: new Date(t).toISOString(), ...counts });
      }
      return c.json(
        {
          keyId: key.id,
          from: new Date(window.from).toISOString(),
          to: new Date(window.to).toISOString(),
          granularity: query.granularity,
          series,
          totals,
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
      summary: "Usage across keys, grouped by key, route or status",
      request: {
        query: z.object({
          ownerId: z.string().min(1).max(200).regex(/^[\x20-\x7e]+$/, "must be printable ASCII").optional(),
          groupBy: z.enum(["key", "route", "status"]).default("key"),
          from: Time,
          to: Time,
        }),
      },
      responses: { 200: jsonContent(UsageSchema, "Usage per group and totals"), ...problemResponses() },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const window = range(query.from, query.to, DAY);
      const rows = await querySql(c.get("services").config, groupedSql(query.groupBy, window, query.ownerId));
      const totals = emptyCounts();
      const data = rows.map((row) => {
        const counts = addCounts(emptyCounts(), row);
        addCounts(totals, counts);
        return { group: String(row.grp ?? ""), ...counts };
      });
      return c.json(
        {
          from: new Date(window.from).toISOString(),
          to: new Date(window.to).toISOString(),
          groupBy: query.groupBy,
          ownerId: query.ownerId ?? null,
          data,
          totals,
        },
        200,
      );
    },
  );
}
