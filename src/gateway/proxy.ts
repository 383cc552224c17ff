import { ProblemError } from "../errors";
import { HOP_BY_HOP } from "./headers";
import type { Deadline } from "../http/deadline";

/**
 * Sends the request to the origin, streaming the body both ways, and answers with the
 * origin's response as it came. The route's timeout covers the wait for the origin's response
 * headers; a body already flowing is not cut off. The wait shares the request's one timer
 * (./deadline.ts); a fetch still pending when keygate answers 504 is cancelled by the runtime
 * as the request ends.
 */
export async function forward(
  request: Request,
  url: string,
  headers: Headers,
  timeoutMs: number,
  deadline: Deadline,
): Promise<Response> {
  const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
  const sent = fetch(url, { method: request.method, headers, body: hasBody ? request.body : null, redirect: "manual" });
  try {
    return await deadline.race(sent, timeoutMs, () => new ProblemError("UPSTREAM_TIMEOUT", `The origin did not answer within ${timeoutMs} ms.`));
  } catch (err) {
    sent.catch(() => undefined);
    if (err instanceof ProblemError) throw err;
    console.warn(JSON.stringify({ level: "warn", msg: "origin unreachable", url: new URL(url).origin, error: String(err) }));
    throw new ProblemError("UPSTREAM_UNAVAILABLE", "The origin could not be reached; try again shortly.");
  }
}

/** Headers keygate adds, in order, to what it passes on. */
type HeaderList = readonly (readonly [string, string])[];

/**
 * A header name as servers that read `_` as `-` see it (CGI, WSGI and Rack turn both into `_`
 * in one variable, so `X_Forwarded_For` and `X-Forwarded-For` are one header to them).
 */
const folded = (name: string): string => (name.includes("_") ? name.replaceAll("_", "-") : name);

/**
 * The names to take out of a header set: the hop-by-hop ones, those a Connection header names
 * (RFC 9110, 7.6.1), and those `drop` names; each compared with `_` read as `-`, so
 * `Keep_Alive` goes with `Keep-Alive`.
 */
function unwanted(headers: Headers, drop: (name: string) => boolean): string[] {
  const names: string[] = [];
  let connection = false;
  for (const name of headers.keys()) {
    if (name === "connection") connection = true;
    const twin = folded(name);
    if (HOP_BY_HOP.has(twin) || drop(twin)) names.push(name);
  }
  if (connection) {
    const named = headers.get("connection")!.toLowerCase().split(",").map((token) => folded(token.trim()));
    for (const name of headers.keys()) if (named.includes(folded(name))) names.push(name);
  }
  return names;
}

/**
 * A copy of `headers` without the unwanted ones, then `extra` set: keygate's own replace any of
 * the same name. The runtime copies a Headers in one call and a `delete` or `set` is one call
 * each, while a Headers built from a list of pairs converts every pair on the way in: in
 * workerd, ten pairs cost about 16 µs of CPU that way, a copy with its deletes and ten additions
 * one call each about 8 (bench/README.md, "What changed to get here").
 */
function copyWithout(headers: Headers, drop: (name: string) => boolean, extra: HeaderList): Headers {
  const copy = new Headers(headers);
  for (const name of unwanted(headers, drop)) copy.delete(name);
  for (const [name, value] of extra) copy.set(name, value);
  return copy;
}

const keepAll = () => false;

/**
 * The client's answer: the origin's status, body and headers, without hop-by-hop headers (and
 * those its Connection header names), and its length. keygate's own (the request id, the
 * rate-limit fields) replace the origin's of the same name: an origin that echoes the request id
 * it received, or sends rate-limit fields of its own, never makes the client read two.
 */
export function answerFrom(upstream: Response, extra: HeaderList): { response: Response; bytes: number } {
  const headers = copyWithout(upstream.headers, keepAll, extra);
  return {
    response: new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers }),
    bytes: Number(headers.get("content-length")) || 0,
  };
}

/** Inbound claims about the client's address: only what keygate saw itself reaches the origin. */
const ADDRESS_CLAIMS = new Set(["forwarded", "x-real-ip", "true-client-ip", "x-client-ip"]);

/**
 * Headers that ask the origin to act on another method or path than the request line's: keygate
 * judged the scopes on the request line, so none of them may reach the origin.
 */
const OVERRIDES = new Set(["x-http-method-override", "x-http-method", "x-method-override", "x-original-url", "x-rewrite-url"]);

/**
 * The key, keygate's own headers, every claim about the client and every override: set by
 * keygate or not at all. `name` has `_` read as `-` already.
 */
const notForOrigin = (name: string) =>
  name === "authorization" ||
  name === "x-api-key" ||
  name === "x-request-id" ||
  name === "host" ||
  name.startsWith("x-keygate-") ||
  name.startsWith("x-forwarded-") ||
  ADDRESS_CLAIMS.has(name) ||
  OVERRIDES.has(name);

/**
 * What the origin gets (DESIGN.md, "What the origin receives"): the request's headers without
 * the key, without anything that claims keygate's identity or the client's address, without
 * method and URL overrides, and without hop-by-hop headers, including those the request's
 * `Connection` header names; each also under its `_` twin (`X_Keygate_Owner_Id`). Then
 * keygate's own.
 */
export function originHeaders(inbound: Headers, extra: HeaderList): Headers {
  return copyWithout(inbound, notForOrigin, extra);
}
