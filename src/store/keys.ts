import { and, desc, eq, getTableColumns, gt, isNotNull, isNull, lt, lte, or, sql, type SQL } from "drizzle-orm";
import { keys } from "./schema";
import { fromRow, toRow, type KeyStatus, type StoredKey } from "./record";
import { auditAfterChange, diff, type AuditContext } from "./audit";
import { getDb, runBatch, type Db } from "./db";

const COLUMNS = Object.entries(getTableColumns(keys)) as [keyof StoredKey, { name: string }][];

export async function findByHash(db: Db, hash: string): Promise<StoredKey | null> {
  const row = await db.select().from(keys).where(eq(keys.hash, hash)).get();
  return row ? fromRow(row) : null;
}

export async function findById(db: Db, id: string): Promise<StoredKey | null> {
  const row = await db.select().from(keys).where(eq(keys.id, id)).get();
  return row ? fromRow(row) : null;
}

export interface KeyFilter {
  ownerId?: string;
  environment?: "live" | "test";
  status?: KeyStatus;
  after?: string;
  limit: number;
  now: number;
}

export async function listKeys(db: Db, filter: KeyFilter): Promise<{ keys: StoredKey[]; more: boolean }> {
  const where: (SQL | undefined)[] = [];
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

/** INSERT ... SELECT with a guard, so a refused insert changes nothing and writes no audit entry. */
function insertKeyWhere(key: StoredKey, guard: SQL): SQL {
  const row = toRow(key);
  const names = sql.raw(COLUMNS.map(([, column]) => `"${column.name}"`).join(", "));
  const values = sql.join(
    COLUMNS.map(([field]) => sql`${row[field]}`),
    sql`, `,
  );
  return sql`INSERT INTO ${keys} (${names}) SELECT ${values} WHERE ${guard}`;
}

function activeKeysOf(ownerId: string, now: number): SQL {
  return sql`(SELECT count(*) FROM ${keys} WHERE owner_id = ${ownerId} AND revoked_at IS NULL
              AND (expires_at IS NULL OR expires_at > ${now}))`;
}

/** Creates a key unless its owner already holds `maxPerOwner` active keys. */
export async function insertKey(
  d1: D1Database,
  key: StoredKey,
  ctx: AuditContext,
  maxPerOwner: number,
): Promise<"created" | "limit"> {
  const [insert] = await runBatch(d1, [
    insertKeyWhere(key, sql`${activeKeysOf(key.ownerId, key.createdAt)} < ${maxPerOwner}`),
    auditAfterChange(ctx, "key.create", key.id, diff(null, key), key.createdAt),
  ]);
  return insert.meta.changes === 1 ? "created" : "limit";
}

const updateWhereVersion = (d1: D1Database, before: StoredKey, after: StoredKey, guard?: SQL) =>
  getDb(d1)
    .update(keys)
    .set(toRow(after))
    .where(and(eq(keys.id, before.id), eq(keys.version, before.version), guard));

/**
 * Writes `after` if the stored version is still `before.version` (optimistic concurrency).
 * "stale" when another change got there first: the caller reloads and decides again.
 * With `maxPerOwner` (a change that makes an inactive key active again) the write also
 * needs the owner to hold fewer active keys than that, else "limit".
 */
export async function updateKey(
  d1: D1Database,
  before: StoredKey,
  after: StoredKey,
  ctx: AuditContext,
  action: "key.update" | "key.revoke",
  maxPerOwner?: number,
): Promise<"updated" | "stale" | "limit"> {
  const guard =
    maxPerOwner === undefined ? undefined : sql`${activeKeysOf(after.ownerId, after.updatedAt)} < ${maxPerOwner}`;
  const [update] = await runBatch(d1, [
    updateWhereVersion(d1, before, after, guard),
    auditAfterChange(ctx, action, after.id, diff(before, after), after.updatedAt),
  ]);
  if (update.meta.changes === 1) return "updated";
  if (guard === undefined) return "stale";
  const current = await findById(getDb(d1), before.id);
  return current?.version === before.version ? "limit" : "stale";
}

/** Shortens the old key's life and creates its successor in one batch, both audited. */
export async function rotateKey(
  d1: D1Database,
  before: StoredKey,
  after: StoredKey,
  successor: StoredKey,
  ctx: AuditContext,
): Promise<boolean> {
  const at = after.updatedAt;
  const rotated = { ...diff(before, after), rotatedTo: { from: null, to: successor.id } };
  const [update] = await runBatch(d1, [
    updateWhereVersion(d1, before, after),
    auditAfterChange(ctx, "key.rotate", before.id, rotated, at),
    // changes() now counts the audit insert, which landed only if the update did.
    insertKeyWhere(successor, sql`changes() = 1`),
    auditAfterChange(ctx, "key.create", successor.id, diff(null, successor), at),
  ]);
  return update.meta.changes === 1;
}

export interface UsageDelta {
  keyId: string;
  count: number;
  lastUsedAt: number;
  remaining?: number;
}

/** Batched write-back from KeyState: usage counters only, never a version bump. */
export async function recordUsage(d1: D1Database, deltas: UsageDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  const statements = deltas.map((d) =>
    getDb(d1)
      .update(keys)
      .set({
        usageCount: sql`${keys.usageCount} + ${d.count}`,
        lastUsedAt: sql`max(coalesce(${keys.lastUsedAt}, 0), ${d.lastUsedAt})`,
        ...(d.remaining === undefined
          ? {}
          : { credits: sql`json_set(${keys.credits}, '$.remaining', ${d.remaining})` }),
      })
      .where(eq(keys.id, d.keyId)),
  );
  await runBatch(d1, statements);
}
