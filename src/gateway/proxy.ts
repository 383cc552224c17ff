import { ProblemError } from "../errors";
import { HOP_BY_HOP } from "./headers";
import type { Deadline } from "./deadline";

/**
 * Sends the request to the origin, streaming the body both ways. The route's timeout covers
 * the wait for the origin's response headers; a body already flowing is not cut off. The wait
 * shares the request's one timer (./deadline.ts); a fetch still pending when keygate answers
 * 504 is cancelled by the runtime as the request ends.
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
    const upstream = await deadline.race(sent, timeoutMs, () => new ProblemError("UPSTREAM_TIMEOUT", `The origin did not answer within ${timeoutMs} ms.`));
    // One copy by the runtime (the answer's headers must be writable), then out with the hop-by-hop ones it holds.
    const response = new Response(upstream.body, upstream);
    withoutHopByHop(response.headers);
    return response;
  } catch (err) {
    sent.catch(() => undefined);
    if (err instanceof ProblemError) throw err;
    console.warn(JSON.stringify({ level: "warn", msg: "origin unreachable", url: new URL(url).origin, error: String(err) }));
    throw new ProblemError("UPSTREAM_UNAVAILABLE", "The origin could not be reached; try again shortly.");
  }
}

/** What the runtime itself keeps out of an answer on the wire (it manages connection, framing, upgrades). */
const RUNTIME_DROPS = new Set(["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"]);
/** The hop-by-hop headers the runtime would pass on: keygate deletes these. */
const PASSED_ON = [...HOP_BY_HOP].filter((name) => !RUNTIME_DROPS.has(name));

/**
 * Takes the hop-by-hop headers out of the origin's answer. The runtime already keeps most of
 * them off the wire (RUNTIME_DROPS), so only the rest are deleted here, and the headers the
 * origin's `Connection` header names: each call into the runtime costs CPU on every request.
 */
function withoutHopByHop(headers: Headers): void {
  const named = headers.get("connection");
  if (named) {
    for (const token of named.toLowerCase().split(",")) {
      const name = token.trim();
      if (name && !RUNTIME_DROPS.has(name)) headers.delete(name);
    }
  }
  for (const name of PASSED_ON) headers.delete(name);
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
  // One copy by the runtime, then out with what the origin must not see (names come lower-cased).
  const out = new Headers(inbound);
  for (const name of inbound.keys()) {
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
      out.delete(name);
    }
  }
  return out;
}
