import type { Context, MiddlewareHandler } from "hono";
import type { Config, Role } from "../config";
import type { AppEnv } from "../context";
import { BARE_CHALLENGE, ProblemError } from "../errors";
import { hashKey } from "../keys/format";
import { wellFormedKey } from "../keys/imported";
import { ipAllowed } from "../keys/ip";
import { keyUnusable } from "../keys/verify";
import { readKeyNow } from "../store/cache";
import { recordUnknownKey, refuseIfTooManyInvalid } from "../store/invalid-keys";
import { clientIp } from "../middleware";
import { looksLikeJwt } from "../identity/jwt";
import { operatorFromAccess, operatorFromOidc } from "../identity/operators";
import { atLeast } from "../identity/roles";
import { usageBuffer } from "../analytics/buffer";
import { clip } from "../analytics/writer";
import { KEY_START_CHARS } from "../store/security-events";

/**
 * Who is calling the admin API, as the audit log names them: "root" (ADMIN_TOKEN), an admin
 * key's id, or `user:<email>` (an operator's identity, ADMIN_OIDC or ADMIN_ACCESS); and the role
 * that decides what they may do.
 */
export interface Actor {
  id: string;
  role: Role;
  /** anything beyond reading: every role but `viewer` */
  canWrite: boolean;
}

declare module "hono" {
  interface ContextVariableMap {
    actor: Actor;
  }
}

const READ_METHODS = new Set(["GET", "HEAD"]);

/**
 * Admin paths (below ADMIN_PATH) whose changes need `admin` rather than `operator`: plans and
 * webhooks (DESIGN.md, "Operators' sign-in and roles"). Reading them needs `viewer`, as
 * reading anything does.
 */
const ADMIN_ONLY = ["/plans", "/webhooks"];

/** The least role a request needs: `viewer` to read, `operator` to change, `admin` to change plans and webhooks. */
export function leastRole(method: string, path: string): Role {
  if (READ_METHODS.has(method)) return "viewer";
  return ADMIN_ONLY.some((prefix) => path === prefix || path.startsWith(`${prefix}/`)) ? "admin" : "operator";
}

const actorOf = (id: string, role: Role): Actor => ({ id, role, canWrite: role !== "viewer" });

/**
 * ADMIN_TOKEN (compared in constant time, role `admin`); a keygate key holding exactly
 * `admin:write` (`admin`) or `admin:read` (`viewer`), never a wildcard; a bearer JWT from
 * ADMIN_OIDC's issuer; or, with no Authorization header, Cloudflare Access's
 * `Cf-Access-Jwt-Assertion` (ADMIN_ACCESS). An identity's role comes from its config's `roles`.
 * A key is read from D1, not a cache, so revoking an admin key takes effect at once; a
 * credential that matches nothing costs what an unknown consumer key does.
 */
export const adminAuth = (adminPath: string): MiddlewareHandler<AppEnv> => async (c, next) => {
  let actor: Actor;
  try {
    actor = await authenticate(c.env, c.get("services").config, c.req.raw.headers);
  } catch (err) {
    // A refused credential is a failed sign-in; a request that sent none is not (DESIGN.md, "Security events").
    const sent = presentedCredential(c.req.raw.headers) !== null || c.req.raw.headers.has("Cf-Access-Jwt-Assertion");
    if (sent && err instanceof ProblemError && SIGN_IN_FAILURES.has(err.code)) signInFailed(c, err.code);
    throw err;
  }
  const least = leastRole(c.req.method, c.req.path.slice(adminPath.length));
  if (!atLeast(actor.role, least)) throw forbidden(actor, least);
  c.set("actor", actor);
  await next();
};

function forbidden(actor: Actor, least: Role): ProblemError {
  if (actor.id.startsWith("user:")) {
    return new ProblemError("FORBIDDEN", `${actor.id.slice(5)} has the ${actor.role} role; this needs the ${least} role.`);
  }
  if (actor.role === "viewer") return new ProblemError("FORBIDDEN", "This key holds admin:read; changes need admin:write.");
  return new ProblemError("FORBIDDEN", `This needs the ${least} role.`);
}

