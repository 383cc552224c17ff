import { bucketOf, percentiles, type Percentiles } from "../store/histogram";
import { addMeasures, emptyMeasures, type Cell, type Measures } from "../store/measures";
import { REACHED_ORIGIN, type RecordedRequest } from "./writer";

export function addRequest(m: Measures, r: RecordedRequest): void {
  m.requests += 1;
  m.creditsUsed += r.creditsUsed;
  m.requestBytes += r.requestBytes;
  m.responseBytes += r.responseBytes;
  m.gatewayMsSum += r.gatewayMs;
  m.gateway[bucketOf(r.gatewayMs)] += 1;
  if (REACHED_ORIGIN.has(r.outcome)) {
    m.upstreamMsSum += r.upstreamMs;
    m.upstream[bucketOf(r.upstreamMs)] += 1;
  }
}

/** DESIGN.md's usage figures ("Admin API", usage answers). */
export interface UsageFigures {
  requests: number;
  allowed: number;
  rateLimited: number;
  quotaExhausted: number;
  denied: number;
  byOutcome: Record<string, number>;
  status2xx: number;
  status4xx: number;
  status5xx: number;
  creditsUsed: number;
  requestBytes: number;
  responseBytes: number;
  latency: { gatewayMs: Percentiles; upstreamMs: Percentiles };
}

/** Adds cells up into usage figures; percentiles come from the summed histograms. */
export class Tally {
  private readonly measures = emptyMeasures();
  private readonly counts = { allowed: 0, rateLimited: 0, quotaExhausted: 0, denied: 0, status2xx: 0, status4xx: 0, status5xx: 0 };
  private readonly byOutcome: Record<string, number> = {};

  get requests(): number {
    return this.measures.requests;
  }

  add(cell: Cell): this {
    const n = cell.requests;
    addMeasures(this.measures, cell);
    this.byOutcome[cell.outcome] = (this.byOutcome[cell.outcome] ?? 0) + n;
    const c = this.counts;
    if (cell.outcome === "OK") c.allowed += n;
    else if (cell.outcome === "RATE_LIMITED") c.rateLimited += n;
    else if (cell.outcome === "QUOTA_EXHAUSTED") c.quotaExhausted += n;
    else c.denied += n;
    const statusClass = Math.floor(cell.status / 100);
    if (statusClass === 2) c.status2xx += n;
    else if (statusClass === 4) c.status4xx += n;
    else if (statusClass === 5) c.status5xx += n;
    return this;
  }

  /** The figures, in DESIGN.md's order. */
  figures(): UsageFigures {
    const m = this.measures;
    const c = this.counts;
    return {
      requests: m.requests,
      allowed: c.allowed,
      rateLimited: c.rateLimited,
      quotaExhausted: c.quotaExhausted,
      denied: c.denied,
      byOutcome: Object.fromEntries(Object.entries(this.byOutcome).sort(([a], [b]) => (a < b ? -1 : 1))),
      status2xx: c.status2xx,
      status4xx: c.status4xx,
      status5xx: c.status5xx,
      creditsUsed: m.creditsUsed,
      requestBytes: m.requestBytes,
      responseBytes: m.responseBytes,
      latency: { gatewayMs: percentiles(m.gateway), upstreamMs: percentiles(m.upstream) },
    };
  }
}

