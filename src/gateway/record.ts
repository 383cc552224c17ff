import { usageBuffer } from "../analytics/buffer";
import { clip, recordRequest, type RecordedRequest, type RequestEvent } from "../analytics/writer";
import type { Exchange } from "./exchange";

/** The path of a request URL as the client sent it: no query (it may hold a key), no parsing. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return url.slice(start, query < 0 ? undefined : query);
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
  });
  recordRequest(x.env.USAGE, x.ctx, recorded);
  try {
    usageBuffer().record(recorded, x.ctx, x.services.config.usageFlushMs);
  } catch (err) {
    // Usage is never worth failing a request over.
    console.error(JSON.stringify({ level: "error", msg: "usage not recorded", requestId: recorded.requestId, error: String(err) }));
  }
}
