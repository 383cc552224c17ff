import { Hono, type Context } from "hono";
import type { AppEnv } from "../context";
import type { Route } from "../config";
import { problemResponse, ProblemError, toProblem } from "../errors";
import { hashKey } from "../keys/format";
import { missingScopes } from "../keys/scopes";
import { ipAllowed } from "../keys/ip";
import { keyUnusable } from "../keys/verify";
import { lookupKey, refetchKey } from "../store/cache";
import type { StoredKey } from "../store/record";
import type { CheckResult, LimitState } from "../state/key-state";
import { StateUnavailableError } from "../state/client";
import { clientIp } from "../middleware";
import { recordRequest, type RequestEvent } from "../analytics/writer";
import { extractKey, requireWellFormed } from "./authenticate";
import { matchRoute, normalisePath, requiredScopes, upstreamUrl } from "./routes";
import { base64urlJson, setRateLimitHeaders } from "./headers";
import { assertionFor } from "./assertion";
import { forward, originHeaders } from "./proxy";

/**
 * The hot path (DESIGN.md, "Consumer requests"): verify the key in the table's order,
 * meter it in KeyState with one call, proxy to the route's origin with the identity
 * attached, and record one Analytics Engine data point.
 */
export const gateway = new Hono<AppEnv>();

interface Admitted {
  key: StoredKey;
  route: Route;
  path: string;
  limits: LimitState[];
  creditsUsed: number;
}

gateway.all("*", async (c) => {
  const started = Date.now();
  const requestId = c.get("requestId");
  const event: RequestEvent = {
    keyId: null,
    ownerId: "",
    environment: "",
    route: "",
    method: c.req.method,
    outcome: "OK",
    status: 0,
    colo: String(c.req.raw.cf?.colo ?? ""),
    country: String(c.req.raw.cf?.country ?? ""),
    gatewayMs: 0,
    upstreamMs: 0,
    requestBytes: Number(c.req.header("Content-Length") ?? 0) || 0,
    responseBytes: 0,
    creditsUsed: 0,
  };
  let response: Response;
  try {
    const admitted = await admit(c, event);
    const upstream = await proxy(c, admitted);
    event.upstreamMs = upstream.upstreamMs;
    event.creditsUsed = admitted.creditsUsed;
    response = upstream.response;
    setRateLimitHeaders(response.headers, admitted.limits);
  } catch (err) {
    const problem = toProblem(err, requestId);
    event.outcome = problem.code;
    response = problemResponse(problem, requestId);
  }
  response.headers.set("X-Request-Id", requestId);
  event.status = response.status;
  event.responseBytes = Number(response.headers.get("Content-Length") ?? 0) || 0;
  event.gatewayMs = Math.max(0, Date.now() - started - event.upstreamMs);
  recordRequest(c.env.USAGE, c.executionCtx, event);
  return response;
});

async function admit(c: Context<AppEnv>, event: RequestEvent): Promise<Admitted> {
  const { config, state } = c.get("services");
  const url = new URL(c.req.url);
  const path = normalisePath(url.pathname);
  const route = matchRoute(config.routes, path);

  const presented = extractKey(c.req.raw.headers, url.search, route); // 1
  requireWellFormed(presented); // 2
  const hash = await hashKey(presented);
  const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  let key = await lookupKey(c.env, hash, waitUntil);

  for (let attempt = 0; ; attempt++) {
    if (!key) throw new ProblemError("KEY_NOT_FOUND", "No key matches; it may have been mistyped or deleted."); // 3
    event.keyId = key.id;
    event.ownerId = key.ownerId;
    event.environment = key.environment;
    const unusable = keyUnusable(key, Date.now()); // 4, 5, 6
    if (unusable) throw unusable;
    if (!route || path === null) throw new ProblemError("NO_ROUTE", `No route serves ${url.pathname}.`); // 7
    event.route = route.name;
    const ip = clientIp(c.req.raw.headers);
    if (!ipAllowed(ip, key.allowedIps)) {
      throw new ProblemError("IP_NOT_ALLOWED", `Requests from ${ip ?? "an unknown address"} are not allowed for this key.`); // 8
    }
    const missing = missingScopes(key.scopes, requiredScopes(route, c.req.method)); // 9
    if (missing.length > 0) {
      throw new ProblemError("INSUFFICIENT_SCOPE", `${c.req.method} ${route.prefix} needs the scope ${missing.join(", ")}.`, {
        extensions: { missingScopes: missing },
      });
    }

    let result: CheckResult;
    try {
      result = await state.check(key.lineageId, {
        keyId: key.id,
        version: key.version,
        ratelimits: key.ratelimits,
        credits: key.credits,
        cost: route.cost,
      });
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err;
      console.error(JSON.stringify({ level: "error", msg: "KeyState unavailable", route: route.name, error: err.message }));
      if (route.failOpen) return { key, route, path, limits: [], creditsUsed: 0 };
      throw new ProblemError("GATEWAY_UNAVAILABLE", "Rate limits cannot be checked right now; try again shortly.", {
        headers: { "Retry-After": "5" },
      });
    }

    if (result.outcome === "STALE") {
      // An admin change this isolate has not seen: read the record again, then check again.
      if (attempt > 0) throw new ProblemError("GATEWAY_UNAVAILABLE", "The key's record is changing; try again.");
      key = await refetchKey(c.env, hash, waitUntil);
      continue;
    }
    if (result.outcome !== "OK") {
      const headers = new Headers({ "Retry-After": String(result.retryAfter) });
      setRateLimitHeaders(headers, result.limits);
      throw result.outcome === "RATE_LIMITED"
        ? new ProblemError("RATE_LIMITED", "Too many requests for this key; wait for the window to reset.", { headers })
        : new ProblemError(
            "QUOTA_EXHAUSTED",
            `This key has ${result.credits?.remaining ?? 0} credits left and the route costs ${route.cost}.`,
            { headers },
          );
    }
    return { key, route, path, limits: result.limits, creditsUsed: result.credits ? route.cost : 0 };
  }
}

async function proxy(c: Context<AppEnv>, { key, route, path }: Admitted) {
  const { config } = c.get("services");
  const url = new URL(c.req.url);
  const headers = originHeaders(c.req.raw.headers);
  headers.set("X-Keygate-Key-Id", key.id);
  headers.set("X-Keygate-Owner-Id", key.ownerId);
  headers.set("X-Keygate-Environment", key.environment);
  headers.set("X-Keygate-Scopes", key.scopes.join(" "));
  headers.set("X-Keygate-Metadata", base64urlJson(key.metadata));
  headers.set("X-Keygate-Assertion", await assertionFor(config, key, route.name, url.origin));
  headers.set("X-Request-Id", c.get("requestId"));
  const ip = clientIp(c.req.raw.headers);
  if (ip) headers.set("X-Forwarded-For", ip);
  headers.set("X-Forwarded-Proto", url.protocol.slice(0, -1));
  headers.set("X-Forwarded-Host", url.host);
  return forward(c.req.raw, upstreamUrl(route, path, url.search), headers, route.timeoutMs);
}
