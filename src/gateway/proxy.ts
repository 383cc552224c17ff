import { ProblemError } from "../errors";
import { HOP_BY_HOP } from "./headers";

/**
 * Sends the request to the origin, streaming the body both ways. The route's timeout covers
 * the wait for the origin's response headers; a body already flowing is not cut off.
 */
export async function forward(request: Request, url: string, headers: Headers, timeoutMs: number): Promise<Response> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
    const upstream = await fetch(url, {
      method: request.method,
      headers,
      body: hasBody ? request.body : null,
      redirect: "manual",
      signal: controller.signal,
    });
    const responseHeaders = new Headers();
    for (const [name, value] of upstream.headers) {
      if (!HOP_BY_HOP.has(name)) responseHeaders.append(name, value);
    }
    return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: responseHeaders });
  } catch (err) {
    if (timedOut) {
      throw new ProblemError("UPSTREAM_TIMEOUT", `The origin did not answer within ${timeoutMs} ms.`);
    }
    console.warn(JSON.stringify({ level: "warn", msg: "origin unreachable", url: new URL(url).origin, error: String(err) }));
    throw new ProblemError("UPSTREAM_UNAVAILABLE", "The origin could not be reached; try again shortly.");
  } finally {
    clearTimeout(timer);
  }
}

/** What the origin gets: the request's headers without the key, spoofable identity or hop-by-hop headers. */
export function originHeaders(inbound: Headers): Headers {
  const out = new Headers();
  for (const [name, value] of inbound) {
    if (
      name === "authorization" ||
      name === "x-api-key" ||
      name === "x-request-id" ||
      name.startsWith("x-keygate-") ||
      name.startsWith("x-forwarded-") ||
      name === "host" ||
      HOP_BY_HOP.has(name)
    ) {
      continue;
    }
    out.append(name, value);
  }
  return out;
}
