import { OpenAPIHono } from "@hono/zod-openapi";
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { jsonRequests } from "../api/body";
import { HEADER_COMPONENTS } from "../api/openapi";
import { AS_GIVEN } from "../api/schemas";
import { portalAuth, SESSION_COOKIE } from "./auth";
import { registerKeySelfRoute } from "./key";
import { registerPortalKeyRoutes } from "./keys";
import { registerOwnerRoutes } from "./owner";
import { registerPortalPages } from "./pages";

export const PORTAL_BODY_LIMIT = 16 * 1024;

/**
 * The portal (DESIGN.md, "Key holders: the portal"), mounted at PORTAL_PATH: where the people an
 * operator gives keys to manage their own. Its API under `/api` (OpenAPI 3.1 at
 * `/api/openapi.json`), where portal links land (`/start`), and its pages.
 */
export function portalApp(portalPath: string) {
  const app = new Hono<AppEnv>();
  // Every answer, of every status, is no-store, as admin answers are; assets excepted.
  app.use("*", noStore(portalPath));
  app.route("/api", portalApi(portalPath));
  app.all("/api/*", () => {
    throw new ProblemError("NOT_FOUND", "Nothing here matches this method and path.");
  });
  registerPortalPages(app, portalPath);
  return app;
}

function portalApi(portalPath: string) {
  const api = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      throw new ProblemError("VALIDATION_FAILED", result.error.issues.slice(0, 5).map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; "), {
        extensions: { issues: result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) },
      });
    },
  });
  api.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "keygate portal API",
      version: "1.0.0",
      description:
        "Key holders manage their own keys: list, create, rotate, revoke, and read their usage and what is left of their " +
        `limits and credits. Every call acts as one owner.\n\nRequest bodies: ${AS_GIVEN}`,
    },
    servers: [{ url: `${portalPath}/api` }],
    security: [{ session: [] }, { bearer: [] }],
  });
  api.openAPIRegistry.registerComponent("securitySchemes", "session", {
    type: "apiKey",
    in: "cookie",
    name: SESSION_COOKIE,
    description: "The session a portal link started (POST /admin/portal/sessions). Writes must carry the gateway's own Origin.",
  });
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A token from the identity provider PORTAL_OIDC names; its ownerClaim (default sub) names the owner.",
  });
  api.openAPIRegistry.registerComponent("securitySchemes", "consumerKey", {
    type: "http",
    scheme: "bearer",
    description: "A keygate key, for GET /key only.",
  });
  for (const [name, header] of Object.entries(HEADER_COMPONENTS)) {
    api.openAPIRegistry.registerComponent("headers", name, { ...header, schema: { ...header.schema } });
  }
  api.use(
    "*",
    bodyLimit({
      maxSize: PORTAL_BODY_LIMIT,
      onError: () => {
        throw new ProblemError("PAYLOAD_TOO_LARGE", `Portal request bodies are limited to ${PORTAL_BODY_LIMIT} bytes.`);
      },
    }),
  );
  // Before portalAuth: GET /key is authenticated by the consumer key itself.
  registerKeySelfRoute(api);
  api.use("*", portalAuth());
  api.use("*", jsonRequests());
  registerOwnerRoutes(api, portalPath);
  registerPortalKeyRoutes(api);
  return api;
}

function noStore(portalPath: string): MiddlewareHandler<AppEnv> {
  const assets = `${portalPath}/assets/`;
  return async (c, next) => {
    await next();
    if (c.req.path.startsWith(assets) && c.res.status < 400) return;
    c.res.headers.set("Cache-Control", "no-store");
  };
}
