import { and, desc, eq, gte, lt, or, sql, type SQL } from "drizzle-orm";
import { addMeasures, cellFromRow, cellsBy, emptyMeasures, MEASURE_COLUMNS, measureValues, type Cell, type Measures } from "../analytics/figures";
import { REACHED_ORIGIN, type RecordedRequest } from "../analytics/writer";
import type { Db } from "./db";
import { keys, requestLog, usageRollups, usageTotals } from "./schema";

/**
 * The usage tables in D1 (docs/storage.md): the batched writes of the isolate buffers
 * (src/analytics/buffer.ts) and the reads behind the usage routes and /admin/metrics.
 */

/** A rollup row before it reaches D1: one key, hour, route, outcome and status. */
export interface Rollup extends Cell {
  keyId: string;
  hour: number;
  route: string;
  ownerId: string;
}

type Total = Measures & { route: string; outcome: string; status: number };

/** Rows per statement; each statement carries its rows as one JSON parameter. */
const ROWS_PER_STATEMENT = 200;

const MEASURES = sql.raw(MEASURE_COLUMNS.join(", "));
const ADD_EXCLUDED = sql.raw(MEASURE_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(", "));
const SUM_MEASURES = sql.raw(MEASURE_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(", "));

/** `value ->> 0, value ->> 1, …`: the fields of each JSON array json_each yields. */
const fields = (count: number, wrap: (field: string, i: number) => string = (f) => f) =>
  sql.raw(Array.from({ length: count }, (_, i) => wrap(`value ->> ${i}`, i)).join(", "));

