import { Hono } from "hono";
import { getConfig } from "./config";
import type { AppEnv, Services } from "./context";
import { onError, ProblemError } from "./errors";
import { requestId, services } from "./middleware";
import { keyStateClient } from "./state/client";
import { adminApp } from "./admin";
import { wellKnown } from "./gateway/well-known";
import { gateway } from "./gateway";
import { targetOf, underPrefix } from "./gateway/paths";

const servicesByEnv = new WeakMap<Env, Services>();

/** Built once per isolate per env: parsed config and the KeyState client. */
export function buildServices(env: Env): Services {
  let built = servicesByEnv.get(env);
  if (!built) {
    const config = getConfig(env);
    built = { config, state: keyStateClient(env.KEY_STATE, config.stateTimeoutMs) };
    servicesByEnv.set(env, built);
  }
  return built;
}

/**
 * Routes on the canonical path, so `//admin/keys` or `/Admin/keys` reach the admin API as
 * `/admin/keys` does, never the gateway; the admin path matches without regard to case, as
 * route prefixes do. A path with no canonical form goes to the gateway, which refuses it.
 */
function routingPath(adminPath: string) {
  const folded = adminPath.toLowerCase();
  return (request: Request): string => {
    const { url, path } = targetOf(request);
    if (path === null) return url.pathname;
    return underPrefix(path.toLowerCase(), folded) ? adminPath + path.slice(adminPath.length) : path;
  };
}

/** The worker: admin API under ADMIN_PATH, JWKS and health, and the gateway for everything else. */
export function createApp(adminPath: string) {
  const app = new Hono<AppEnv>({ getPath: routingPath(adminPath) });
  app.use(requestId());
  app.use(services(buildServices));
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.route("/.well-known", wellKnown);
  app.route(adminPath, adminApp(adminPath));
  app.all(`${adminPath}/*`, () => {
    throw new ProblemError("NOT_FOUND", "No admin route matches this method and path.");
  });
  app.route("/", gateway);
  app.onError(onError);
  return app;
}

const apps = new Map<string, ReturnType<typeof createApp>>();

export function appFor(adminPath: string) {
  let app = apps.get(adminPath);
  if (!app) {
    app = createApp(adminPath);
    apps.set(adminPath, app);
  }
  return app;
}
