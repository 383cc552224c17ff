import { ProblemError } from "../errors";
import { HOP_BY_HOP } from "./headers";

const TIMED_OUT = Symbol("timed out");

/**
 * Sends the request to the origin, streaming the body both ways. The route's timeout covers
 * the wait for the origin's response headers; a body already flowing is not cut off. The
 * timeout races the fetch rather than aborting it through a signal, which costs measurably
 * more CPU per request (bench/README.md); a fetch still pending when keygate answers 504 is
 * cancelled by the runtime as the request ends.
 */
export async function forward(request: Request, url: string, headers: Headers, timeoutMs: number): Promise<Response> {
  let timer: ReturnType<typeof setTimeout> = 0;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
  });
  const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
  const sent = fetch(url, { method: request.method, headers, body: hasBody ? request.body : null, redirect: "manual" });
  try {
    const upstream = await Promise.race([sent, deadline]);
    if (upstream === TIMED_OUT) {
      sent.catch(() => undefined);
      throw new ProblemError("UPSTREAM_TIMEOUT", `The origin did not answer within ${timeoutMs} ms.`);
    }
    const responseHeaders = new Headers();
    for (const [name, value] of upstream.headers) {
      if (!HOP_BY_HOP.has(name)) responseHeaders.append(name, value);
    }
    return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: responseHeaders });
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    console.warn(JSON.stringify({ level: "warn", msg: "origin unreachable", url: new URL(url).origin, error: String(err) }));
    throw new ProblemError("UPSTREAM_UNAVAILABLE", "The origin could not be reached; try again shortly.");
  } finally {
    clearTimeout(timer);
  }
}

/** Inbound claims about the client's address: only what keygate saw itself reaches the origin. */
const ADDRESS_CLAIMS = new Set(["forwarded", "x-real-ip", "true-client-ip", "x-client-ip"]);

/**
 * What the origin gets (DESIGN.md, "What the origin receives"): the request's headers without
 * the key, without anything that claims keygate's identity or the client's address, and
 * without hop-by-hop headers, including those the request's `Connection` header names.
 */
export function originHeaders(inbound: Headers): Headers {
  const named = inbound.get("connection");
  const connection = named ? new Set(named.toLowerCase().split(",").map((token) => token.trim())) : null;
  const out = new Headers();
  for (const [name, value] of inbound) {
    if (
      name === "authorization" ||
      name === "x-api-key" ||
      name === "x-request-id" ||
      name === "host" ||
      name.startsWith("x-keygate-") ||
      name.startsWith("x-forwarded-") ||
      ADDRESS_CLAIMS.has(name) ||
      HOP_BY_HOP.has(name) ||
      connection?.has(name)
    ) {
      continue;
    }
    out.append(name, value);
  }
  return out;
}
