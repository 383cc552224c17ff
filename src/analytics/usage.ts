import { sql } from "drizzle-orm";
import { ProblemError } from "../errors";
import type { Config } from "../config";
import { getDb } from "../store/db";
import { groupedCells, keyCells, ownerCells, type GroupBy, type HourRange } from "../store/usage";
import { cellsBy, HISTOGRAM_COLUMNS, type Cell } from "../store/measures";
import { BOUNDS_MS } from "../store/histogram";
import { REACHED_ORIGIN } from "./writer";

/**
 * Where the usage routes read their figures: D1's rollups (always there, at most 60 s
 * behind), or the Analytics Engine SQL API when CF_ACCOUNT_ID and CF_API_TOKEN are set
 * (longer retention, raw events). Both answer in cells, so the routes add them up the same way.
 */
export interface UsageSource {
  name: "d1" | "analytics-engine";
  /** one key's cells per bucket start (ms) */
  keyCells(keyId: string, range: HourRange, stepMs: number): Promise<Map<number, Cell[]>>;
  /** one owner's cells per bucket start (ms), across its keys */
  ownerCells(ownerId: string, range: HourRange, stepMs: number): Promise<Map<number, Cell[]>>;
  /** cells per group across keys, optionally one owner's keys only */
  groupedCells(groupBy: GroupBy, range: HourRange, ownerId?: string): Promise<Map<string, Cell[]>>;
}

export function usageSource(env: Env, config: Config): UsageSource {
  const api = config.usageApi;
  if (api) return sqlApiSource(api, env.DB);
  const db = getDb(env.DB);
  return {
    name: "d1",
    keyCells: (keyId, range, stepMs) => keyCells(db, keyId, range, stepMs),
    ownerCells: (ownerId, range, stepMs) => ownerCells(db, ownerId, range, stepMs),
    groupedCells: (groupBy, range, ownerId) => groupedCells(db, groupBy, range, ownerId),
  };
}

/*
 * The Analytics Engine side: SQL over the data points of src/analytics/writer.ts (index1 key
 * id; blob1 owner, blob3 route, blob5 outcome, blob6 status; double2 gateway ms, double3
 * upstream ms, double4/5 request/response bytes, double6 credits). Every sum is weighted by
 * `_sample_interval`, so sampled data still adds up to request counts.
 */

/** A 503 says when to ask again, as every admin 503 does (DESIGN.md, "Admin API"). */
const RETRY = { headers: { "Retry-After": "5" } };

const DATASET = "keygate_usage";

