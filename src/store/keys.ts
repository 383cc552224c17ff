import { and, desc, eq, gt, isNotNull, isNull, lt, lte, or, sql, type SQL } from "drizzle-orm";
import { keys, owners, plans } from "./schema";
import { viewFromRows } from "./owners";
import type { OwnerView } from "../owners/record";
import { fromRow } from "./record";
import type { KeyStatus, StoredKey } from "../keys/record";
import { getDb, type Db } from "./db";
import { runOnce } from "./flush";

export async function findByHash(db: Db, hash: string): Promise<StoredKey | null> {
  const row = await db.select().from(keys).where(eq(keys.hash, hash)).get();
  return row ? fromRow(row) : null;
}

/** A key with its owner and the owner's plan, in one read: what the gateway needs of D1 for a key it has never seen. */
export async function findWithOwner(db: Db, hash: string): Promise<{ key: StoredKey; owner: OwnerView | null } | null> {
  const row = await db
    .select()
    .from(keys)
    .leftJoin(owners, eq(owners.id, keys.ownerId))
    .leftJoin(plans, eq(plans.id, owners.plan))
    .where(eq(keys.hash, hash))
    .get();
  return row ? { key: fromRow(row.keys), owner: viewFromRows(row.owners, row.plans) } : null;
}

export async function findById(db: Db, id: string): Promise<StoredKey | null> {
  const row = await db.select().from(keys).where(eq(keys.id, id)).get();
  return row ? fromRow(row) : null;
}

export interface KeyFilter {
  /** name or ownerId contains this text, ignoring the case of ASCII letters */
  q?: string;
  ownerId?: string;
  environment?: "live" | "test";
  status?: KeyStatus;
  after?: string;
  limit: number;
  now: number;
}

export async function listKeys(db: Db, filter: KeyFilter): Promise<{ keys: StoredKey[]; more: boolean }> {
  const where: (SQL | undefined)[] = [];
  if (filter.q) {
    // SQLite's lower() folds ASCII letters only; folding both sides the same way keeps that consistent.
    const contains = (column: typeof keys.name | typeof keys.ownerId) => sql`instr(lower(${column}), lower(${filter.q})) > 0`;
    where.push(or(contains(keys.name), contains(keys.ownerId)));
  }
  if (filter.ownerId) where.push(eq(keys.ownerId, filter.ownerId));
  if (filter.environment) where.push(eq(keys.environment, filter.environment));
  if (filter.status === "revoked") where.push(isNotNull(keys.revokedAt));
  if (filter.status === "expired") where.push(isNull(keys.revokedAt), lte(keys.expiresAt, filter.now));
  if (filter.status === "active") {
    where.push(isNull(keys.revokedAt), or(isNull(keys.expiresAt), gt(keys.expiresAt, filter.now)));
  }
  if (filter.after) where.push(lt(keys.id, filter.after));
  const rows = await db
    .select()
    .from(keys)
    .where(and(...where))
    .orderBy(desc(keys.id))
    .limit(filter.limit + 1);
  return { keys: rows.slice(0, filter.limit).map(fromRow), more: rows.length > filter.limit };
}

/** The scopes of the owner's keys that are neither revoked nor expired at `now`, each once. */
export async function scopesHeldBy(db: Db, ownerId: string, now: number): Promise<string[]> {
  const rows = await db
    .select({ scopes: keys.scopes })
    .from(keys)
    .where(and(eq(keys.ownerId, ownerId), isNull(keys.revokedAt), or(isNull(keys.expiresAt), gt(keys.expiresAt, now))));
  return [...new Set(rows.flatMap((row) => JSON.parse(row.scopes) as string[]))];
}

/** How many keys of the owner are neither revoked nor expired at `now`. */
export async function countUsableKeys(db: Db, ownerId: string, now: number): Promise<number> {
  const row = await db.get<{ n: number }>(sql`SELECT ${activeKeysOf(ownerId, now)} AS n`);
  return row?.n ?? 0;
}

/** The owner's active keys (not revoked, not expired at `now`), for MAX_KEYS_PER_OWNER. */
export function activeKeysOf(ownerId: string, now: number): SQL {
  return sql`(SELECT count(*) FROM ${keys} WHERE owner_id = ${ownerId} AND revoked_at IS NULL
              AND (expires_at IS NULL OR expires_at > ${now}))`;
}

export interface UsageDelta {
  keyId: string;
  count: number;
  lastUsedAt: number;
}

/**
 * KeyState's batched write-back: usage counters, and the lineage's live credit balance into
 * each key's copy. Never a version bump. Applied at most once per `flushId`, so a flush
 * retried after a lost answer counts once.
 */
export async function recordUsage(
  d1: D1Database,
  flushId: string,
  lineageId: string,
  deltas: UsageDelta[],
  remaining: number | undefined,
): Promise<void> {
  const db = getDb(d1);
  await runOnce(d1, flushId, (notYetApplied) => [
    ...deltas.map((d) =>
      db
        .update(keys)
        .set({
          usageCount: sql`${keys.usageCount} + ${d.count}`,
          lastUsedAt: sql`max(coalesce(${keys.lastUsedAt}, 0), ${d.lastUsedAt})`,
        })
        .where(and(eq(keys.id, d.keyId), notYetApplied)),
    ),
    ...(remaining === undefined
      ? []
      : [
          db
            .update(keys)
            .set({ credits: sql`json_set(${keys.credits}, '$.remaining', ${remaining})` })
            .where(and(eq(keys.lineageId, lineageId), isNotNull(keys.credits), notYetApplied)),
        ]),
  ]);
}
