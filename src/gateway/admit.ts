import type { Route } from "../config";
import { insufficientScopeChallenge, ProblemError } from "../errors";
import { hashKey } from "../keys/format";
import { missingScopes } from "../keys/scopes";
import { ipAllowed } from "../keys/ip";
import { keyUnusable } from "../keys/verify";
import { lookupKey, refetchKey } from "../store/cache";
import { lookupOwner, refetchOwner } from "../store/owner-cache";
import { abusePolicyFor } from "../events/notice";
import { keyLimits, OWNER_LIMIT_PREFIX, sharedCredits, sharedLimits, viewVersion, type OwnerView } from "../owners/record";
import type { StoredKey } from "../keys/record";
import type { LimitState } from "../admission/budget";
import type { AdmitResult } from "../admission/protocol";
import { regionOf, type Region, type RequestLocation } from "../admission/regions";
import { StateUnavailableError, type AdmissionClient } from "../admission/client";
import type { RequestEvent } from "../analytics/writer";
import { extractKey, requireWellFormed } from "./authenticate";
import { recordUnknownKey, refuseIfTooManyInvalid } from "../store/invalid-keys";
import { requiredScopes } from "./routes";
import { METHODS } from "./cors";
import { setRateLimitHeaders } from "./headers";
import type { Exchange } from "./exchange";
import type { Deadline } from "../http/deadline";

export interface Admitted {
  key: StoredKey;
  /** the key's owner with its plan (null: no record of it) */
  owner: OwnerView | null;
  route: Route;
  path: string;
  limits: LimitState[];
  creditsUsed: number;
}

/**
 * Checks 1 to 11 of DESIGN.md's table, in order, then meters the request in KeyState with
 * one call to the admission object of the request's region. The record may come from a cache
 * that missed an admin change: the object's version catches that, both when the request is
 * metered and before a refusal the record decided.
 */
export async function admit(x: Exchange, event: RequestEvent): Promise<Admitted> {
  const { url, path, route, ip, env } = x;
  const { state } = x.services;
  const region = regionOf(x.request.cf as RequestLocation | undefined);

  const presented = extractKey(x.request.headers, url.search, route); // 1
  requireWellFormed(presented, x.services.config.importedKeyPrefixes); // 2
  refuseIfTooManyInvalid(ip); // checked after 2, before 3
  const hash = await hashKey(presented);
  const waitUntil = (p: Promise<unknown>) => x.ctx.waitUntil(p);
  const found = lookupKey(env, hash, waitUntil);
  let key = found instanceof Promise ? await found : found;
  // true once the record was read from D1 during this request: it is then the latest there is
  let fromD1 = false;
  // the key's owner with its plan, looked up once the key may be admitted; likewise read from D1 once stale
  let owner: OwnerView | null | undefined;
  let ownerFromD1 = false;

  for (;;) {
    if (!key) {
      recordUnknownKey(ip, hash, Date.now());
      throw new ProblemError("KEY_NOT_FOUND", "No key matches; it may have been mistyped or deleted."); // 3
    }
    event.keyId = key.id;
    event.ownerId = key.ownerId;
    event.environment = key.environment;

    const refusal = refuse(x.request.method, key, route, path, ip); // 4 to 9
    if (refusal) {
      // A revocation is final; any other refusal may rest on a record an admin has since changed,
      // so it stands only once confirmed: by D1, or by an admission object that knows no newer version.
      if (fromD1 || refusal.code === "KEY_REVOKED" || (await newerRecordExists(state, key, region, x.deadline)) === false) throw refusal;
      key = await refetchKey(env, hash, waitUntil);
      fromD1 = true;
      continue;
    }
    if (owner === undefined) {
      const lookedUp = lookupOwner(env, key.ownerId, waitUntil);
      owner = lookedUp instanceof Promise ? await lookedUp : lookedUp;
    }
    const admitted = { key, owner, route: route!, path: path! };
    const abuse = abusePolicyFor(x.services.config, admitted.route);

    let result: AdmitResult;
    try {
      result = await state.admit(
        {
          lineageId: key.lineageId,
          region,
          keyId: key.id,
          version: key.version,
          ratelimits: keyLimits(key, owner),
          cost: admitted.route.cost,
          ...(owner ? { owner: { id: owner.owner.id, version: viewVersion(owner), ratelimits: sharedLimits(owner), credits: sharedCredits(owner) !== null } } : {}),
          ...(abuse ? { abuse } : {}),
        },
        x.deadline,
      );
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err;
      console.error(JSON.stringify({ level: "error", msg: "admission unavailable", route: admitted.route.name, error: err.message }));
      if (!admitted.route.failOpen) {
        throw new ProblemError("GATEWAY_UNAVAILABLE", "Rate limits cannot be checked right now; try again shortly.", {
          headers: { "Retry-After": "5" },
        });
      }
      // Unmetered, but never on a record an admin has since changed: D1 has the last word.
      if (fromD1) return { ...admitted, limits: [], creditsUsed: 0 };
      key = await refetchKey(env, hash, waitUntil);
      fromD1 = true;
      continue;
    }

    if (result.outcome === "STALE" && result.owner) {
      // A change of the owner or its plan this isolate has not seen: read it again, then check again.
      if (ownerFromD1) throw new ProblemError("GATEWAY_UNAVAILABLE", "The key's owner is changing; try again.");
      owner = await refetchOwner(env, key.ownerId, waitUntil);
      ownerFromD1 = true;
      continue;
    }
    if (result.outcome === "STALE") {
      // An admin change this isolate has not seen: read the record again, then check again.
      if (fromD1) throw new ProblemError("GATEWAY_UNAVAILABLE", "The key's record is changing; try again.");
      key = await refetchKey(env, hash, waitUntil);
      fromD1 = true;
      continue;
    }
    if (result.outcome !== "OK") {
      const headers = new Headers({ "Retry-After": String(result.retryAfter) });
      setRateLimitHeaders(headers, result.limits);
      const extensions = { limit: result.limit };
      const whose = result.limit?.startsWith(OWNER_LIMIT_PREFIX) ? "this key's owner" : "this key";
      throw result.outcome === "RATE_LIMITED" // 10
        ? new ProblemError("RATE_LIMITED", `Too many requests for ${whose} (limit "${result.limit}"); wait for the window to reset.`, { headers, extensions })
        : new ProblemError(
            "QUOTA_EXHAUSTED", // 11
            `${whose === "this key" ? "This key has" : "This key's owner has"} ${result.credits?.remaining ?? 0} credits left and the route costs ${admitted.route.cost}.`,
            { headers, extensions },
          );
    }
    return { ...admitted, limits: result.limits, creditsUsed: result.credits ? admitted.route.cost : 0 };
  }
}

