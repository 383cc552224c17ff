import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { adminAuth } from "./auth";
import { jsonRequests } from "./body";
import { registerKeyRoutes } from "./keys";
import { registerAuditRoutes } from "./audit";
import { registerUsageRoutes } from "./usage";
import { registerRequestLogRoutes } from "./requests";
import { registerMetricsRoutes } from "./metrics";
import { registerWhoamiRoute } from "./whoami";
import { registerPortalRoutes } from "./portal";
import { registerOwnerRoutes } from "./owners";
import { registerPlanRoutes } from "./plans";
import { registerWebhookRoutes } from "./webhooks";
import { registerSecurityEventRoutes } from "./security-events";
import { registerPages } from "./ui";
import { HEADER_COMPONENTS } from "./openapi";
import { AS_GIVEN } from "./schemas";
import { IMPORT_BODY_LIMIT, IMPORT_PATH, registerImportRoute } from "./import";
import { validationFailed } from "./validation";

export const ADMIN_BODY_LIMIT = 64 * 1024;

/** The admin API (DESIGN.md, "Admin API"), its OpenAPI 3.1 document, reference page and dashboard. */
export function adminApp(adminPath: string) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      throw validationFailed(result.error.issues);
    },
  });

  // First, so it wraps every answer below, the document's included.
  app.use("*", noStore(adminPath));
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "keygate admin API",
      version: "1.0.0",
      description: `Create, list, rotate and revoke API keys; read the audit log and security events; manage webhook endpoints.\n\nRequest bodies: ${AS_GIVEN}`,
    },
    servers: [{ url: adminPath }],
    security: [{ bearer: [] }],
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description:
      "ADMIN_TOKEN; a keygate key with scope admin:read (GET) or admin:write (all); a JWT from ADMIN_OIDC's issuer; or, " +
      "behind Cloudflare Access (ADMIN_ACCESS), the Cf-Access-Jwt-Assertion header Access adds",
  });
  for (const [name, header] of Object.entries(HEADER_COMPONENTS)) {
    app.openAPIRegistry.registerComponent("headers", name, { ...header, schema: { ...header.schema } });
  }
  registerPages(app, adminPath);

  app.use("*", bodyLimits(adminPath));
  app.use("*", adminAuth(adminPath));
  app.use("*", jsonRequests({ itemsOf: { path: `${adminPath}${IMPORT_PATH}`, field: "keys" } }));
  registerImportRoute(app);
  registerKeyRoutes(app);
  registerAuditRoutes(app);
  registerUsageRoutes(app);
  registerRequestLogRoutes(app);
  registerMetricsRoutes(app);
  registerWhoamiRoute(app);
  registerPortalRoutes(app);
  registerOwnerRoutes(app);
  registerPlanRoutes(app);
  registerWebhookRoutes(app);
  registerSecurityEventRoutes(app);
  return app;
}

const tooLarge = (limit: number, what: string) =>
  bodyLimit({
    maxSize: limit,
    onError: () => {
      throw new ProblemError("PAYLOAD_TOO_LARGE", `${what} are limited to ${limit} bytes.`);
    },
  });

/** ADMIN_BODY_LIMIT for every admin body but an import's, which may hold a thousand keys (IMPORT_BODY_LIMIT). */
function bodyLimits(adminPath: string): MiddlewareHandler<AppEnv> {
  const admin = tooLarge(ADMIN_BODY_LIMIT, "Admin request bodies");
  const imports = tooLarge(IMPORT_BODY_LIMIT, "Import bodies");
  const importPath = `${adminPath}${IMPORT_PATH}`;
  return (c, next) => (c.req.method === "POST" && c.req.path === importPath ? imports : admin)(c, next);
}

/**
 * DESIGN.md: "Admin answers are `Cache-Control: no-store`": every answer under ADMIN_PATH, of
 * every status, so no browser, proxy or CDN keeps a one-time key, a record or a figure. The
 * one exception is a static asset the dashboard loads (`/assets/...`, 2xx or 304): it holds no
 * data, and keeps the `no-cache` ui.ts gives it (docs/behaviour.md, "Dashboard").
 */
function noStore(adminPath: string): MiddlewareHandler<AppEnv> {
  const assets = `${adminPath}/assets/`;
  return async (c, next) => {
    await next();
    if (c.req.path.startsWith(assets) && c.res.status < 400) return;
    c.res.headers.set("Cache-Control", "no-store");
  };
}
