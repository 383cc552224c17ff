import { and, desc, eq, lt, sql, type SQL } from "drizzle-orm";
import { webhookAttempts, webhookEndpoints } from "./schema";
import { getDb, runBatch, type Db, type Statement } from "./db";
import { auditAfterChange, type AuditContext, type FieldChanges } from "./audit";

/** Webhook endpoints and their delivery attempts in D1 (docs/storage.md). */

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;

/** Why keygate itself disabled an endpoint. */
export type DisabledReason = "gone" | "failing";

/** Fields an operator may see and change; the secrets never leave through here. */
const SHOWN = ["url", "description", "events", "enabled"] as const;

/** What an audit entry of an endpoint change shows: its visible fields, never a secret. */
export function endpointChanges(before: EndpointRow | null, after: EndpointRow): FieldChanges {
  const changes: FieldChanges = {};
  for (const field of SHOWN) {
    const from = before ? before[field] : null;
    const to = after[field];
    if (JSON.stringify(from) === JSON.stringify(to)) continue;
    changes[field] = field === "events" ? { from: from === null ? null : JSON.parse(from as string), to: JSON.parse(to as string) } : { from, to };
  }
  return changes;
}

export async function insertEndpoint(d1: D1Database, row: EndpointRow, audit: AuditContext): Promise<void> {
  await runBatch(d1, [
    getDb(d1).insert(webhookEndpoints).values(row),
    auditAfterChange(audit, "webhook.create", row.id, endpointChanges(null, row), row.createdAt),
  ]);
}

export async function findEndpoint(db: Db, id: string): Promise<EndpointRow | null> {
  return (await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).get()) ?? null;
}

/** Newest first; one extra row tells whether another page exists. */
export async function listEndpoints(db: Db, filter: { after?: string; limit: number }): Promise<{ rows: EndpointRow[]; more: boolean }> {
  const rows = await db
    .select()
    .from(webhookEndpoints)
    .where(filter.after ? lt(webhookEndpoints.id, filter.after) : undefined)
    .orderBy(desc(webhookEndpoints.id))
    .limit(filter.limit + 1);
  return { rows: rows.slice(0, filter.limit), more: rows.length > filter.limit };
}

/** Every endpoint that takes deliveries now. */
export function enabledEndpoints(db: Db): Promise<EndpointRow[]> {
  return db.select().from(webhookEndpoints).where(eq(webhookEndpoints.enabled, true));
}

/**
 * Writes `after` over the endpoint if it is still as `before` was read (its `updatedAt`), with
 * its audit entry; false when it changed meanwhile (read it again) or is gone.
 */
export async function updateEndpoint(
  d1: D1Database,
  before: EndpointRow,
  after: EndpointRow,
  action: "webhook.update" | "webhook.rotate_secret",
  audit: AuditContext,
  changes: FieldChanges = endpointChanges(before, after),
): Promise<boolean> {
  const { id: _id, createdAt: _created, ...fields } = after;
  const [updated] = await runBatch(d1, [
    getDb(d1)
      .update(webhookEndpoints)
      .set(fields)
      .where(and(eq(webhookEndpoints.id, before.id), eq(webhookEndpoints.updatedAt, before.updatedAt))),
    auditAfterChange(audit, action, before.id, changes, after.updatedAt),
  ]);
  return updated.meta.changes === 1;
}

/** Deletes the endpoint with its audit entry; false when there was none. */
export async function deleteEndpoint(d1: D1Database, row: EndpointRow, audit: AuditContext, at: number): Promise<boolean> {
  const [deleted] = await runBatch(d1, [
    getDb(d1).delete(webhookEndpoints).where(eq(webhookEndpoints.id, row.id)),
    auditAfterChange(audit, "webhook.delete", row.id, { url: { from: row.url, to: null } }, at),
  ]);
  return deleted.meta.changes === 1;
}

/** What one attempt leaves behind, written in one batch: the attempt, and what it says of its endpoint. */
export interface AttemptOutcome {
  attempt: AttemptRow;
  /** "succeeded": the endpoint's run of failures ends; "failed": one begins unless it runs already */
  endpoint: "succeeded" | "failed";
  /** keygate disables the endpoint, with an audit entry by `audit.actor` */
  disable?: { reason: DisabledReason; audit: AuditContext; detail: string };
}

export async function recordAttempt(d1: D1Database, outcome: AttemptOutcome): Promise<void> {
  const db = getDb(d1);
  const { attempt } = outcome;
  const id = eq(webhookEndpoints.id, attempt.endpointId);
  const statements: Statement[] = [db.insert(webhookAttempts).values(attempt)];
  statements.push(
    outcome.endpoint === "succeeded"
      ? db.update(webhookEndpoints).set({ failingSince: null }).where(and(id, sql`${webhookEndpoints.failingSince} IS NOT NULL`))
      : db
          .update(webhookEndpoints)
          .set({ failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${attempt.at})` })
          .where(id),
  );
  if (outcome.disable) {
    const { reason, audit, detail } = outcome.disable;
    statements.push(
      db
        .update(webhookEndpoints)
        .set({ enabled: false, disabledReason: reason, updatedAt: attempt.at })
        .where(and(id, eq(webhookEndpoints.enabled, true))),
      auditAfterChange(audit, "webhook.disable", attempt.endpointId, { enabled: { from: true, to: false }, reason: { from: null, to: detail } }, attempt.at),
    );
  }
  await runBatch(d1, statements);
}

export interface AttemptFilter {
  endpointId: string;
  status?: "succeeded" | "failed";
  after?: string;
  limit: number;
}

/** One endpoint's attempts, newest first. */
export async function listAttempts(db: Db, filter: AttemptFilter): Promise<{ rows: AttemptRow[]; more: boolean }> {
  const where: SQL[] = [eq(webhookAttempts.endpointId, filter.endpointId)];
  if (filter.status) where.push(eq(webhookAttempts.status, filter.status));
  if (filter.after) where.push(lt(webhookAttempts.id, filter.after));
  const rows = await db
    .select()
    .from(webhookAttempts)
    .where(and(...where))
    .orderBy(desc(webhookAttempts.id))
    .limit(filter.limit + 1);
  return { rows: rows.slice(0, filter.limit), more: rows.length > filter.limit };
}

/** How long delivery attempts are kept. */
export const ATTEMPT_RETENTION_MS = 30 * 86_400_000;

/** Deletes attempts past 30 days; answers how many. */
export async function pruneAttempts(db: Db, now: number): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < 20; i++) {
    const changes = (await db.run(sql`
      DELETE FROM ${webhookAttempts} WHERE rowid IN (
        SELECT rowid FROM ${webhookAttempts} WHERE at < ${now - ATTEMPT_RETENTION_MS} LIMIT 5000)`)).meta.changes ?? 0;
    deleted += changes;
    if (changes === 0) break;
  }
  return deleted;
}
