import { Hono } from "hono";
import { getConfig } from "./config";
import type { AppEnv, Services } from "./context";
import { onError, ProblemError } from "./errors";
import { requestId, services } from "./middleware";
import { admissionClient } from "./admission/client";
import { adminApp } from "./admin";
import { portalApp } from "./portal";
import { wellKnown } from "./gateway/well-known";
import { loosePath, targetOf, underPrefix, type Target } from "./http/paths";

const servicesByEnv = new WeakMap<Env, Services>();

/** Built once per isolate per env: parsed config and the admission client. */
export function buildServices(env: Env): Services {
  let built = servicesByEnv.get(env);
  if (!built) {
    const config = getConfig(env);
    built = { config, state: admissionClient(env.KEY_STATE, env.REGIONAL_STATE, env.OWNER_STATE, config.stateTimeoutMs) };
    servicesByEnv.set(env, built);
  }
  return built;
}

/** Where keygate's own apps live: the admin API and, unless it is off, the portal. */
export interface OwnPaths {
  adminPath: string;
  portalPath: string | null;
}

/**
 * Whether a request's path is keygate's own (DESIGN.md: the admin path, the portal path,
 * `/.well-known/`, `/healthz`) rather than a consumer's. Decided on the canonical path, so `//admin/keys` or
 * `/Admin/keys` reach the admin API as `/admin/keys` does, never an origin; the admin path
 * matches without regard to case, as route prefixes do. A path with no canonical form
 * (`/admin/keys/key_X%00`) is keygate's when the most lenient reading of it (`loosePath`) is:
 * keygate then answers it 404 itself (`createApp`), never with a consumer's code.
 */
export function ownsPath({ url, path }: Target, { adminPath, portalPath }: OwnPaths): boolean {
  const owned = (p: string) =>
    under(p, adminPath) || (portalPath !== null && under(p, portalPath)) || p === "/healthz" || underPrefix(p, "/.well-known");
  return owned(path ?? loosePath(url.pathname));
}

const under = (path: string, prefix: string) => underPrefix(path.toLowerCase(), prefix.toLowerCase());

/** Routes on the canonical path, with the admin and portal paths in the case the config gives them. */
function routingPath({ adminPath, portalPath }: OwnPaths) {
  return (request: Request): string => {
    const { url, path } = targetOf(request);
    if (path === null) return url.pathname;
    if (under(path, adminPath)) return adminPath + path.slice(adminPath.length);
    if (portalPath !== null && under(path, portalPath)) return portalPath + path.slice(portalPath.length);
    return path;
  };
}

/** keygate's own paths: the admin API under ADMIN_PATH, the portal under PORTAL_PATH, the JWKS and health. Consumer requests never come here. */
export function createApp(paths: OwnPaths) {
  const { adminPath, portalPath } = paths;
  const app = new Hono<AppEnv>({ getPath: routingPath(paths) });
  app.use(requestId());
  app.use(async (c, next) => {
    // Nothing is served at a path keygate cannot make canonical: routing it would read it one way
    // here and perhaps another elsewhere. Decided before admin auth, which needs no say in a 404.
    if (targetOf(c.req.raw).path === null) {
      throw new ProblemError("NOT_FOUND", "This path has no canonical form (it holds an encoded /, \\ or NUL, an encoded %, a ; or a broken % encoding), so nothing is served at it.");
    }
    await next();
  });
  app.use(services(buildServices));
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.route("/.well-known", wellKnown);
  app.route(adminPath, adminApp(adminPath));
  if (portalPath !== null) app.route(portalPath, portalApp(portalPath));
  app.notFound(() => {
    throw new ProblemError("NOT_FOUND", "Nothing here matches this method and path.");
  });
  app.onError(onError);
  return app;
}

const apps = new Map<string, ReturnType<typeof createApp>>();

export function appFor(paths: OwnPaths) {
  const id = `${paths.adminPath}\n${paths.portalPath ?? ""}`;
  let app = apps.get(id);
  if (!app) {
    app = createApp(paths);
    apps.set(id, app);
  }
  return app;
}
