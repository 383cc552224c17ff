import { z } from "@hono/zod-openapi";
import { PROBLEMS, ProblemError } from "../errors";
import { getDb } from "../store/db";
import { listRequests, RETENTION_MS, type LogRow } from "../store/usage";
import { decodeCursor, encodeCursor } from "./cursor";
import { LIMITS } from "./schemas";

/** One key's request log as the admin and portal APIs answer it: newest first, a page at a time, kept 7 days. */

/** "OK" and every code keygate answers with: the outcomes a request can have. */
const OUTCOMES = ["OK", ...Object.keys(PROBLEMS)] as [string, ...string[]];

export const RequestLogQuery = z.object({
  outcome: z.enum(OUTCOMES).optional().openapi({ description: '"OK" or an error code' }),
  limit: z.coerce.number().int().min(1).max(LIMITS.maxPageSize).default(LIMITS.pageSize),
  cursor: z.string().max(512).optional(),
});

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

export const RequestListSchema = z
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

/** A page of the key's log; `secret` signs the cursors. */
export async function requestLogPage(d1: D1Database, secret: string, keyId: string, query: z.infer<typeof RequestLogQuery>) {
  const after = query.cursor ? await afterCursor(secret, keyId, query.cursor) : undefined;
  const page = await listRequests(getDb(d1), {
    keyId,
    outcome: query.outcome,
    since: Date.now() - RETENTION_MS.requestLog,
    after,
    limit: query.limit,
  });
  const last = page.rows.at(-1);
  const nextCursor = page.more && last ? await encodeCursor(secret, `requests:${keyId}`, `${last.at}.${last.requestId}`) : null;
  return { data: page.rows.map(toEntry), nextCursor };
}
