import { and, desc, eq, lt, sql, type SQL } from "drizzle-orm";
import { auditLog, type AuditRow } from "./schema";
import { iso, type StoredKey } from "../keys/record";
import { newId, type Db } from "./db";

export type AuditAction =
  | "key.create"
  | "key.update"
  | "key.revoke"
  | "key.rotate"
  /** a key that came in through POST /admin/keys/import */
  | "key.import"
  | "owner.update"
  | "plan.create"
  | "plan.update"
  | "plan.delete"
  | "portal.link"
  /** the abuse rule suspended the key (actor `keygate`) */
  | "key.suspend"
  /** GitHub's secret scanning reported the key and LEAK_ACTION changed nothing (actor `github-secret-scanning`) */
  | "key.leak"
  | "webhook.create"
  | "webhook.update"
  | "webhook.rotate_secret"
  | "webhook.delete"
  /** keygate disabled the endpoint: it answered 410, or failed 3 days in a row (actor `keygate`) */
  | "webhook.disable";

/** Where a change came from, when not the admin API: the portal (DESIGN.md, "Key holders: the portal"). */
export type AuditVia = "portal";

/** Who did it and from where; taken from the request that made the change. */
export interface AuditContext {
  actor: string;
  requestId: string;
  clientIp: string | null;
  /** left out for the admin API */
  via?: AuditVia;
}

export type FieldChanges = Record<string, { from: unknown; to: unknown }>;

/** Fields an audit diff may show. The hash, the key and tokens are never among them. */
const AUDITED_FIELDS = [
  "name",
  "ownerId",
  "environment",
  "start",
  "scopes",
  "metadata",
  "allowedIps",
  "ratelimits",
  "credits",
  "expiresAt",
  "enabled",
  "revokedAt",
  "rotatedFrom",
  "suspendedUntil",
] as const satisfies readonly (keyof StoredKey)[];

const TIME_FIELDS = new Set<string>(["expiresAt", "revokedAt", "suspendedUntil"]);

export function diff(before: StoredKey | null, after: StoredKey): FieldChanges {
  const changes: FieldChanges = {};
  for (const field of AUDITED_FIELDS) {
    const from = before ? (before[field] ?? null) : null;
    const to = after[field] ?? null;
    if (JSON.stringify(from) === JSON.stringify(to)) continue;
    changes[field] = TIME_FIELDS.has(field)
      ? { from: iso(from as number | null), to: iso(to as number | null) }
      : { from, to };
  }
  return changes;
}

/**
 * An audit insert that lands only if the statement before it in the same D1 batch changed
 * exactly one row: the change and its audit entry commit together or not at all.
 */
export function auditAfterChange(
  ctx: AuditContext,
  action: AuditAction,
  targetId: string,
  changes: FieldChanges,
  at: number,
) {
  return sql`
    INSERT INTO ${auditLog} (id, at, actor, action, target_id, request_id, client_ip, changes, via)
    SELECT ${newId("aud")}, ${at}, ${ctx.actor}, ${action}, ${targetId}, ${ctx.requestId},
           ${ctx.clientIp}, ${JSON.stringify(changes)}, ${ctx.via ?? null}
    WHERE changes() = 1`;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  targetId: string;
  requestId: string;
  clientIp: string | null;
  changes: FieldChanges;
  /** present only for changes that did not come through the admin API */
  via?: AuditVia;
}

const toEntry = (row: AuditRow): AuditEntry => ({
  id: row.id,
  at: iso(row.at)!,
  actor: row.actor,
  action: row.action,
  targetId: row.targetId,
  requestId: row.requestId,
  clientIp: row.clientIp,
  changes: JSON.parse(row.changes),
  ...(row.via ? { via: row.via as AuditVia } : {}),
});

export interface AuditFilter {
  targetId?: string;
  actor?: string;
  action?: string;
  /** id of the last entry of the previous page */
  after?: string;
  limit: number;
}

/** Newest first; fetches one extra row to know whether another page exists. */
export async function listAudit(db: Db, filter: AuditFilter): Promise<{ entries: AuditEntry[]; more: boolean }> {
  const where: SQL[] = [];
  if (filter.targetId) where.push(eq(auditLog.targetId, filter.targetId));
  if (filter.actor) where.push(eq(auditLog.actor, filter.actor));
  if (filter.action) where.push(eq(auditLog.action, filter.action));
  if (filter.after) where.push(lt(auditLog.id, filter.after));
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(filter.limit + 1);
  return { entries: rows.slice(0, filter.limit).map(toEntry), more: rows.length > filter.limit };
}
