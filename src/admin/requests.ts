import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { getKey } from "../lifecycle/keys";
import { requestLogPage, RequestListSchema, RequestLogQuery } from "../api/requests";
import { KeyIdParam } from "./schemas";
import { jsonContent, problemResponses } from "./openapi";

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
      request: { params: KeyIdParam, query: RequestLogQuery },
      responses: { 200: jsonContent(RequestListSchema, "A page of requests"), ...problemResponses({ own: [404] }) },
    }),
    async (c) => {
      const key = await getKey(c.env, c.req.valid("param").id);
      return c.json(await requestLogPage(c.env.DB, c.get("services").config.adminToken, key.id, c.req.valid("query")), 200);
    },
  );
}
