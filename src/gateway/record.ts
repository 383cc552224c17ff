import type { Context } from "hono";
import type { AppEnv } from "../context";
import { clientIp } from "../middleware";
import { usageBuffer } from "../analytics/buffer";
import { clip, recordRequest, type RecordedRequest, type RequestEvent } from "../analytics/writer";

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
export function record(c: Context<AppEnv>, event: RequestEvent, started: number): void {
  const request = c.req.raw;
  const recorded: RecordedRequest = Object.assign(event, {
    at: started,
    requestId: c.get("requestId"),
    path: clip(pathOf(request.url)),
    clientIp: clientIp(request.headers) ?? "",
    userAgent: clip(request.headers.get("User-Agent") ?? ""),
  });
  recordRequest(c.env.USAGE, c.executionCtx, recorded);
  try {
    usageBuffer().record(recorded, c.executionCtx, c.get("services").config.usageFlushMs);
  } catch (err) {
    // Usage is never worth failing a request over.
    console.error(JSON.stringify({ level: "error", msg: "usage not recorded", requestId: recorded.requestId, error: String(err) }));
  }
}
