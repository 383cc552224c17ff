import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { AppEnv } from "../context";
import { isLoopback } from "../config";
import { BARE_CHALLENGE, ProblemError } from "../errors";
import { clientIp } from "../middleware";
import { looksLikeJwt } from "../identity/jwt";
import { ownerFromToken } from "../identity/owners";
import { sessionOf } from "../identity/portal-sessions";
import type { LifecycleEnv } from "../lifecycle/keys";

/** The portal's session cookie: HttpOnly, SameSite=Strict, scoped to PORTAL_PATH, Secure but on loopback. */
export const SESSION_COOKIE = "keygate_portal";

/** Who is using the portal: always one owner, signed in by a portal link's session or a token from PORTAL_OIDC's issuer. */
export interface PortalCaller {
  ownerId: string;
  via: "session" | "token";
  /** the cookie's session id, for sign-out */
  sessionId: string | null;
  returnUrl: string | null;
}

declare module "hono" {
  interface ContextVariableMap {
    portalCaller: PortalCaller;
  }
}

/** The gateway's own origin: PUBLIC_URL, else the request's. */
export const ownOrigin = (c: Context<AppEnv>): string => c.get("services").config.publicUrl?.origin ?? new URL(c.req.url).origin;

/** Cookies are Secure everywhere but on a loopback host, where local development runs on plain http. */
export const secureCookies = (c: Context<AppEnv>): boolean => !isLoopback(new URL(ownOrigin(c)).hostname);

const SAFE_METHODS = new Set(["GET", "HEAD"]);

/**
 * The portal API's callers (DESIGN.md, "Key holders: the portal"): `Authorization: Bearer <JWT>`
 * from PORTAL_OIDC's issuer, acting as the owner its `ownerClaim` names; or the session cookie a
 * portal link started. A write the cookie authenticates must come from the gateway's own origin
 * (`Origin`), so no other site can make one with the owner's cookie (403 FORBIDDEN otherwise).
 */
export const portalAuth = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const { config } = c.get("services");
  const authorization = c.req.header("Authorization");
  if (authorization !== undefined) {
    const token = /^bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
    if (!config.portalOidc) {
      throw new ProblemError("UNAUTHORIZED", "This portal takes no bearer tokens (PORTAL_OIDC is not set): open a portal link instead.");
    }
    if (!token || !looksLikeJwt(token)) throw new ProblemError("UNAUTHORIZED", "Send `Authorization: Bearer <JWT>` from the identity provider PORTAL_OIDC names.");
    const ownerId = await ownerFromToken(token, config.portalOidc);
    c.set("portalCaller", { ownerId, via: "token", sessionId: null, returnUrl: null });
    return next();
  }
  const sessionId = getCookie(c, SESSION_COOKIE);
  if (!sessionId) {
    throw new ProblemError("UNAUTHORIZED", "Not signed in: open a portal link from the app that gave you your keys.", {
      headers: { "WWW-Authenticate": BARE_CHALLENGE },
    });
  }
  const session = await sessionOf(c.env.DB, sessionId);
  if (!session) throw new ProblemError("UNAUTHORIZED", "This portal session has ended: open a new portal link from the app that gave you your keys.");
  if (!SAFE_METHODS.has(c.req.method) && c.req.header("Origin") !== ownOrigin(c)) {
    throw new ProblemError("FORBIDDEN", "A change in the portal must come from the portal's own pages (the Origin header does not match).");
  }
  c.set("portalCaller", { ownerId: session.ownerId, via: "session", sessionId, returnUrl: session.returnUrl });
  await next();
};

/** The key lifecycle's context for a portal change: audited as `owner:<ownerId>`, via the portal. */
export function portalLifecycle(c: Context<AppEnv>): LifecycleEnv {
  return {
    env: c.env,
    services: c.get("services"),
    audit: { actor: `owner:${c.get("portalCaller").ownerId}`, requestId: c.get("requestId"), clientIp: clientIp(c.req.raw.headers), via: "portal" },
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  };
}
