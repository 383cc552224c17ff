import { sql, type SQL } from "drizzle-orm";
import { addMeasures, cellFromRow, cellsBy, emptyMeasures, MEASURE_COLUMNS, measureValues, type Cell, type Measures } from "./measures";
import type { Db } from "./db";
import { keys, requestLogPages, usageRollups, usageTotals } from "./schema";

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
const fields = (count: number) => sql.raw(Array.from({ length: count }, (_, i) => `value ->> ${i}`).join(", "));

function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) out.push(rows.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/** One request as the request log holds it. */
export interface LogRow {
  at: number;
  requestId: string;
  method: string;
  path: string;
  route: string;
  status: number;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
  country: string | null;
  gatewayMs: number;
  upstreamMs: number | null;
  /** on an entry that stands for several requests (the refusals of a dead key past its bound): how many; absent otherwise */
  count?: number | null;
}

/** A log entry's fields in the order of its JSON array (`addToPage` writes them so, migration 0004 too). */
const ENTRY_FIELDS: (keyof LogRow)[] = ["at", "requestId", "method", "path", "route", "status", "outcome", "ip", "userAgent", "country", "gatewayMs", "upstreamMs", "count"];
/** One field of the log entry `e` (a `json_each` row over a page's entries). */
const entryField = (name: keyof LogRow) => sql.raw(`e.value ->> ${ENTRY_FIELDS.indexOf(name)}`);
const ENTRY_COLUMNS = sql.join(ENTRY_FIELDS.map((name) => sql`${entryField(name)} AS ${sql.raw(`"${name}"`)}`), sql`, `);

/** Request log entries per statement, in pages of up to a batch's size (a few hundred KB at most). */
const ENTRIES_PER_STATEMENT = 500;

/**
 * A request log page before it reaches D1: one key's requests in one batch (docs/storage.md,
 * `request_log_pages`). Each entry is kept as its JSON text from the moment it is added, so a
 * batch holds strings, not an object per request, and the flush only joins them.
 */
export interface LogPage {
  keyId: string;
  newestAt: number;
  oldestAt: number;
  outcomes: Set<string>;
  entries: string[];
}

/** A log entry as its page holds it: the fields in ENTRY_FIELDS order, `count` only where there is one. */
export function entryText(row: LogRow): string {
  const values = ENTRY_FIELDS.map((name) => row[name]);
  if (!row.count) values.pop();
  return JSON.stringify(values);
}

/** Adds a request made with a known key to its key's page in `pages`; answers the page. */
export function addToPage(pages: Map<string, LogPage>, keyId: string, row: LogRow): LogPage {
  let page = pages.get(keyId);
  if (!page) {
    page = { keyId, newestAt: row.at, oldestAt: row.at, outcomes: new Set(), entries: [] };
    pages.set(keyId, page);
  }
  if (row.at > page.newestAt) page.newestAt = row.at;
  if (row.at < page.oldestAt) page.oldestAt = row.at;
  page.outcomes.add(row.outcome);
  page.entries.push(entryText(row));
  return page;
}

/** Pages as the JSON array `json_each` reads: `[[keyId, newestAt, oldestAt, outcomes, [entry, …]], …]`. */
const pagesJson = (pages: LogPage[]) =>
  `[${pages
    .map((p) => `[${JSON.stringify(p.keyId)},${p.newestAt},${p.oldestAt},${JSON.stringify(` ${[...p.outcomes].join(" ")} `)},[${p.entries.join(",")}]]`)
    .join(",")}]`;

/**
 * The statements of one flush, each guarded by `notYetApplied` (src/store/flush.ts):
 * rollups and totals are added to what D1 holds; log pages are inserted once.
 */
export function flushStatements(rollups: Rollup[], pages: LogPage[], flushId: string, notYetApplied: SQL): SQL[] {
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
  let part: LogPage[] = [];
  let entries = 0;
  const pushPages = () => {
    if (part.length === 0) return;
    // `value -> 4` is the entries array as JSON text, stored as it is.
    statements.push(sql`
      INSERT INTO ${requestLogPages} (key_id, newest_at, oldest_at, flush_id, outcomes, entries)
      SELECT value ->> 0, value ->> 1, value ->> 2, ${flushId}, value ->> 3, value -> 4
      FROM json_each(${pagesJson(part)}) WHERE ${notYetApplied}
      ON CONFLICT DO NOTHING`);
    part = [];
    entries = 0;
  };
  for (const page of pages) {
    if (entries + page.entries.length > ENTRIES_PER_STATEMENT) pushPages();
    part.push(page);
    entries += page.entries.length;
  }
  pushPages();
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

/** One owner's cells per bucket of `stepMs`, across its keys (the `(owner_id, hour)` index). */
export async function ownerCells(db: Db, ownerId: string, range: HourRange, stepMs: number): Promise<Map<number, Cell[]>> {
  const rows = await db.all<Record<string, unknown>>(sql`
    SELECT hour - hour % ${stepMs} AS bucket, outcome, status, ${SUM_MEASURES}
    FROM ${usageRollups}
    WHERE owner_id = ${ownerId} AND hour >= ${range.from} AND hour < ${range.to}
    GROUP BY bucket, outcome, status`);
  return cellsBy(rows, (row) => Number(row.bucket));
}

/**
 * What `/admin/usage` groups by. `plan` is the plan each owner is on now (its usage before it
 * moved counts under its current plan); "" for owners on none and refusals before a key was known.
 */
export const GROUP_COLUMNS = {
  key: "key_id",
  route: "route",
  status: "status",
  owner: "owner_id",
  plan: `COALESCE((SELECT o.plan FROM owners o WHERE o.id = ${"usage_rollups"}.owner_id), '')`,
} as const;
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

export interface LogFilter {
  keyId: string;
  outcome?: string;
  /** rows older than this are past retention and never shown */
  since: number;
  /** the last row of the previous page */
  after?: { at: number; requestId: string };
  limit: number;
}

/** Pages read by a request log query at first; each further round reads four times as many. */
const FIRST_PAGES = 8;

/**
 * One key's requests, newest first; fetches one extra row to know whether another page exists.
 *
 * Pages overlap in time (each isolate writes its own), so entries are merged across them: the
 * n pages with the newest `newest_at` hold every entry newer than the next page's `newest_at`.
 * A round reads n pages and keeps the entries newer than that bound; when fewer than the limit
 * remain, the next round reads four times as many pages. A busy key is answered from a few
 * pages, a quiet one in a few rounds.
 */
export async function listRequests(db: Db, filter: LogFilter): Promise<{ rows: LogRow[]; more: boolean }> {
  const { after } = filter;
  const outcome = filter.outcome === undefined ? sql`` : sql` AND instr(outcomes, ${` ${filter.outcome} `}) > 0`;
  const notNewer = after === undefined ? sql`` : sql` AND oldest_at <= ${after.at}`;
  const [at, requestId] = [entryField("at"), entryField("requestId")];
  const entryFilter: SQL[] = [sql`${at} >= ${filter.since}`];
  if (filter.outcome !== undefined) entryFilter.push(sql`${entryField("outcome")} = ${filter.outcome}`);
  if (after) entryFilter.push(sql`(${at} < ${after.at} OR (${at} = ${after.at} AND ${requestId} < ${after.requestId}))`);
  for (let pages = FIRST_PAGES; ; pages *= 4) {
    const picked = await db.all<{ id: number; newest: number }>(sql`
      SELECT rowid AS id, newest_at AS newest FROM ${requestLogPages}
      WHERE key_id = ${filter.keyId} AND newest_at >= ${filter.since}${notNewer}${outcome}
      ORDER BY newest_at DESC LIMIT ${pages + 1}`);
    const complete = picked.length <= pages;
    const bound = complete ? [] : [sql`${at} > ${picked[pages]!.newest}`];
    const ids = picked.slice(0, pages).map((p) => p.id);
    const rows = await db.all<LogRow>(sql`
      SELECT ${ENTRY_COLUMNS} FROM ${requestLogPages} p, json_each(p.entries) e
      WHERE p.rowid IN (SELECT value FROM json_each(${JSON.stringify(ids)})) AND ${sql.join([...entryFilter, ...bound], sql` AND `)}
      ORDER BY ${at} DESC, ${requestId} DESC LIMIT ${filter.limit + 1}`);
    if (rows.length > filter.limit || complete) return { rows: rows.slice(0, filter.limit), more: rows.length > filter.limit };
  }
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
/** A log page holds up to a batch of requests, so fewer of them go in one statement. */
const PAGE_DELETE_CHUNK = 1_000;
const MAX_CHUNKS = 20;

/**
 * Deletes request log pages whose newest request is older than 7 days and rollups older than
 * 400 days; returns how many of each. The log pages have no index on time (an index is one more
 * write per page): pages are appended in about the order they happened, so the oldest are the
 * lowest rowids, and each statement looks only at the first pages in rowid order. A page written
 * late (at most a minute) goes with a later run; the log route never shows an entry past 7 days
 * anyway.
 */
export async function pruneUsage(db: Db, now: number): Promise<{ requestLogPages: number; rollups: number }> {
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
    requestLogPages: await prune(sql`
      DELETE FROM ${requestLogPages} WHERE newest_at < ${now - RETENTION_MS.requestLog}
        AND rowid IN (SELECT rowid FROM ${requestLogPages} ORDER BY rowid LIMIT ${PAGE_DELETE_CHUNK})`),
    rollups: await prune(sql`
      DELETE FROM ${usageRollups} WHERE rowid IN (
        SELECT rowid FROM ${usageRollups} WHERE hour < ${now - RETENTION_MS.rollups} LIMIT ${DELETE_CHUNK})`),
  };
}
