import { ProblemError } from "../errors";
import type { Config } from "../config";

/**
 * Usage figures from the Analytics Engine SQL API, over the data points the gateway writes
 * (src/analytics/writer.ts: index1 key id, blob1 owner, blob3 route, blob5 outcome,
 * blob6 status, double6 credits). Sampling is accounted for with `_sample_interval`.
 */

export const DATASET = "keygate_usage";

export interface UsageCounts {
  requests: number;
  allowed: number;
  rateLimited: number;
  quotaExhausted: number;
  denied: number;
  creditsUsed: number;
}

const COUNTS = `
  SUM(_sample_interval) AS requests,
  sumIf(_sample_interval, blob5 = 'OK') AS allowed,
  sumIf(_sample_interval, blob5 = 'RATE_LIMITED') AS rateLimited,
  sumIf(_sample_interval, blob5 = 'QUOTA_EXHAUSTED') AS quotaExhausted,
  sumIf(_sample_interval, blob5 NOT IN ('OK', 'RATE_LIMITED', 'QUOTA_EXHAUSTED')) AS denied,
  SUM(_sample_interval * double6) AS creditsUsed`;

const COUNT_FIELDS = ["requests", "allowed", "rateLimited", "quotaExhausted", "denied", "creditsUsed"] as const;

export const emptyCounts = (): UsageCounts => ({ requests: 0, allowed: 0, rateLimited: 0, quotaExhausted: 0, denied: 0, creditsUsed: 0 });

export function addCounts(into: UsageCounts, row: Partial<Record<keyof UsageCounts, unknown>>): UsageCounts {
  for (const field of COUNT_FIELDS) into[field] += Number(row[field] ?? 0) || 0;
  return into;
}

/**
 * A string literal for the SQL API, which takes no bind parameters. Inputs are validated
 * before they get here; escaping is the second line of defence.
 */
export function literal(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

export interface TimeRange {
  from: number;
  to: number;
}

const inRange = ({ from, to }: TimeRange) =>
  `timestamp >= toDateTime(${seconds(from)}) AND timestamp < toDateTime(${seconds(to)})`;

export function keySeriesSql(keyId: string, range: TimeRange, granularity: "hour" | "day"): string {
  const bucket = granularity === "hour" ? "toStartOfHour(timestamp)" : "toStartOfDay(timestamp)";
  return `SELECT ${bucket} AS bucket,${COUNTS}
FROM ${DATASET}
WHERE index1 = ${literal(keyId)} AND ${inRange(range)}
GROUP BY bucket ORDER BY bucket FORMAT JSON`;
}

export const GROUP_COLUMNS = { key: "index1", route: "blob3", status: "blob6" } as const;

export function groupedSql(groupBy: keyof typeof GROUP_COLUMNS, range: TimeRange, ownerId?: string): string {
  const owner = ownerId === undefined ? "" : ` AND blob1 = ${literal(ownerId)}`;
  return `SELECT ${GROUP_COLUMNS[groupBy]} AS grp,${COUNTS}
FROM ${DATASET}
WHERE ${inRange(range)}${owner}
GROUP BY grp ORDER BY requests DESC LIMIT 1000 FORMAT JSON`;
}

/** Runs one query; the SQL API's rows come back as objects keyed by column alias. */
export async function querySql(config: Config, sql: string): Promise<Record<string, unknown>[]> {
  const usage = config.usageApi;
  if (!usage) {
    throw new ProblemError(
      "USAGE_UNAVAILABLE",
      "Usage figures need the Analytics Engine SQL API: set CF_ACCOUNT_ID and the CF_API_TOKEN secret.",
    );
  }
  let res: Response;
  try {
    res = await fetch(usage.url, {
      method: "POST",
      headers: { Authorization: `Bearer ${usage.token}`, "Content-Type": "text/plain" },
      body: sql,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "usage query failed", error: String(err) }));
    throw new ProblemError("USAGE_UNAVAILABLE", "The Analytics Engine SQL API could not be reached; try again shortly.");
  }
  if (!res.ok) {
    console.error(JSON.stringify({ level: "error", msg: "usage query refused", status: res.status, body: (await res.text()).slice(0, 500) }));
    throw new ProblemError("USAGE_UNAVAILABLE", `The Analytics Engine SQL API answered ${res.status}.`);
  }
  const body = (await res.json()) as { data?: Record<string, unknown>[] };
  return body.data ?? [];
}
