import { addInto, bucketOf, BUCKET_NAMES, emptyHistogram, percentiles, type Percentiles } from "./histogram";
import { REACHED_ORIGIN, type RecordedRequest } from "./writer";

/** What keygate adds up about a set of requests: the columns of every usage table. */
export interface Measures {
  requests: number;
  creditsUsed: number;
  requestBytes: number;
  responseBytes: number;
  gatewayMsSum: number;
  upstreamMsSum: number;
  /** gateway time per latency bucket */
  gateway: number[];
  /** origin time per latency bucket, requests sent to the origin only */
  upstream: number[];
}

/** Requests that share an outcome and a status: the smallest unit both usage sources answer in. */
export interface Cell extends Measures {
  outcome: string;
  status: number;
}

export const emptyMeasures = (): Measures => ({
  requests: 0,
  creditsUsed: 0,
  requestBytes: 0,
  responseBytes: 0,
  gatewayMsSum: 0,
  upstreamMsSum: 0,
  gateway: emptyHistogram(),
  upstream: emptyHistogram(),
});

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

export function addMeasures(into: Measures, from: Measures): Measures {
  into.requests += from.requests;
  into.creditsUsed += from.creditsUsed;
  into.requestBytes += from.requestBytes;
  into.responseBytes += from.responseBytes;
  into.gatewayMsSum += from.gatewayMsSum;
  into.upstreamMsSum += from.upstreamMsSum;
  addInto(into.gateway, from.gateway);
  addInto(into.upstream, from.upstream);
  return into;
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

/** Column names of the two histograms, bucket by bucket. */
export const HISTOGRAM_COLUMNS = {
  gateway: BUCKET_NAMES.map((name) => `gw_ms_${name}`),
  upstream: BUCKET_NAMES.map((name) => `up_ms_${name}`),
};

/** Every measure column, in the order `measureValues` gives them. */
export const MEASURE_COLUMNS = [
  "requests",
  "credits_used",
  "request_bytes",
  "response_bytes",
  "gateway_ms_sum",
  "upstream_ms_sum",
  ...HISTOGRAM_COLUMNS.gateway,
  ...HISTOGRAM_COLUMNS.upstream,
];

export const measureValues = (m: Measures): number[] => [
  m.requests,
  m.creditsUsed,
  m.requestBytes,
  m.responseBytes,
  m.gatewayMsSum,
  m.upstreamMsSum,
  ...m.gateway,
  ...m.upstream,
];

/** A row of either usage source, with the column names of the D1 tables, as a cell. */
export function cellFromRow(row: Record<string, unknown>): Cell {
  const n = (name: string) => Math.max(0, Number(row[name] ?? 0) || 0);
  return {
    outcome: String(row.outcome ?? ""),
    status: n("status"),
    requests: n("requests"),
    creditsUsed: n("credits_used"),
    requestBytes: n("request_bytes"),
    responseBytes: n("response_bytes"),
    gatewayMsSum: n("gateway_ms_sum"),
    upstreamMsSum: n("upstream_ms_sum"),
    gateway: HISTOGRAM_COLUMNS.gateway.map(n),
    upstream: HISTOGRAM_COLUMNS.upstream.map(n),
  };
}

/** Rows of either usage source as cells, per whatever `keyOf` says each row belongs to. */
export function cellsBy<K>(rows: Record<string, unknown>[], keyOf: (row: Record<string, unknown>) => K): Map<K, Cell[]> {
  const cells = new Map<K, Cell[]>();
  for (const row of rows) {
    const key = keyOf(row);
    let list = cells.get(key);
    if (!list) cells.set(key, (list = []));
    list.push(cellFromRow(row));
  }
  return cells;
}
