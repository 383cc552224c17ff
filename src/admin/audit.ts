import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { getDb } from "../store/db";
import { listAudit } from "../store/audit";
import { decodeCursor, encodeCursor } from "./cursor";
import { AuditListSchema, ListAuditQuery } from "./schemas";
import { jsonContent, problemResponses } from "./openapi";

export function registerAuditRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/audit",
      operationId: "listAudit",
      tags: ["audit"],
      summary: "Audit entries, newest first",
      description: "One entry per change: who (actor), what (action, targetId, changes), when, from where (clientIp, requestId).",
      request: { query: ListAuditQuery },
      responses: { 200: jsonContent(AuditListSchema, "A page of audit entries"), ...problemResponses() },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const secret = c.get("services").config.adminToken;
      const after = query.cursor ? await decodeCursor(secret, "audit", query.cursor) : undefined;
      const page = await listAudit(getDb(c.env.DB), { ...query, after });
      const last = page.entries.at(-1);
      return c.json(
        { data: page.entries, nextCursor: page.more && last ? await encodeCursor(secret, "audit", last.id) : null },
        200,
      );
    },
  );
}
