import { Hono, type Context } from "hono";
import type { AppEnv } from "../context";
import { problemResponse, toProblem } from "../errors";
import { clientIp } from "../middleware";
import type { RequestEvent } from "../analytics/writer";
import { admit, type Admitted } from "./admit";
import { matchRoute, upstreamUrl } from "./routes";
import { targetOf } from "./paths";
import { isPreflight, preflight, withCors } from "./cors";
import { base64urlJson, setRateLimitHeaders } from "./headers";
import { assertionFor } from "./assertion";
import { forward, originHeaders } from "./proxy";
import { record } from "./record";

/**
 * The hot path (DESIGN.md, "Consumer requests"): verify the key in the table's order,
 * meter it in KeyState with one call, proxy to the route's origin with the identity
 * attached, and record one Analytics Engine data point.
 */
export const gateway = new Hono<AppEnv>();

gateway.all("*", async (c) => {
  const started = Date.now();
  const requestId = c.get("requestId");
  const { url, path } = targetOf(c.req.raw);
  const route = matchRoute(c.get("services").config.routes, path);
  const origin = route?.cors ? c.req.header("Origin") : undefined;
  if (route?.cors && origin !== undefined && isPreflight(c.req.raw)) return preflight(route.cors, origin);
  const event: RequestEvent = {
    keyId: null,
    ownerId: "",
    environment: "",
    route: route?.name ?? "",
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
    const admitted = await admit(c, { url, path, route }, event);
    event.creditsUsed = admitted.creditsUsed;
    response = await proxy(c, admitted, event);
    setRateLimitHeaders(response.headers, admitted.limits);
    event.responseBytes = Number(response.headers.get("Content-Length") ?? 0) || 0;
  } catch (err) {
    const problem = toProblem(err, requestId);
    event.outcome = problem.code;
    response = problemResponse(problem, requestId);
    event.responseBytes = Number(response.headers.get("Content-Length"));
  }
  response.headers.set("X-Request-Id", requestId);
  if (route?.cors && origin !== undefined) withCors(response.headers, route.cors, origin);
  event.status = response.status;
  event.gatewayMs = Math.max(0, Date.now() - started - event.upstreamMs);
  record(c, event, started);
  return response;
});

async function proxy(c: Context<AppEnv>, { key, route, path, url }: Admitted, event: RequestEvent): Promise<Response> {
  const { config } = c.get("services");
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
  // Time waiting on the origin counts as upstream time, also when it fails or times out.
  const sent = Date.now();
  try {
    return await forward(c.req.raw, upstreamUrl(route, path, url.search), headers, route.timeoutMs);
  } finally {
    event.upstreamMs = Date.now() - sent;
  }
}
