import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { BARE_CHALLENGE, ProblemError } from "../errors";
import { hashKey, parseKey } from "../keys/format";
import { ipAllowed } from "../keys/ip";
import { keyUnusable } from "../keys/verify";
import { readKeyNow } from "../store/cache";
import { recordUnknownKey, refuseIfTooManyInvalid } from "../store/invalid-keys";
import { clientIp } from "../middleware";
import { usageBuffer } from "../analytics/buffer";
import { clip } from "../analytics/writer";
import { KEY_START_CHARS } from "../store/security-events";

/** Who is calling the admin API: "root" (ADMIN_TOKEN) or the admin key's id. */
export interface Actor {
  id: string;
  canWrite: boolean;
}

declare module "hono" {
  interface ContextVariableMap {
    actor: Actor;
  }
}

const READ_METHODS = new Set(["GET", "HEAD"]);

/**
 * ADMIN_TOKEN (compared in constant time), or a keygate key holding exactly `admin:read`
 * (GET routes) or `admin:write` (all). Wildcards never grant admin access. The key is read
 * from D1, not a cache, so revoking an admin key takes effect at once; a credential that
 * matches nothing costs what an unknown consumer key does (the same D1 budget, and
 * TOO_MANY_INVALID_KEYS for a client that keeps presenting them).
 */
export const adminAuth = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const { config } = c.get("services");
  const presented = /^bearer\s+(\S+)\s*$/i.exec(c.req.header("Authorization") ?? "")?.[1] ?? c.req.header("X-API-Key");
  if (!presented) {
    throw new ProblemError("UNAUTHORIZED", "Send `Authorization: Bearer <ADMIN_TOKEN>` or an admin key.", {
      headers: { "WWW-Authenticate": BARE_CHALLENGE },
    });
  }
  const ip = clientIp(c.req.raw.headers);
  let actor: Actor;
  try {
    actor = (await sameSecret(presented, config.adminToken)) ? { id: "root", canWrite: true } : await keyActor(c.env, presented, ip);
  } catch (err) {
    if (err instanceof ProblemError && SIGN_IN_FAILURES.has(err.code)) signInFailed(c, presented, err.code);
    throw err;
  }
  if (!READ_METHODS.has(c.req.method) && !actor.canWrite) {
    throw new ProblemError("FORBIDDEN", "This key holds admin:read; changes need admin:write.");
  }
  c.set("actor", actor);
  await next();
};

/** Refusals of a credential that was presented: a failed sign-in, for the security events. */
const SIGN_IN_FAILURES = new Set(["UNAUTHORIZED", "TOO_MANY_INVALID_KEYS"]);

/**
 * Records a failed admin sign-in as a security event (DESIGN.md, "Security events"), batched
 * with usage. `keyStart` only when the credential has a keygate key's form: a mistyped
 * ADMIN_TOKEN keeps all of its characters to itself.
 */
function signInFailed(c: Context<AppEnv>, presented: string, code: string): void {
  const req = c.req.raw;
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
        keyStart: parseKey(presented) ? presented.slice(0, KEY_START_CHARS) : null,
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

async function keyActor(env: Env, presented: string, ip: string | null): Promise<Actor> {
  const unauthorized = (why: string) => new ProblemError("UNAUTHORIZED", why);
  if (!parseKey(presented)) throw unauthorized("The token is neither ADMIN_TOKEN nor a keygate key.");
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
  const canWrite = key.scopes.includes("admin:write");
  if (!canWrite && !key.scopes.includes("admin:read")) {
    throw new ProblemError("FORBIDDEN", "This key holds neither admin:read nor admin:write.");
  }
  return { id: key.id, canWrite };
}
