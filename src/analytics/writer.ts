/** One Analytics Engine data point per gateway request (DESIGN.md, "Analytics Engine data point"). */
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

export function toDataPoint(e: RequestEvent): AnalyticsEngineDataPoint {
  return {
    indexes: [e.keyId ?? "anonymous"],
    blobs: [e.ownerId, e.environment, e.route, e.method, e.outcome, String(e.status), e.colo, e.country],
    doubles: [e.status, e.gatewayMs, e.upstreamMs, e.requestBytes, e.responseBytes, e.creditsUsed],
  };
}

/** Written after the response through waitUntil; a failed write is logged and never fails the request. */
export function recordRequest(dataset: AnalyticsEngineDataset, ctx: { waitUntil(p: Promise<unknown>): void }, event: RequestEvent): void {
  ctx.waitUntil(
    Promise.resolve()
      .then(() => dataset.writeDataPoint(toDataPoint(event)))
      .catch((err) => console.warn(JSON.stringify({ level: "warn", msg: "analytics write failed", error: String(err) }))),
  );
}
