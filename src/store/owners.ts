import { and, asc, eq, gt, sql, type SQL } from "drizzle-orm";
import type { Owner, OwnerView, Plan } from "../owners/record";
import { owners, plans, auditLog } from "./schema";
import { auditAfterChange, type AuditContext } from "./audit";
import { getDb, runBatch, newId, type Statement } from "./db";
import { outboxInsert, type RaisedEvent } from "./outbox";
import type { OwnerRow, PlanRow } from "./schema";

/**
 * Owners and plans in D1 (docs/storage.md): their records, the owner's view the gateway caches,
 * and the gated changes their homes and the admin API commit (docs/consistency.md).
 */

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

export function planFromRow(row: PlanRow): Plan {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    keyRatelimits: JSON.parse(row.keyRatelimits),
    ownerRatelimits: JSON.parse(row.ownerRatelimits),
    ownerCredits: json(row.ownerCredits),
    maxKeys: row.maxKeys,
    scopes: json(row.scopes),
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    inForceBy: row.inForceBy,
  };
}

export function ownerFromRow(row: OwnerRow): Owner {
  return {
    id: row.id,
    name: row.name,
    plan: row.plan,
    ratelimits: json(row.ratelimits),
    credits: json(row.credits),
    creditsVersion: row.creditsVersion,
    metadata: JSON.parse(row.metadata),
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The view a row of `owners LEFT JOIN plans` gives (null: no owner row). */
export const viewFromRows = (owner: OwnerRow | null, plan: PlanRow | null): OwnerView | null =>
  owner ? { owner: ownerFromRow(owner), plan: plan ? planFromRow(plan) : null } : null;

/** The owner with its plan, as D1 holds them now; null for an owner no key named and no operator wrote. */
export async function findOwnerView(d1: D1Database, id: string): Promise<(OwnerView & { seq: number; hasState: boolean }) | null> {
  const db = getDb(d1);
  const [row] = await db.select().from(owners).leftJoin(plans, eq(plans.id, owners.plan)).where(eq(owners.id, id));
  if (!row) return null;
  return { owner: ownerFromRow(row.owners), plan: row.plans ? planFromRow(row.plans) : null, seq: row.owners.seq, hasState: row.owners.hasState };
}

export async function findPlan(d1: D1Database, id: string): Promise<Plan | null> {
  const [row] = await getDb(d1).select().from(plans).where(eq(plans.id, id));
  return row ? planFromRow(row) : null;
}

/** Usable keys (not revoked, not expired at `now`) per owner, for the owners listed. */
export const usableKeysOf = (ownerId: SQL | string, now: number): SQL =>
  sql`(SELECT count(*) FROM keys k WHERE k.owner_id = ${ownerId} AND k.revoked_at IS NULL
       AND (k.expires_at IS NULL OR (k.expires_at > ${now} AND k.expires_at > k.updated_at)))`;

/** Makes the owner's row if no key named it before (the owner exists from then on, with no plan). */
export const ensureOwner = (ownerId: string, now: number): SQL =>
  sql`INSERT INTO ${owners} (id, created_at, updated_at) VALUES (${ownerId}, ${now}, ${now}) ON CONFLICT (id) DO NOTHING`;

/** What the owner's home reads of its owner: the view and the version of it, and (claiming) its row moved. */
export async function readOwnerState(d1: D1Database, ownerId: string, claim: boolean): Promise<(OwnerView & { seq: number }) | null> {
  if (claim) {
    await getDb(d1)
      .update(owners)
      .set({ seq: sql`${owners.seq} + 1`, hasState: true, changeId: newId("clm") })
      .where(eq(owners.id, ownerId));
  }
  return findOwnerView(d1, ownerId);
}

/** Records that the owner's home took in its plan's `version` (the plan shows what is still pending). */
export async function markPlanSeen(d1: D1Database, ownerId: string, version: number): Promise<void> {
  await getDb(d1).update(owners).set({ planVersionSeen: version }).where(and(eq(owners.id, ownerId), sql`${owners.planVersionSeen} < ${version}`));
}

/** The owners on a plan whose homes exist and have not taken in its `version`: told, a batch at a time. */
export async function ownersToTell(d1: D1Database, planId: string, version: number, after: string, limit: number): Promise<string[]> {
  const rows = await getDb(d1)
    .select({ id: owners.id })
    .from(owners)
    .where(and(eq(owners.plan, planId), eq(owners.hasState, true), sql`${owners.planVersionSeen} < ${version}`, gt(owners.id, after)))
    .orderBy(asc(owners.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

/** Owners on the plan, and those whose homes have not taken in its current version yet. */
export async function planCounts(d1: D1Database, planId: string, version: number): Promise<{ owners: number; pending: number }> {
  const [row] = await getDb(d1).all<{ owners: number; pending: number }>(sql`
    SELECT count(*) AS owners, COALESCE(SUM(has_state = 1 AND plan_version_seen < ${version}), 0) AS pending
    FROM ${owners} WHERE plan = ${planId}`);
  return { owners: Number(row?.owners ?? 0), pending: Number(row?.pending ?? 0) };
}

/** An owner's new record within a change. */
export interface OwnerChange {
  ownerId: string;
  /** the owner row's `seq` the change was planned from (null: the owner does not exist yet) */
  seq: number | null;
  token: string;
  after: Omit<Owner, "creditsVersion" | "createdAt">;
  /** the change sets the shared balance */
  setsCredits: boolean;
  audit: AuditContext;
  changes: Record<string, { from: unknown; to: unknown }>;
  action: "owner.update";
  at: number;
  until: number;
  /** events the change raises (owner.updated), written with it (docs/events.md) */
  events?: RaisedEvent[];
}

/** D1's clock, in ms (as src/store/lineage.ts judges every change). */
const D1_NOW = sql`CAST(unixepoch('subsec') * 1000 AS INTEGER)`;

/**
 * Commits an owner change as one D1 batch: the gate moves the owner row's `seq` only if it is
 * still what the change was planned from, its plan (if any) still exists, and D1's clock is
 * before `until`; the audit entry is written only if the gate let the change through.
 * "conflict": plan again; "refused": the plan is gone; "expired": it arrived too late.
 */
export async function commitOwnerChange(d1: D1Database, change: OwnerChange): Promise<"committed" | "conflict" | "refused" | "expired"> {
  const a = change.after;
  const planExists = a.plan === null ? sql`1` : sql`EXISTS (SELECT 1 FROM ${plans} WHERE id = ${a.plan})`;
  const values = {
    name: a.name,
    plan: a.plan,
    ratelimits: a.ratelimits === null ? null : JSON.stringify(a.ratelimits),
    credits: a.credits === null ? null : JSON.stringify(a.credits),
    metadata: JSON.stringify(a.metadata),
  };
  const gate =
    change.seq === null
      ? sql`INSERT INTO ${owners} (id, name, plan, ratelimits, credits, credits_version, metadata, version, created_at, updated_at, seq, change_id)
            SELECT ${change.ownerId}, ${values.name}, ${values.plan}, ${values.ratelimits}, ${values.credits}, ${change.setsCredits ? 1 : 0},
                   ${values.metadata}, 1, ${change.at}, ${change.at}, 1, ${change.token}
            WHERE ${planExists} AND ${D1_NOW} < ${change.until}
            ON CONFLICT (id) DO NOTHING`
      : sql`UPDATE ${owners} SET name = ${values.name}, plan = ${values.plan}, ratelimits = ${values.ratelimits},
              credits = ${values.credits}, metadata = ${values.metadata}, version = version + 1, updated_at = ${change.at},
              credits_version = credits_version + ${change.setsCredits ? 1 : 0}, seq = seq + 1, change_id = ${change.token}
            WHERE id = ${change.ownerId} AND seq = ${change.seq} AND ${planExists} AND ${D1_NOW} < ${change.until}`;
  const opened = sql`EXISTS (SELECT 1 FROM ${owners} WHERE id = ${change.ownerId} AND change_id = ${change.token})`;
  const statements: Statement[] = [
    gate,
    auditAfterChange(change.audit, change.action, change.ownerId, change.changes, change.at),
    ...(change.events ?? []).map((event) => outboxInsert(event, opened)),
  ];
  const [gated] = await runBatch(d1, statements);
  if (gated.meta.changes === 1) return "committed";
  const [row] = await getDb(d1).all<{ seq: number | null; plan: number; now: number }>(
    sql`SELECT (SELECT seq FROM ${owners} WHERE id = ${change.ownerId}) AS seq,
               ${a.plan === null ? sql`1` : sql`(SELECT count(*) FROM ${plans} WHERE id = ${a.plan})`} AS plan, ${D1_NOW} AS now`,
  );
  if ((row?.seq ?? null) !== change.seq) return "conflict";
  if (row.now >= change.until) return "expired";
  return Number(row.plan) === 0 ? "refused" : "conflict";
}

/** Whether an owner change made by this admin request reached D1, once it can no longer land. */
export async function settleOwnerChange(d1: D1Database, change: Pick<OwnerChange, "until" | "audit" | "ownerId">): Promise<boolean> {
  const db = getDb(d1);
  for (;;) {
    const [row] = await db.all<{ now: number }>(sql`SELECT ${D1_NOW} AS now`);
    if (row.now >= change.until) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, change.until - row.now + 20)));
  }
  const [found] = await db
    .select({ id: auditLog.id })
    .from(auditLog)
    .where(and(eq(auditLog.targetId, change.ownerId), eq(auditLog.requestId, change.audit.requestId)))
    .limit(1);
  return found !== undefined;
}
