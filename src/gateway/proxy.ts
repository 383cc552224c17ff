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

/**
 * Headers are handed to the runtime as one list: every call into it (a `set`, a `delete`)
 * costs CPU on every request, building the list in JavaScript costs little.
 */
type HeaderList = [string, string][];

/**
 * A header name as servers that read `_` as `-` see it (CGI, WSGI and Rack turn both into `_`
 * in one variable, so `X_Forwarded_For` and `X-Forwarded-For` are one header to them).
 */
const folded = (name: string): string => (name.includes("_") ? name.replaceAll("_", "-") : name);

/**
 * One walk of a header set: every header but the hop-by-hop ones, those a Connection header
 * names (RFC 9110, 7.6.1), and those `drop` names; each compared with `_` read as `-`, so
 * `Keep_Alive` goes with `Keep-Alive`.
 */
function kept(headers: Headers, drop: (name: string) => boolean): HeaderList {
  const list: HeaderList = [];
  let named: string[] | null = null;
  for (const [name, value] of headers) {
    if (name === "connection") named = value.toLowerCase().split(",").map((token) => folded(token.trim()));
    else {
      const twin = folded(name);
      if (!HOP_BY_HOP.has(twin) && !drop(twin)) list.push([name, value]);
    }
  }
  return named ? list.filter(([name]) => !named!.includes(folded(name))) : list;
}

const keepAll = () => false;

/**
 * The client's answer: the origin's status, body and headers, without hop-by-hop headers (and
 * those its Connection header names), plus keygate's own, and its length.
 */
export function answerFrom(upstream: Response, extra: HeaderList): { response: Response; bytes: number } {
  const headers = kept(upstream.headers, keepAll);
  const length = headers.find(([name]) => name === "content-length");
  headers.push(...extra);
  return {
    response: new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers }),
    bytes: Number(length?.[1]) || 0,
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
export function originHeaders(inbound: Headers, extra: readonly (readonly [string, string])[]): Headers {
  const headers = kept(inbound, notForOrigin);
  for (const pair of extra) headers.push([pair[0], pair[1]]);
  return new Headers(headers);
}
