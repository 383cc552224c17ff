import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { Tally } from "../analytics/figures";
import { usageSource } from "../analytics/usage";
import { GROUP_COLUMNS, type GroupBy } from "../store/usage";
import { DAY, From, Granularity, HOUR, hours, iso, series, SeriesSchema, seriesRange, Source, tally, To, UsageFiguresSchema } from "../api/usage";
import { getKey } from "../lifecycle/keys";
import { KeyIdParam } from "./schemas";
import { jsonContent, problemResponses } from "./openapi";

/** Groups listed at most; `totals` always covers every group. */
const MAX_GROUPS = 1000;

const KeyUsageSchema = z
  .object({
    keyId: z.string(),
    from: z.string().openapi({ format: "date-time" }),
    to: z.string().openapi({ format: "date-time" }),
    granularity: z.enum(["hour", "day"]),
    source: Source,
    series: SeriesSchema,
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
        query: z.object({ from: From, to: To, granularity: Granularity }),
      },
      responses: { 200: jsonContent(KeyUsageSchema, "Time series and totals"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const { range, step } = seriesRange(query);
      const key = await getKey(c.env, c.req.valid("param").id);
      const source = usageSource(c.env, c.get("services").config);
      const { series: buckets, ...rest } = series(await source.keyCells(key.id, range, step), range, step);
      return c.json(
        { keyId: key.id, from: rest.from, to: rest.to, granularity: query.granularity, source: source.name, series: buckets, totals: rest.totals },
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
