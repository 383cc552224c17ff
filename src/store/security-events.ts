import { sql, type SQL } from "drizzle-orm";
import type { Db } from "./db";
import { securityEvents } from "./schema";

/**
 * Security events in D1 (DESIGN.md, "Security events"; docs/storage.md): written with the
 * usage batches (src/analytics/buffer.ts), read newest first by the admin API, kept 30 days.
 */

/** One security event as keygate records it. */
export interface SecurityEntry {
  at: number;
  code: string;
  ip: string | null;
  country: string | null;
  userAgent: string | null;
  method: string | null;
  path: string | null;
  route: string | null;
  /** at most the first 12 characters of a presented key, never more */
  keyStart: string | null;
  keyId: string | null;
  requestId: string;
  /** on an entry that stands for several: how many */
  count?: number | null;
}

/**
 * Every code a security event carries: the gateway's refusals a reviewer looks for, a failed
 * admin sign-in (UNAUTHORIZED), a key the abuse rule suspended (KEY_SUSPENDED, like the
 * refusals of it while suspended), and a key GitHub's secret scanning reported (KEY_LEAKED).
 */
export const SECURITY_CODES = [
  "MALFORMED_KEY",
  "KEY_NOT_FOUND",
  "TOO_MANY_INVALID_KEYS",
  "KEY_REVOKED",
  "KEY_EXPIRED",
  "KEY_SUSPENDED",
  "IP_NOT_ALLOWED",
  "KEY_LEAKED",
  "UNAUTHORIZED",
] as const;

/** The most of a presented key a security event keeps (DESIGN.md). */
export const KEY_START_CHARS = 12;

export const SECURITY_RETENTION_MS = 30 * 86_400_000;

const ROWS_PER_STATEMENT = 200;
const FIELDS = ["at", "code", "ip", "country", "userAgent", "method", "path", "route", "keyStart", "keyId", "requestId", "count"] as const;
const COLUMNS = sql.raw("at, code, ip, country, user_agent, method, path, route, key_start, key_id, request_id, count");
const VALUES = sql.raw(FIELDS.map((_, i) => `value ->> ${i}`).join(", "));

/** The inserts of one usage batch's security events, each guarded by `notYetApplied` (src/store/flush.ts). */
export function securityStatements(entries: SecurityEntry[], flushId: string, notYetApplied: SQL): SQL[] {
  const statements: SQL[] = [];
  for (let i = 0; i < entries.length; i += ROWS_PER_STATEMENT) {
    const rows = entries.slice(i, i + ROWS_PER_STATEMENT).map((e) => FIELDS.map((f) => (f === "keyStart" ? (e.keyStart?.slice(0, KEY_START_CHARS) ?? null) : (e[f] ?? null))));
    statements.push(sql`
      INSERT INTO ${securityEvents} (${COLUMNS}, flush_id)
      SELECT ${VALUES}, ${flushId} FROM json_each(${JSON.stringify(rows)}) WHERE ${notYetApplied}
      ON CONFLICT DO NOTHING`);
  }
  return statements;
}

export interface SecurityFilter {
  code?: string;
  ip?: string;
  /** ms, inclusive */
  from: number;
  /** ms, exclusive */
  to: number;
  /** the last entry of the previous page */
  after?: { at: number; requestId: string; code: string };
  limit: number;
}

type Row = { at: number; code: string; ip: string | null; country: string | null; user_agent: string | null; method: string | null; path: string | null; route: string | null; key_start: string | null; key_id: string | null; request_id: string; count: number | null };

/** Newest first (by time, then request id and code); one extra row tells whether another page exists. */
export async function listSecurityEvents(db: Db, filter: SecurityFilter): Promise<{ entries: SecurityEntry[]; more: boolean }> {
  const where: SQL[] = [sql`at >= ${filter.from}`, sql`at < ${filter.to}`];
  if (filter.code) where.push(sql`code = ${filter.code}`);
  if (filter.ip) where.push(sql`ip = ${filter.ip}`);
  const { after } = filter;
  if (after) {
    where.push(sql`(at < ${after.at} OR (at = ${after.at} AND (request_id < ${after.requestId} OR (request_id = ${after.requestId} AND code < ${after.code}))))`);
  }
  const rows = await db.all<Row>(sql`
    SELECT at, code, ip, country, user_agent, method, path, route, key_start, key_id, request_id, count
    FROM ${securityEvents} WHERE ${sql.join(where, sql` AND `)}
    ORDER BY at DESC, request_id DESC, code DESC LIMIT ${filter.limit + 1}`);
  const entries = rows.slice(0, filter.limit).map((r) => ({
    at: r.at,
    code: r.code,
    ip: r.ip,
    country: r.country,
    userAgent: r.user_agent,
    method: r.method,
    path: r.path,
    route: r.route,
    keyStart: r.key_start,
    keyId: r.key_id,
    requestId: r.request_id,
    count: r.count,
  }));
  return { entries, more: rows.length > filter.limit };
}

const DELETE_CHUNK = 5_000;
const MAX_CHUNKS = 20;

/** Deletes security events past 30 days; answers how many. */
export async function pruneSecurityEvents(db: Db, now: number): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < MAX_CHUNKS; i++) {
    const changes = (await db.run(sql`
      DELETE FROM ${securityEvents} WHERE rowid IN (
        SELECT rowid FROM ${securityEvents} WHERE at < ${now - SECURITY_RETENTION_MS} ORDER BY at LIMIT ${DELETE_CHUNK})`)).meta.changes ?? 0;
    deleted += changes;
    if (changes === 0) break;
  }
  return deleted;
}
