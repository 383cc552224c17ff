import { SECURITY_OUTCOMES, usageBuffer } from "../analytics/buffer";
import { clip, recordRequest, type RecordedRequest, type RequestEvent } from "../analytics/writer";
import { KEY_START_CHARS } from "../store/security-events";
import type { Exchange } from "./exchange";
import { extractKey } from "./authenticate";

/** The path of a request URL as the client sent it: no query (it may hold a key), no parsing. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return url.slice(start, query < 0 ? undefined : query);
}

/**
 * The start of the key the request presented, for its security event: at most its first 12
 * characters, never more (DESIGN.md, "Security events"); null when it carried none, or more than one.
 */
function keyStart(x: Exchange): string | null {
  try {
    return extractKey(x.request.headers, x.url.search, x.route).slice(0, KEY_START_CHARS);
  } catch {
    return null;
  }
}

/**
 * The last step of every gateway request: one Analytics Engine data point and one entry in
 * this isolate's usage buffer (rollups and request log, written to D1 in batches). Neither
 * waits for I/O, both are carried by `waitUntil`, and neither can fail the request.
 */
export function record(x: Exchange, event: RequestEvent): void {
  const { request } = x;
  const recorded: RecordedRequest = Object.assign(event, {
    at: x.started,
    requestId: x.requestId,
    path: clip(pathOf(request.url)),
    clientIp: x.ip ?? "",
    userAgent: clip(request.headers.get("User-Agent") ?? ""),
    keyStart: SECURITY_OUTCOMES.has(event.outcome) ? keyStart(x) : null,
  });
  recordRequest(x.env.USAGE, x.ctx, recorded);
  try {
    usageBuffer().record(recorded, x.ctx, x.services.config.usageFlushMs);
  } catch (err) {
    // Usage is never worth failing a request over.
    console.error(JSON.stringify({ level: "error", msg: "usage not recorded", requestId: recorded.requestId, error: String(err) }));
  }
}
