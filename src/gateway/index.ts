import type { Services } from "../context";
import { problemResponse, toProblem } from "../errors";
import { clientIp } from "../middleware";
import type { RequestEvent } from "../analytics/writer";
import { admit, type Admitted } from "./admit";
import type { Exchange } from "./exchange";
import { matchRoute, upstreamUrl } from "./routes";
import type { Target } from "../http/paths";
import { isPreflight, preflight, withCors } from "./cors";
import { identityHeaders, ownerHeaders, rateLimitHeaders } from "./headers";
import { assertionFor } from "./assertion";
import { answerFrom, forward, originHeaders } from "./proxy";
import { record } from "./record";
import { Deadline } from "../http/deadline";
import { withSuspensionRetryAfter } from "./suspended";

/**
 * The hot path (DESIGN.md, "Consumer requests"): verify the key in the table's order, meter
 * it in KeyState with one call, proxy to the route's origin with the identity attached, and
 * record the request (one Analytics Engine data point, one entry in the usage buffer).
 */
export async function handleConsumer(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  services: Services,
  { url, path }: Target,
  requestId: string,
): Promise<Response> {
  const started = Date.now();
  const route = matchRoute(services.config.routes, path);
  const origin = route?.cors ? request.headers.get("Origin") : null;
  if (route?.cors && origin !== null && isPreflight(request)) {
    const answer = preflight(route.cors, origin);
    answer.headers.set("X-Request-Id", requestId);
    return answer;
  }
  const x: Exchange = {
    request,
    env,
    ctx,
    services,
    requestId,
    url,
    path,
    route,
    ip: clientIp(request.headers),
    started,
    deadline: new Deadline(),
  };
  const event: RequestEvent = {
    keyId: null,
    ownerId: "",
    environment: "",
    route: route?.name ?? "",
    method: request.method,
    outcome: "OK",
    status: 0,
    colo: String(request.cf?.colo ?? ""),
    country: String(request.cf?.country ?? ""),
    gatewayMs: 0,
    upstreamMs: 0,
    requestBytes: Number(request.headers.get("Content-Length") ?? 0) || 0,
    responseBytes: 0,
    creditsUsed: 0,
  };
  let response: Response;
  try {
    const admitted = await admit(x, event);
    event.creditsUsed = admitted.creditsUsed;
    const upstream = await proxy(x, admitted, event);
    const answer = answerFrom(upstream, [...rateLimitHeaders(admitted.limits), ["X-Request-Id", requestId]]);
    response = answer.response;
    event.responseBytes = answer.bytes;
  } catch (err) {
    let problem = toProblem(err, requestId);
    if (problem.code === "KEY_SUSPENDED") problem = await withSuspensionRetryAfter(x, problem);
    event.outcome = problem.code;
    response = problemResponse(problem, requestId);
    event.responseBytes = Number(response.headers.get("Content-Length"));
  } finally {
    x.deadline.clear();
  }
  if (route?.cors && origin !== null) withCors(response.headers, route.cors, origin);
  event.status = response.status;
  event.gatewayMs = Math.max(0, Date.now() - started - event.upstreamMs);
  record(x, event);
  return response;
}

async function proxy(x: Exchange, { key, owner, route, path }: Admitted, event: RequestEvent): Promise<Response> {
  const { url } = x;
  // PUBLIC_URL when set: never a value the client chose (DESIGN.md, "What the origin receives")
  const { publicUrl } = x.services.config;
  const signed = assertionFor(x.services.config, key, route.name, publicUrl?.origin ?? url.origin, owner?.plan?.id ?? null);
  const assertion = typeof signed === "string" ? signed : await signed;
  const headers = originHeaders(x.request.headers, [
    ...identityHeaders(key),
    ...ownerHeaders(owner),
    ["X-Keygate-Assertion", assertion],
    ["X-Request-Id", x.requestId],
    ...(x.ip ? [["X-Forwarded-For", x.ip] as const] : []),
    ["X-Forwarded-Proto", publicUrl?.proto ?? url.protocol.slice(0, -1)],
    ["X-Forwarded-Host", publicUrl?.host ?? url.host],
  ]);
  // Time waiting on the origin counts as upstream time, also when it fails or times out.
  const sent = Date.now();
  try {
    return await forward(x.request, upstreamUrl(route, path, url.search), headers, route.timeoutMs, x.deadline);
  } finally {
    event.upstreamMs = Date.now() - sent;
  }
}