/** The credential sent as `Authorization: Bearer` or `X-API-Key`, if any. */
const presentedCredential = (headers: Headers): string | null =>
  /^bearer\s+(\S+)\s*$/i.exec(headers.get("Authorization") ?? "")?.[1] ?? headers.get("X-API-Key");

async function authenticate(env: Env, config: Config, headers: Headers): Promise<Actor> {
  const presented = presentedCredential(headers);
  if (presented) {
    if (await sameSecret(presented, config.adminToken)) return actorOf("root", "admin");
    if (config.adminOidc && !wellFormedKey(presented, config.importedKeyPrefixes) && looksLikeJwt(presented)) {
      const operator = await operatorFromOidc(presented, config.adminOidc);
      return actorOf(`user:${operator.email}`, operator.role);
    }
    return keyActor(env, presented, clientIp(headers), config);
  }
  const assertion = headers.get("Cf-Access-Jwt-Assertion");
  if (assertion && config.adminAccess) {
    const operator = await operatorFromAccess(assertion, config.adminAccess);
    return actorOf(`user:${operator.email}`, operator.role);
  }
  throw new ProblemError("UNAUTHORIZED", "Send `Authorization: Bearer <ADMIN_TOKEN>` or an admin key.", {
    headers: { "WWW-Authenticate": BARE_CHALLENGE },
  });
}

/** Refusals of a credential that was presented: a failed sign-in, for the security events. */
const SIGN_IN_FAILURES = new Set(["UNAUTHORIZED", "TOO_MANY_INVALID_KEYS"]);

/**
 * Records a failed admin sign-in as a security event (DESIGN.md, "Security events"), batched
 * with usage. `keyStart` only when the credential has a key's form (keygate's, or an imported
 * key's): a mistyped ADMIN_TOKEN keeps all of its characters to itself.
 */
function signInFailed(c: Context<AppEnv>, code: string): void {
  const req = c.req.raw;
  const presented = presentedCredential(req.headers);
  try {
    usageBuffer().recordSecurity(
      {
        at: Date.now(),
        code,
        ip: clientIp(req.headers),
        country: String(req.cf?.country ?? "") || null,
        userAgent: clip(req.headers.get("User-Agent") ?? "") || null,
        method: req.method,
        path: clip(c.req.path),
        route: null,
        keyStart: presented && wellFormedKey(presented, c.get("services").config.importedKeyPrefixes) ? presented.slice(0, KEY_START_CHARS) : null,
        keyId: null,
        requestId: c.get("requestId"),
      },
      c.executionCtx,
      c.get("services").config.usageFlushMs,
    );
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "security event not recorded", error: String(err) }));
  }
}

async function sameSecret(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all(
    [a, b].map((s) => crypto.subtle.digest("SHA-256", new TextEncoder().encode(s))),
  );
  return crypto.subtle.timingSafeEqual(ha, hb);
}

async function keyActor(env: Env, presented: string, ip: string | null, config: Config): Promise<Actor> {
  const unauthorized = (why: string) => new ProblemError("UNAUTHORIZED", why);
  if (!wellFormedKey(presented, config.importedKeyPrefixes)) {
    throw unauthorized(
      config.adminOidc !== null
        ? "The token is neither ADMIN_TOKEN, a keygate key, nor a token from ADMIN_OIDC's issuer."
        : "The token is neither ADMIN_TOKEN nor a keygate key.",
    );
  }
  refuseIfTooManyInvalid(ip);
  const hash = await hashKey(presented);
  const key = await readKeyNow(env, hash);
  if (!key) {
    recordUnknownKey(ip, hash, Date.now());
    throw unauthorized("No key matches this token.");
  }
  const unusable = keyUnusable(key, Date.now());
  if (unusable) throw unauthorized(unusable.detail);
  if (!ipAllowed(ip, key.allowedIps)) throw new ProblemError("FORBIDDEN", "This key may not be used from this address.");
  if (key.scopes.includes("admin:write")) return actorOf(key.id, "admin");
  if (key.scopes.includes("admin:read")) return actorOf(key.id, "viewer");
  throw new ProblemError("FORBIDDEN", "This key holds neither admin:read nor admin:write.");
}