/** A string literal for the SQL API, which takes no bind parameters. Inputs are validated first; this is the second line of defence. */
function literal(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

const REACHED = `blob5 IN (${[...REACHED_ORIGIN].map(literal).join(", ")})`;

/** `sumIf` per latency bucket, named like the D1 columns. */
function histogramSql(column: string, names: string[], condition = ""): string[] {
  return names.map((name, i) => {
    const above = i === 0 ? "" : `${column} > ${BOUNDS_MS[i - 1]}`;
    const within = i < BOUNDS_MS.length ? `${column} <= ${BOUNDS_MS[i]}` : "";
    const where = [condition, above, within].filter(Boolean).join(" AND ");
    return `sumIf(_sample_interval, ${where}) AS ${name}`;
  });
}

const MEASURES_SQL = [
  "SUM(_sample_interval) AS requests",
  "SUM(_sample_interval * double6) AS credits_used",
  "SUM(_sample_interval * double4) AS request_bytes",
  "SUM(_sample_interval * double5) AS response_bytes",
  "SUM(_sample_interval * double2) AS gateway_ms_sum",
  `sumIf(_sample_interval * double3, ${REACHED}) AS upstream_ms_sum`,
  ...histogramSql("double2", HISTOGRAM_COLUMNS.gateway),
  ...histogramSql("double3", HISTOGRAM_COLUMNS.upstream, REACHED),
].join(",\n  ");

const seconds = (ms: number) => Math.floor(ms / 1000);
const inRange = ({ from, to }: HourRange) =>
  `timestamp >= toDateTime(${seconds(from)}) AND timestamp < toDateTime(${seconds(to)})`;

/** A series over time of the data points `where` picks (one key's: index1; one owner's: blob1). */
function seriesSql(where: string, range: HourRange, stepMs: number): string {
  const bucket = stepMs === 3_600_000 ? "toStartOfHour(timestamp)" : "toStartOfDay(timestamp)";
  return `SELECT ${bucket} AS bucket, blob5 AS outcome, blob6 AS status,
  ${MEASURES_SQL}
FROM ${DATASET}
WHERE ${where} AND ${inRange(range)}
GROUP BY bucket, outcome, status ORDER BY bucket FORMAT JSON`;
}

const SQL_GROUP_COLUMNS: Record<Exclude<GroupBy, "plan">, string> = { key: "index1", route: "blob3", status: "blob6", owner: "blob1" };

function groupedSql(groupBy: Exclude<GroupBy, "plan">, range: HourRange, ownerId?: string): string {
  const owner = ownerId === undefined ? "" : ` AND blob1 = ${literal(ownerId)}`;
  return `SELECT ${SQL_GROUP_COLUMNS[groupBy]} AS grp, blob5 AS outcome, blob6 AS status,
  ${MEASURES_SQL}
FROM ${DATASET}
WHERE ${inRange(range)}${owner}
GROUP BY grp, outcome, status FORMAT JSON`;
}

/** The SQL API writes DateTime as "YYYY-MM-DD hh:mm:ss" in UTC. */
const bucketTime = (value: unknown) => Date.parse(`${String(value).replace(" ", "T")}Z`);

/**
 * The Analytics Engine's data points carry the owner, not its plan: grouped by plan, they are
 * grouped by owner and each owner's cells go to the plan D1 says it is on now.
 */
async function byPlan(d1: D1Database, byOwner: Map<string, Cell[]>): Promise<Map<string, Cell[]>> {
  const ids = [...byOwner.keys()].filter((id) => id !== "");
  const plans = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 100) {
    const rows = await getDb(d1).all<{ id: string; plan: string | null }>(
      sql`SELECT id, plan FROM owners WHERE id IN (SELECT value FROM json_each(${JSON.stringify(ids.slice(i, i + 100))}))`,
    );
    for (const row of rows) if (row.plan) plans.set(row.id, row.plan);
  }
  const grouped = new Map<string, Cell[]>();
  for (const [owner, cells] of byOwner) {
    const plan = plans.get(owner) ?? "";
    grouped.set(plan, [...(grouped.get(plan) ?? []), ...cells]);
  }
  return grouped;
}

function sqlApiSource(api: { url: string; token: string }, d1: D1Database): UsageSource {
  return {
    name: "analytics-engine",
    keyCells: async (keyId, range, stepMs) =>
      cellsBy(await querySql(api, seriesSql(`index1 = ${literal(keyId)}`, range, stepMs)), (row) => bucketTime(row.bucket)),
    ownerCells: async (ownerId, range, stepMs) =>
      cellsBy(await querySql(api, seriesSql(`blob1 = ${literal(ownerId)}`, range, stepMs)), (row) => bucketTime(row.bucket)),
    groupedCells: async (groupBy, range, ownerId) => {
      const grouped = (by: Exclude<GroupBy, "plan">) => querySql(api, groupedSql(by, range, ownerId)).then((rows) => cellsBy(rows, (row) => String(row.grp ?? "")));
      return groupBy === "plan" ? byPlan(d1, await grouped("owner")) : grouped(groupBy);
    },
  };
}

/** Runs one query; the SQL API's rows come back as objects keyed by column alias. */
async function querySql(api: { url: string; token: string }, sql: string): Promise<Record<string, unknown>[]> {
  let res: Response;
  try {
    res = await fetch(api.url, {
      method: "POST",
      headers: { Authorization: `Bearer ${api.token}`, "Content-Type": "text/plain" },
      body: sql,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "usage query failed", error: String(err) }));
    throw new ProblemError("USAGE_UNAVAILABLE", "The Analytics Engine SQL API could not be reached; try again shortly.", RETRY);
  }
  if (!res.ok) {
    console.error(JSON.stringify({ level: "error", msg: "usage query refused", status: res.status, body: (await res.text()).slice(0, 500) }));
    throw new ProblemError("USAGE_UNAVAILABLE", `The Analytics Engine SQL API answered ${res.status}.`, RETRY);
  }
  const body = (await res.json()) as { data?: Record<string, unknown>[] };
  return body.data ?? [];
}
