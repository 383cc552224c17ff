import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { getDb } from "../store/db";
import { listSecurityEvents, SECURITY_CODES, SECURITY_RETENTION_MS, type SecurityEntry } from "../store/security-events";
import { decodeCursor, encodeCursor } from "./cursor";
import { LIMITS } from "./schemas";
import { jsonContent, problemResponses } from "./openapi";

const IsoTime = z.string().openapi({ format: "date-time" });

const SecurityEventSchema = z
  .object({
    at: IsoTime,
    code: z.enum(SECURITY_CODES).openapi({
      description:
        "the refusal's code (MALFORMED_KEY, KEY_NOT_FOUND, TOO_MANY_INVALID_KEYS, KEY_REVOKED, KEY_EXPIRED, KEY_SUSPENDED, " +
        "IP_NOT_ALLOWED); UNAUTHORIZED for a failed admin sign-in; KEY_SUSPENDED also for the suspension itself; " +
        "KEY_LEAKED for a key GitHub's secret scanning reported",
    }),
    ip: z.string().nullable(),
    country: z.string().nullable(),
    userAgent: z.string().nullable().openapi({ description: "first 256 bytes" }),
    method: z.string().nullable(),
    path: z.string().nullable().openapi({ description: "without the query; first 256 bytes" }),
    route: z.string().nullable(),
    keyStart: z.string().max(12).nullable().openapi({ description: "at most the first 12 characters of the key presented, never more" }),
    keyId: z.string().nullable().openapi({ description: "the key, once one was known" }),
    requestId: z.string(),
    count: z.number().int().min(2).optional().openapi({
      description: "present on an entry that stands for several: past 100 a minute for one code and address, one entry per batch carries their count",
    }),
  })
  .openapi("SecurityEvent");

const SecurityEventListSchema = z
  .object({ data: z.array(SecurityEventSchema), nextCursor: z.string().nullable() })
  .openapi("SecurityEventList");

const Time = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));

const toEvent = (e: SecurityEntry) => ({
  at: new Date(e.at).toISOString(),
  code: e.code as (typeof SECURITY_CODES)[number],
  ip: e.ip,
  country: e.country,
  userAgent: e.userAgent,
  method: e.method,
  path: e.path,
  route: e.route,
  keyStart: e.keyStart,
  keyId: e.keyId,
  requestId: e.requestId,
  ...(e.count && e.count > 1 ? { count: e.count } : {}),
});

const invalidCursor = () =>
  new ProblemError("VALIDATION_FAILED", "cursor is not one this API issued: pass nextCursor from the previous page unchanged.", {
    extensions: { issues: [{ path: "cursor", message: "invalid cursor" }] },
  });

export function registerSecurityEventRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/security-events",
      operationId: "listSecurityEvents",
      tags: ["security"],
      summary: "Security events, newest first",
      description:
        "Refusals before a key is known, uses of revoked, expired and suspended keys, IP_NOT_ALLOWED, suspensions, leak reports " +
        "and failed admin sign-ins. Kept 30 days; at most a minute behind. `from` and `to` default to the last 30 days.",
      request: {
        query: z.object({
          code: z.enum(SECURITY_CODES).optional(),
          ip: z.string().min(1).max(64).optional(),
          from: Time.optional().openapi({ type: "string", format: "date-time" }),
          to: Time.optional().openapi({ type: "string", format: "date-time" }),
          limit: z.coerce.number().int().min(1).max(LIMITS.maxPageSize).default(LIMITS.pageSize),
          cursor: z.string().max(512).optional(),
        }),
      },
      responses: { 200: jsonContent(SecurityEventListSchema, "A page of security events"), ...problemResponses() },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const now = Date.now();
      const to = query.to ?? now + 1;
      const from = query.from ?? now - SECURITY_RETENTION_MS;
      if (from >= to) {
        throw new ProblemError("VALIDATION_FAILED", "from must be before to.", { extensions: { issues: [{ path: "from", message: "must be before to" }] } });
      }
      const secret = c.get("services").config.adminToken;
      let after: { at: number; requestId: string; code: string } | undefined;
      if (query.cursor) {
        const position = /^(\d{1,15})\.([^.]+)\.([A-Z_]+)$/.exec(await decodeCursor(secret, "security", query.cursor));
        if (!position) throw invalidCursor();
        after = { at: Number(position[1]), requestId: position[2], code: position[3] };
      }
      const page = await listSecurityEvents(getDb(c.env.DB), { code: query.code, ip: query.ip, from, to, after, limit: query.limit });
      const last = page.entries.at(-1);
      const nextCursor = page.more && last ? await encodeCursor(secret, "security", `${last.at}.${last.requestId}.${last.code}`) : null;
      return c.json({ data: page.entries.map(toEvent), nextCursor }, 200);
    },
  );
}
