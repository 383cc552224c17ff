import { eq, sql } from "drizzle-orm";
import { auditLog, leakReports } from "./schema";
import { getDb, newId, runBatch } from "./db";
import { outboxInsert, type RaisedEvent } from "./outbox";
import type { AuditContext, FieldChanges } from "./audit";

/**
 * Tokens GitHub's secret scanning reported that were keygate keys (docs/storage.md,
 * `leak_reports`): a token is handled once, however often it is reported.
 */

export async function leakHandled(db: ReturnType<typeof getDb>, tokenHash: string): Promise<boolean> {
  return (await db.select({ h: leakReports.tokenHash }).from(leakReports).where(eq(leakReports.tokenHash, tokenHash)).get()) !== undefined;
}

export interface LeakMark {
  tokenHash: string;
  keyId: string;
  url: string | null;
  at: number;
}

/** Marks the token handled (after the key change that handled it landed). */
export async function markLeakHandled(d1: D1Database, mark: LeakMark): Promise<void> {
  await getDb(d1).insert(leakReports).values(mark).onConflictDoNothing();
}

/**
 * A leak that changes nothing on the key (LEAK_ACTION `notify`, or a key already revoked or
 * disabled): the mark, its audit entry (`key.leak`) and its event in one batch, each statement
 * landing only if the one before it wrote its row, so a token reported twice is noted once.
 * Answers whether this call noted it.
 */
export async function noteLeak(d1: D1Database, mark: LeakMark, audit: AuditContext, changes: FieldChanges, event: RaisedEvent): Promise<boolean> {
  const [marked] = await runBatch(d1, [
    sql`INSERT INTO ${leakReports} (token_hash, key_id, url, at) VALUES (${mark.tokenHash}, ${mark.keyId}, ${mark.url}, ${mark.at})
        ON CONFLICT (token_hash) DO NOTHING`,
    sql`INSERT INTO ${auditLog} (id, at, actor, action, target_id, request_id, client_ip, changes)
        SELECT ${newId("aud")}, ${mark.at}, ${audit.actor}, 'key.leak', ${mark.keyId}, ${audit.requestId}, ${audit.clientIp}, ${JSON.stringify(changes)}
        WHERE changes() = 1`,
    outboxInsert(event, sql`changes() = 1`),
  ]);
  return marked.meta.changes === 1;
}
