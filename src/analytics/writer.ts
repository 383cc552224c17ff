/** What the hot path fills in while it handles a request. */
export interface RequestEvent {
  keyId: string | null;
  ownerId: string;
  environment: string;
  route: string;
  method: string;
  /** "OK" or an error code */
  outcome: string;
  status: number;
  colo: string;
  country: string;
  gatewayMs: number;
  upstreamMs: number;
  requestBytes: number;
  responseBytes: number;
  creditsUsed: number;
}

/** A finished request as keygate records it: the event plus what identifies the request itself. */
export interface RecordedRequest extends RequestEvent {
  /** when the request arrived (ms since the epoch) */
  at: number;
  requestId: string;
  /** the path as the client sent it, without the query (which may hold a key), first 256 bytes */
  path: string;
  clientIp: string;
  /** first 256 bytes */
  userAgent: string;
  /** on a refusal that is a security event: at most the first 12 characters of the presented key */
  keyStart?: string | null;
}

/** Outcomes of requests that were sent to the origin, so their upstream time means something. */
export const REACHED_ORIGIN = new Set(["OK", "UPSTREAM_UNAVAILABLE", "UPSTREAM_TIMEOUT"]);

const BLOB_BYTES = 256;
const encoder = new TextEncoder();
const clipBuffer = new Uint8Array(BLOB_BYTES);

/** The longest prefix of `text` that fits in 256 bytes of UTF-8, never splitting a character. */
export function clip(text: string): string {
  // Each UTF-16 unit takes at most 3 bytes, so short strings need no encoding at all.
  if (text.length * 3 <= BLOB_BYTES) return text;
  const { read } = encoder.encodeInto(text, clipBuffer);
  return read === text.length ? text : text.slice(0, read);
}

/**
 * One Analytics Engine data point per gateway request, in DESIGN.md's layout
 * ("Analytics Engine data point"; docs/analytics.md has the columns and queries).
 */
export function toDataPoint(e: RecordedRequest): AnalyticsEngineDataPoint {
  return {
    indexes: [e.keyId ?? "anonymous"],
    blobs: [
      e.ownerId,
      e.environment,
      e.route,
      e.method,
      e.outcome,
      String(e.status),
      e.colo,
      e.country,
      e.path,
      e.clientIp,
      e.userAgent,
      e.requestId,
    ],
    doubles: [e.status, e.gatewayMs, e.upstreamMs, e.requestBytes, e.responseBytes, e.creditsUsed],
  };
}

/** Written after the response through waitUntil; a failed write is logged and never fails the request. */
export function recordRequest(dataset: AnalyticsEngineDataset, ctx: { waitUntil(p: Promise<unknown>): void }, event: RecordedRequest): void {
  ctx.waitUntil(
    Promise.resolve()
      .then(() => dataset.writeDataPoint(toDataPoint(event)))
      .catch((err) => console.warn(JSON.stringify({ level: "warn", msg: "analytics write failed", error: String(err) }))),
  );
}
