import { sql } from "drizzle-orm";
import { expiryNotices, keys } from "./schema";
import { fromRow } from "./record";
import { runBatch, type Db } from "./db";
import { outboxInsert, type RaisedEvent } from "./outbox";
import type { StoredKey } from "../keys/record";

/**
 * Expiry notices (`key.expiring` 7 days and 1 day before `expiresAt`, `key.expired`): which
 * keys are due one, and the batch that notes it once with its event (docs/storage.md,
 * `expiry_notices`).
 */

export type NoticeKind = "7d" | "1d" | "expired";

const DAY_MS = 86_400_000;
/** An expiry older than this when first seen is not noticed any more (a Cron Trigger that stayed off a week). */
export const EXPIRED_LOOKBACK_MS = 7 * DAY_MS;

/**
 * Keys due a notice of `kind` at `now` that have not had it for their current expiry: not
 * revoked, not retired by a rotation (the rotation's event told of their end), and within the
 * kind's window: 7 days down to 1 day left, the last day, or expired within the past 7 days.
 * Each candidate's successor is looked for among its own lineage (an index), never the table.
 */
export async function dueNotices(db: Db, kind: NoticeKind, now: number, limit: number): Promise<StoredKey[]> {
  const expires = keys.expiresAt;
  const window =
    kind === "7d"
      ? sql`${expires} > ${now + DAY_MS} AND ${expires} <= ${now + 7 * DAY_MS}`
      : kind === "1d"
        ? sql`${expires} > ${now} AND ${expires} <= ${now + DAY_MS}`
        : sql`${expires} <= ${now} AND ${expires} > ${now - EXPIRED_LOOKBACK_MS}`;
  const rows = await db
    .select()
    .from(keys)
    .where(
      sql`${keys.revokedAt} IS NULL AND ${expires} IS NOT NULL AND ${window}
        AND NOT EXISTS (SELECT 1 FROM ${keys} AS successor
                        WHERE successor.lineage_id = ${keys.lineageId} AND successor.rotated_from = ${keys.id})
        AND NOT EXISTS (SELECT 1 FROM ${expiryNotices} WHERE ${expiryNotices.keyId} = ${keys.id}
                        AND ${expiryNotices.kind} = ${kind} AND ${expiryNotices.expiresAt} = ${expires})`,
    )
    .orderBy(expires)
    .limit(limit);
  return rows.map(fromRow);
}

/**
 * Notes each notice with its event in one batch, each event written only if its notice was new:
 * a key noticed by a run that overlapped this one is not noticed twice. Answers the events written.
 */
export async function noteNotices(d1: D1Database, notices: { key: StoredKey; kind: NoticeKind; event: RaisedEvent }[]): Promise<RaisedEvent[]> {
  if (notices.length === 0) return [];
  const statements = notices.flatMap(({ key, kind, event }) => [
    sql`INSERT INTO ${expiryNotices} (key_id, kind, expires_at, at) VALUES (${key.id}, ${kind}, ${key.expiresAt}, ${event.at}) ON CONFLICT DO NOTHING`,
    outboxInsert(event, sql`changes() = 1`),
  ]);
  const results = await runBatch(d1, statements);
  return notices.filter((_, i) => results[2 * i + 1].meta.changes === 1).map((n) => n.event);
}

/** Forgets notices of expiries long past (they are never due again). */
export async function pruneNotices(db: Db, now: number): Promise<number> {
  return (await db.run(sql`DELETE FROM ${expiryNotices} WHERE expires_at < ${now - 2 * EXPIRED_LOOKBACK_MS}`)).meta.changes ?? 0;
}
