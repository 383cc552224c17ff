import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { deleteCookie } from "hono/cookie";
import type { AppEnv } from "../context";
import { getDb } from "../store/db";
import { countUsableKeys } from "../store/keys";
import { usageSource } from "../analytics/usage";
import { endPortalSession } from "../identity/portal-sessions";
import { jsonContent, problemResponses, EVERY_ANSWER } from "../api/openapi";
import { From, Granularity, series, seriesRange, To } from "../api/usage";
import { secureCookies, SESSION_COOKIE } from "./auth";
import { ownerView } from "./defaults";
import { MeSchema, OwnerUsageSchema } from "./schemas";

/** The signed-in owner: who they are and what they share, signing out, and their usage over time. */
export function registerOwnerRoutes(app: OpenAPIHono<AppEnv>, portalPath: string): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/me",
      operationId: "me",
      tags: ["owner"],
      summary: "The signed-in owner",
      description: "The owner's name and plan, the limits and credits all its keys share with what is left, and how many usable keys it has.",
      responses: { 200: jsonContent(MeSchema, "The owner"), ...problemResponses() },
    }),
    async (c) => {
      const caller = c.get("portalCaller");
      const [owner, keys] = await Promise.all([
        ownerView(c.get("services"), c.env, caller.ownerId),
        countUsableKeys(getDb(c.env.DB), caller.ownerId, Date.now()),
      ]);
      return c.json({ ...owner, keys, returnUrl: caller.returnUrl }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/sign-out",
      operationId: "signOut",
      tags: ["owner"],
      summary: "Sign out",
      description: "Ends the session on the server: its cookie no longer works anywhere. With a bearer token there is no session to end.",
      responses: { 204: { description: "Signed out", headers: EVERY_ANSWER }, ...problemResponses() },
    }),
    async (c) => {
      const { sessionId } = c.get("portalCaller");
      if (sessionId) {
        await endPortalSession(c.env.DB, sessionId);
        deleteCookie(c, SESSION_COOKIE, { path: portalPath, secure: secureCookies(c), httpOnly: true, sameSite: "Strict" });
      }
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/usage",
      operationId: "ownUsage",
      tags: ["owner"],
      summary: "The owner's usage over time",
      description:
        "Requests, outcomes, status classes, credits, bytes and latency per hour or day across the owner's keys, and totals, " +
        "shaped as the admin API's key usage. Defaults: the last 24 hours hourly, or the last 30 days daily; at most 90 days.",
      request: { query: z.object({ from: From, to: To, granularity: Granularity }) },
      responses: { 200: jsonContent(OwnerUsageSchema, "Time series and totals"), ...problemResponses() },
    }),
    async (c) => {
      const { ownerId } = c.get("portalCaller");
      const query = c.req.valid("query");
      const { range, step } = seriesRange(query);
      const source = usageSource(c.env, c.get("services").config);
      const figures = series(await source.ownerCells(ownerId, range, step), range, step);
      return c.json({ ownerId, from: figures.from, to: figures.to, granularity: query.granularity, source: source.name, series: figures.series, totals: figures.totals }, 200);
    },
  );
}