function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) out.push(rows.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/**
 * The statements of one flush, each guarded by `notYetApplied` (src/store/flush.ts):
 * rollups and totals are added to what D1 holds; log rows are inserted once.
 */
export function flushStatements(rollups: Rollup[], log: RecordedRequest[], notYetApplied: SQL): SQL[] {
  const statements: SQL[] = [];
  for (const part of chunks(rollups)) {
    const rows = part.map((r) => [r.keyId, r.hour, r.route, r.outcome, r.status, r.ownerId, ...measureValues(r)]);
    statements.push(sql`
      INSERT INTO ${usageRollups} (key_id, hour, route, outcome, status, owner_id, ${MEASURES})
      SELECT ${fields(6 + MEASURE_COLUMNS.length)} FROM json_each(${JSON.stringify(rows)}) WHERE ${notYetApplied}
      ON CONFLICT (key_id, hour, route, outcome, status) DO UPDATE SET ${ADD_EXCLUDED}`);
  }
  for (const part of chunks(totalsOf(rollups))) {
    const rows = part.map((t) => [t.route, t.outcome, t.status, ...measureValues(t)]);
    statements.push(sql`
      INSERT INTO ${usageTotals} (route, outcome, status, ${MEASURES})
      SELECT ${fields(3 + MEASURE_COLUMNS.length)} FROM json_each(${JSON.stringify(rows)}) WHERE ${notYetApplied}
      ON CONFLICT (route, outcome, status) DO UPDATE SET ${ADD_EXCLUDED}`);
  }
  // Empty ip, user agent and country (fields 8 to 10) are stored as NULL.
  const logFields = fields(13, (f, i) => (i >= 8 && i <= 10 ? `NULLIF(${f}, '')` : f));
  for (const part of chunks(log)) {
    const rows = part.map((r) => [
      r.keyId,
      r.at,
      r.requestId,
      r.method,
      r.path,
      r.route,
      r.status,
      r.outcome,
      r.clientIp,
      r.userAgent,
      r.country,
      r.gatewayMs,
      REACHED_ORIGIN.has(r.outcome) ? r.upstreamMs : null,
    ]);
    statements.push(sql`
      INSERT INTO ${requestLog} (key_id, at, request_id, method, path, route, status, outcome, ip, user_agent,
                                 country, gateway_ms, upstream_ms)
      SELECT ${logFields} FROM json_each(${JSON.stringify(rows)}) WHERE ${notYetApplied}
      ON CONFLICT DO NOTHING`);
  }
  return statements;
}

/** The rollups summed per route, outcome and status, for the all-time totals. */
function totalsOf(rollups: Rollup[]): Total[] {
  const totals = new Map<string, Total>();
  for (const r of rollups) {
    const id = `${r.route}\n${r.outcome}\n${r.status}`;
    let total = totals.get(id);
    if (!total) {
      total = { ...emptyMeasures(), route: r.route, outcome: r.outcome, status: r.status };
      totals.set(id, total);
    }
    addMeasures(total, r);
  }
  return [...totals.values()];
}

export interface HourRange {
  /** first hour included (ms, a multiple of an hour) */
  from: number;
  /** first hour excluded */
  to: number;
}

/** One key's cells per bucket of `stepMs` (an hour or a day). */
export async function keyCells(db: Db, keyId: string, range: HourRange, stepMs: number): Promise<Map<number, Cell[]>> {
  const rows = await db.all<Record<string, unknown>>(sql`
    SELECT hour - hour % ${stepMs} AS bucket, outcome, status, ${SUM_MEASURES}
    FROM ${usageRollups}
    WHERE key_id = ${keyId} AND hour >= ${range.from} AND hour < ${range.to}
    GROUP BY bucket, outcome, status`);
  return cellsBy(rows, (row) => Number(row.bucket));
}

export const GROUP_COLUMNS = { key: "key_id", route: "route", status: "status", owner: "owner_id" } as const;
export type GroupBy = keyof typeof GROUP_COLUMNS;

/** Cells per group across keys, optionally of one owner's keys only. */
export async function groupedCells(db: Db, groupBy: GroupBy, range: HourRange, ownerId?: string): Promise<Map<string, Cell[]>> {
  const owner = ownerId === undefined ? sql`` : sql` AND owner_id = ${ownerId}`;
  const rows = await db.all<Record<string, unknown>>(sql`
    SELECT ${sql.raw(GROUP_COLUMNS[groupBy])} AS grp, outcome, status, ${SUM_MEASURES}
    FROM ${usageRollups}
    WHERE hour >= ${range.from} AND hour < ${range.to}${owner}
    GROUP BY grp, outcome, status`);
  return cellsBy(rows, (row) => String(row.grp ?? ""));
}

export type LogRow = typeof requestLog.$inferSelect;

export interface LogFilter {
  keyId: string;
  outcome?: string;
  /** rows older than this are past retention and never shown */
  since: number;
  /** the last row of the previous page */
  after?: { at: number; requestId: string };
  limit: number;
}

/** One key's requests, newest first; fetches one extra row to know whether another page exists. */
export async function listRequests(db: Db, filter: LogFilter): Promise<{ rows: LogRow[]; more: boolean }> {
  const where: (SQL | undefined)[] = [eq(requestLog.keyId, filter.keyId), gte(requestLog.at, filter.since)];
  if (filter.outcome) where.push(eq(requestLog.outcome, filter.outcome));
  if (filter.after) {
    const { at, requestId } = filter.after;
    where.push(or(lt(requestLog.at, at), and(eq(requestLog.at, at), lt(requestLog.requestId, requestId))));
  }
  const rows = await db
    .select()
    .from(requestLog)
    .where(and(...where))
    .orderBy(desc(requestLog.at), desc(requestLog.requestId))
    .limit(filter.limit + 1);
  return { rows: rows.slice(0, filter.limit), more: rows.length > filter.limit };
}

/** All-time totals per route, outcome and status. */
export async function allTotals(db: Db): Promise<(Cell & { route: string })[]> {
  const rows = await db.all<Record<string, unknown>>(sql`SELECT route, outcome, status, ${MEASURES} FROM ${usageTotals}`);
  return rows.map((row) => ({ ...cellFromRow(row), route: String(row.route ?? "") }));
}

/** Keys by status (as the key list filters them): active, revoked, expired. */
export async function keyCounts(db: Db, now: number): Promise<{ active: number; revoked: number; expired: number }> {
  const [row] = await db.all<Record<string, unknown>>(sql`
    SELECT COALESCE(SUM(revoked_at IS NOT NULL), 0) AS revoked,
           COALESCE(SUM(revoked_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ${now}), 0) AS expired,
           COALESCE(SUM(revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${now})), 0) AS active
    FROM ${keys}`);
  return { active: Number(row?.active ?? 0), revoked: Number(row?.revoked ?? 0), expired: Number(row?.expired ?? 0) };
}

/** How long each usage table keeps its rows. */
export const RETENTION_MS = { requestLog: 7 * 86_400_000, rollups: 400 * 86_400_000 };

/** Rows looked at per statement, and statements per run, so one cleanup stays within D1's limits. */
const DELETE_CHUNK = 5_000;
const MAX_CHUNKS = 20;

/**
 * Deletes request log rows older than 7 days and rollups older than 400 days; returns the
 * counts. The request log has no index on `at` (each index is a write per request): rows are
 * appended in about the order they happened, so the oldest are the lowest rowids, and each
 * statement looks only at the first rows in rowid order. A row written late (at most a minute)
 * goes with a later run; the log route never shows it past 7 days anyway.
 */
export async function pruneUsage(db: Db, now: number): Promise<{ requestLog: number; rollups: number }> {
  const prune = async (statement: SQL) => {
    let deleted = 0;
    for (let i = 0; i < MAX_CHUNKS; i++) {
      const changes = (await db.run(statement)).meta.changes ?? 0;
      deleted += changes;
      if (changes === 0) break;
    }
    return deleted;
  };
  return {
    requestLog: await prune(sql`
      DELETE FROM ${requestLog} WHERE at < ${now - RETENTION_MS.requestLog}
        AND rowid IN (SELECT rowid FROM ${requestLog} ORDER BY rowid LIMIT ${DELETE_CHUNK})`),
    rollups: await prune(sql`
      DELETE FROM ${usageRollups} WHERE rowid IN (
        SELECT rowid FROM ${usageRollups} WHERE hour < ${now - RETENTION_MS.rollups} LIMIT ${DELETE_CHUNK})`),
  };
}