/** Checks 4 to 9: what the key's record and the route say, without consuming anything. */
function refuse(
  method: string,
  key: StoredKey,
  route: Route | null,
  path: string | null,
  ip: string | null,
): ProblemError | null {
  const unusable = keyUnusable(key, Date.now()); // 4, 5, 6
  if (unusable) return new ProblemError(unusable.code, unusable.detail);
  if (path === null) {
    return new ProblemError("NO_ROUTE", "No route serves this target: its path holds an encoded /, \\, NUL or %, a ;, a broken % encoding, or a segment ending in . or a space, or it has no path."); // 7
  }
  if (!route) return new ProblemError("NO_ROUTE", `No route serves ${path}.`); // 7
  if (!ipAllowed(ip, key.allowedIps)) {
    return new ProblemError("IP_NOT_ALLOWED", `Requests from ${ip ?? "an unknown address"} are not allowed for this key.`); // 8
  }
  const missing = missingScopes(key.scopes, requiredScopes(route, method)); // 9
  if (missing.length > 0) {
    return new ProblemError("INSUFFICIENT_SCOPE", `${method} ${route.prefix} needs the scope ${missing.join(", ")}.`, {
      headers: { "WWW-Authenticate": insufficientScopeChallenge(missing) },
      extensions: { missingScopes: missing },
    });
  }
  if (NEVER_PROXIED.has(method)) {
    return new ProblemError("METHOD_NOT_ALLOWED", `keygate never forwards ${method} requests.`, {
      headers: { Allow: METHODS },
    }); // 9b
  }
  return null;
}

/** Methods that would turn the gateway into a tunnel or reflect credentials (check 9b). */
const NEVER_PROXIED = new Set(["TRACE", "CONNECT"]);

/** Whether the admission object knows a newer version of the record; null when it cannot be asked. */
async function newerRecordExists(state: AdmissionClient, key: StoredKey, region: Region | null, deadline: Deadline): Promise<boolean | null> {
  try {
    return (await state.version({ lineageId: key.lineageId, region, keyId: key.id }, deadline)) > key.version;
  } catch (err) {
    if (!(err instanceof StateUnavailableError)) throw err;
    return null;
  }
}
