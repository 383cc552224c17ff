import { addInto, BUCKET_NAMES, emptyHistogram } from "./histogram";

/**
 * What the usage tables count (docs/storage.md): the measures of a set of requests, their
 * columns, and rows read back as cells.
 */

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
