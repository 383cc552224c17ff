import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { PROMETHEUS_CONTENT_TYPE, PROMETHEUS_MEDIA_TYPE, renderMetrics } from "../analytics/prometheus";
import { getDb } from "../store/db";
import { allTotals, keyCounts } from "../store/usage";
import { problemResponses, textContent } from "./openapi";

export function registerMetricsRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      operationId: "getMetrics",
      tags: ["usage"],
      summary: "Prometheus metrics",
      description:
        "Prometheus text exposition, `Content-Type: text/plain; version=0.0.4; charset=utf-8`, for scraping with a " +
        "bearer token (admin:read): requests by route, " +
        "outcome and status class, credits and bytes by route, gateway and origin latency histograms, keys by status. " +
        "Counters are all-time totals from D1, at most 60 s behind.",
      responses: {
        200: textContent(
          PROMETHEUS_MEDIA_TYPE,
          z.string().openapi({ example: 'keygate_requests_total{route="posts",outcome="OK",status_class="2xx"} 42' }),
          "The metrics",
        ),
        ...problemResponses(),
      },
    }),
    async (c) => {
      const db = getDb(c.env.DB);
      const [totals, keys] = await Promise.all([allTotals(db), keyCounts(db, Date.now())]);
      return c.text(renderMetrics({ totals, keys }), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE, "Cache-Control": "no-store" });
    },
  );
}
