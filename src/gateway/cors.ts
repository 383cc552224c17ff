import type { Route } from "../config";

/**
 * CORS for routes that set `cors` (DESIGN.md, "Routes"). keygate answers the preflight
 * itself, without a key and without reaching the origin, and puts its own CORS headers on
 * every answer of the route, refusals included, so a browser can read a 401 or a 429 and
 * its rate-limit headers. The allowed origin is always echoed, never `*`.
 */
type Cors = NonNullable<Route["cors"]>;

const EXPOSED = [
  "RateLimit",
  "RateLimit-Policy",
  "X-RateLimit-Limit",
  "X-RateLimit-Remaining",
  "X-RateLimit-Reset",
  "Retry-After",
  "X-Request-Id",
].join(", ");
/** Every method a route can serve (TRACE and CONNECT never are): the preflight's and a 405's list. */
export const METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
const KEY_HEADERS = ["Authorization", "X-API-Key", "Content-Type"];

function allowed(cors: Cors, origin: string): boolean {
  const folded = origin.toLowerCase();
  return cors.origins.some((o) => o === "*" || o === folded);
}

/** The key's headers, Content-Type and the route's own, each once (header names ignore case). */
function allowHeaders(cors: Cors): string {
  const seen = new Set<string>();
  return [...KEY_HEADERS, ...cors.headers]
    .filter((name) => !seen.has(name.toLowerCase()) && seen.add(name.toLowerCase()))
    .join(", ");
}

export const isPreflight = (request: Request): boolean =>
  request.method === "OPTIONS" && request.headers.has("Origin") && request.headers.has("Access-Control-Request-Method");

export function preflight(cors: Cors, origin: string): Response {
  const headers = new Headers({ Vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" });
  if (allowed(cors, origin)) {
    headers.set("Access-Control-Allow-Origin", origin);
    headers.set("Access-Control-Allow-Methods", METHODS);
    headers.set("Access-Control-Allow-Headers", allowHeaders(cors));
    headers.set("Access-Control-Max-Age", String(cors.maxAge));
  }
  return new Response(null, { status: 204, headers });
}

/** The route's CORS headers on an answer (the origin's own are replaced: one policy per route). */
export function withCors(headers: Headers, cors: Cors, origin: string): void {
  for (const name of [...headers.keys()]) if (name.startsWith("access-control-")) headers.delete(name);
  headers.append("Vary", "Origin");
  if (!allowed(cors, origin)) return;
  headers.set("Access-Control-Allow-Origin", origin);
  headers.set("Access-Control-Expose-Headers", EXPOSED);
}
