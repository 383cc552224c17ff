import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { PROBLEMS, ProblemError } from "../errors";
import { getDb } from "../store/db";
import { listRequests, RETENTION_MS, type LogRow } from "../store/usage";
import { getKey } from "../lifecycle/keys";
import { decodeCursor, encodeCursor } from "./cursor";
import { KeyIdParam, LIMITS } from "./schemas";
import { jsonContent, problemResponses } from "./openapi";

/** "OK" and every code keygate answers with: the outcomes a request can have. */
const OUTCOMES = ["OK", ...Object.keys(PROBLEMS)] as [string, ...string[]];

const RequestEntrySchema = z
  .object({
    at: z.string().openapi({ format: "date-time", description: "when the request arrived" }),
    requestId: z.string().openapi({ example: "req_9f1c0a5be3d24c7e8a6b0d2f4e6a8c1b" }),
    method: z.string(),
    path: z.string().openapi({ description: "as the client sent it, without the query; first 256 bytes" }),
    route: z.string().openapi({ description: '"" when no route matched' }),
    status: z.number().int(),
    outcome: z.string().openapi({ example: "OK" }),
    ip: z.string().nullable(),
    userAgent: z.string().nullable().openapi({ description: "first 256 bytes" }),
    country: z.string().nullable(),
    gatewayMs: z.number().int().min(0),
    upstreamMs: z.number().int().min(0).nullable().openapi({ description: "null when the request never reached the origin" }),
    count: z.number().int().min(2).optional().openapi({
      description:
        "present on an entry that stands for several requests: a revoked or expired key's refusals past 100 a minute are " +
        "summarised, per batch, in one entry with their count (the first of them gives the other fields)",
    }),
  })
  .openapi("RequestLogEntry");

const RequestListSchema = z
  .object({ data: z.array(RequestEntrySchema), nextCursor: z.string().nullable() })
  .openapi("RequestLog");

const toEntry = (row: LogRow) => ({
  at: new Date(row.at).toISOString(),
  requestId: row.requestId,
  method: row.method,
  path: row.path,
  route: row.route,
  status: row.status,
  outcome: row.outcome,
  ip: row.ip,
  userAgent: row.userAgent,
  country: row.country,
  gatewayMs: row.gatewayMs,
  upstreamMs: row.upstreamMs,
  ...(row.count && row.count > 1 ? { count: row.count } : {}),
});

const invalidCursor = () =>
  new ProblemError("VALIDATION_FAILED", "cursor is not one this API issued: pass nextCursor from the previous page unchanged.", {
    extensions: { issues: [{ path: "cursor", message: "invalid cursor" }] },
  });

/** A cursor is bound to its key: one issued for another key's log is refused. */
async function afterCursor(secret: string, keyId: string, cursor: string) {
  const position = /^(\d{1,15})\.(.+)$/.exec(await decodeCursor(secret, `requests:${keyId}`, cursor));
  if (!position) throw invalidCursor();
  return { at: Number(position[1]), requestId: position[2] };
}

export function registerRequestLogRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/keys/{id}/requests",
      operationId: "listKeyRequests",
      tags: ["usage"],
      summary: "One key's recent requests, newest first",
      description:
        "Each request made with this key: time, request id, method, path, route, status, outcome, client IP, user agent, " +
        "country and timings. Kept 7 days; at most 60 s behind.",
      request: {
        params: KeyIdParam,
        query: z.object({
          outcome: z.enum(OUTCOMES).optional().openapi({ description: '"OK" or an error code' }),
          limit: z.coerce.number().int().min(1).max(LIMITS.maxPageSize).default(LIMITS.pageSize),
          cursor: z.string().max(512).optional(),
        }),
      },
      responses: { 200: jsonContent(RequestListSchema, "A page of requests"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const secret = c.get("services").config.adminToken;
      const key = await getKey(c.env, c.req.valid("param").id);
      const after = query.cursor ? await afterCursor(secret, key.id, query.cursor) : undefined;
      const page = await listRequests(getDb(c.env.DB), {
        keyId: key.id,
        outcome: query.outcome,
        since: Date.now() - RETENTION_MS.requestLog,
        after,
        limit: query.limit,
      });
      const last = page.rows.at(-1);
      const nextCursor =
        page.more && last ? await encodeCursor(secret, `requests:${key.id}`, `${last.at}.${last.requestId}`) : null;
      return c.json({ data: page.rows.map(toEntry), nextCursor }, 200);
    },
  );
}
