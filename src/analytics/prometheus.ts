import { addMeasures, emptyMeasures, type Cell } from "../store/measures";
import { BOUNDS_MS } from "../store/histogram";

/**
 * /admin/metrics in the Prometheus text exposition format (version 0.0.4): counters from the
 * all-time usage totals in D1 (at most 60 s behind), latency histograms in seconds, and keys
 * by status. docs/behaviour.md lists the metrics.
 */

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The media type the OpenAPI document declares for it (documents name media types without parameters). */
export const PROMETHEUS_MEDIA_TYPE = "text/plain";

type Labels = Record<string, string>;

const escapeLabel = (value: string) => value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${value}`;
}

function family(name: string, type: "counter" | "gauge" | "histogram", help: string, lines: string[]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines];
}

/** A map's entries sorted by key, so every scrape lists its series in the same order. */
const sorted = <T>(map: Map<string, T>) => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function histogram(name: string, help: string, buckets: number[], sumMs: number): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  BOUNDS_MS.forEach((bound, i) => {
    cumulative += buckets[i];
    lines.push(sample(`${name}_bucket`, { le: String(bound / 1000) }, cumulative));
  });
  cumulative += buckets[BOUNDS_MS.length];
  lines.push(sample(`${name}_bucket`, { le: "+Inf" }, cumulative));
  lines.push(sample(`${name}_sum`, {}, sumMs / 1000));
  lines.push(sample(`${name}_count`, {}, cumulative));
  return family(name, "histogram", help, lines);
}

export interface MetricsInput {
  totals: (Cell & { route: string })[];
  keys: { active: number; revoked: number; expired: number };
}

export function renderMetrics({ totals, keys }: MetricsInput): string {
  const requests = new Map<string, { labels: Labels; n: number }>();
  const perRoute = new Map<string, ReturnType<typeof emptyMeasures>>();
  const all = emptyMeasures();
  for (const t of totals) {
    const labels = { route: t.route, outcome: t.outcome, status_class: `${Math.floor(t.status / 100)}xx` };
    const id = JSON.stringify(labels);
    const entry = requests.get(id) ?? { labels, n: 0 };
    entry.n += t.requests;
    requests.set(id, entry);
    const route = perRoute.get(t.route) ?? emptyMeasures();
    perRoute.set(t.route, addMeasures(route, t));
    addMeasures(all, t);
  }
  const routes = sorted(perRoute);
  const lines = [
    ...family(
      "keygate_requests_total",
      "counter",
      "Gateway requests by route, outcome code and status class.",
      sorted(requests).map(([, { labels, n }]) => sample("keygate_requests_total", labels, n)),
    ),
    ...family(
      "keygate_credits_used_total",
      "counter",
      "Credits charged by admitted requests, by route.",
      routes.map(([route, m]) => sample("keygate_credits_used_total", { route }, m.creditsUsed)),
    ),
    ...family(
      "keygate_request_bytes_total",
      "counter",
      "Request body bytes (from Content-Length), by route.",
      routes.map(([route, m]) => sample("keygate_request_bytes_total", { route }, m.requestBytes)),
    ),
    ...family(
      "keygate_response_bytes_total",
      "counter",
      "Response body bytes (from Content-Length), by route.",
      routes.map(([route, m]) => sample("keygate_response_bytes_total", { route }, m.responseBytes)),
    ),
    ...histogram(
      "keygate_gateway_duration_seconds",
      "Time keygate spent on a request, excluding the wait for the origin.",
      all.gateway,
      all.gatewayMsSum,
    ),
    ...histogram(
      "keygate_upstream_duration_seconds",
      "Time waiting for the origin's response headers, requests sent to the origin only.",
      all.upstream,
      all.upstreamMsSum,
    ),
    ...family(
      "keygate_keys",
      "gauge",
      "Keys by status: active (neither revoked nor expired), revoked, expired.",
      (["active", "revoked", "expired"] as const).map((status) => sample("keygate_keys", { status }, keys[status])),
    ),
  ];
  return `${lines.join("\n")}\n`;
}
