import { and, getTableColumns, gt, isNotNull, isNull, or, sql } from "drizzle-orm";
import { auditLog, eventOutbox, keys, lineages, owners, plans } from "./schema";
import { planFromRow } from "./owners";
import { toRow } from "./record";
import { D1_NOW } from "./lineage";
import { getDb, runBatch, type Statement } from "./db";
import type { AuditContext, FieldChanges } from "./audit";
import type { RaisedEvent } from "./outbox";
import type { Plan } from "../owners/record";
import type { StoredKey } from "../keys/record";

/**
 * The D1 side of POST /admin/keys/import (DESIGN.md, "Importing keys"; docs/storage.md). Lists
 * travel as one JSON parameter read with `json_each`, so a call of 1,000 keys costs a handful
 * of statements, never one per key, and stays within D1's 100 bound parameters per statement.
 */

const inJson = (values: readonly string[]) => sql`(SELECT value FROM json_each(${JSON.stringify(values)}))`;

/** What an import needs to know before it writes: keys that hold these hashes, and the owners' plans and key counts. */
export interface ImportContext {
  /** hash -> id of the key that holds it */
  existing: Map<string, string>;
  /** owner id -> its plan (absent: no plan, or no owner row yet) */
  plans: Map<string, Plan>;
  /** owner id -> keys that are neither revoked nor expired at `now` (absent: none) */
  activeKeys: Map<string, number>;
}

/** One D1 batch of reads (each a single table: a batch's rows are objects, where a join's equal column names would collide). */
export async function readImportContext(d1: D1Database, hashes: string[], ownerIds: string[], now: number): Promise<ImportContext> {
  const db = getDb(d1);
  const named = inJson(ownerIds);
  const [held, ownerPlans, planRows, counts] = await db.batch([
    db.select({ id: keys.id, hash: keys.hash }).from(keys).where(sql`${keys.hash} IN ${inJson(hashes)}`),
    db.select({ id: owners.id, plan: owners.plan }).from(owners).where(and(sql`${owners.id} IN ${named}`, isNotNull(owners.plan))),
    db.select().from(plans).where(sql`${plans.id} IN (SELECT ${owners.plan} FROM ${owners} WHERE ${owners.id} IN ${named})`),
    db
      .select({ ownerId: keys.ownerId, n: sql<number>`count(*)` })
      .from(keys)
      .where(and(sql`${keys.ownerId} IN ${named}`, isNull(keys.revokedAt), or(isNull(keys.expiresAt), gt(keys.expiresAt, now))))
      .groupBy(keys.ownerId),
  ]);
  const byId = new Map(planRows.map((row) => [row.id, planFromRow(row)]));
  return {
    existing: new Map(held.map((row) => [row.hash, row.id])),
    plans: new Map(ownerPlans.flatMap((row) => (byId.has(row.plan!) ? [[row.id, byId.get(row.plan!)!] as const] : []))),
    activeKeys: new Map(counts.map((row) => [row.ownerId, row.n])),
  };
}

/** Keys that hold these hashes now: hash -> id. */
export async function keysHolding(d1: D1Database, hashes: string[]): Promise<Map<string, string>> {
  const rows = await getDb(d1).select({ id: keys.id, hash: keys.hash }).from(keys).where(sql`${keys.hash} IN ${inJson(hashes)}`);
  return new Map(rows.map((row) => [row.hash, row.id]));
}

/** Which of these key ids D1 holds. */
export async function keysLanded(d1: D1Database, ids: string[]): Promise<Set<string>> {
  const rows = await getDb(d1).select({ id: keys.id }).from(keys).where(sql`${keys.id} IN ${inJson(ids)}`);
  return new Set(rows.map((row) => row.id));
}

/** One key an import writes, with what is written beside it. */
export interface ImportWrite {
  key: StoredKey;
  /** the most usable keys its owner may hold (MAX_KEYS_PER_OWNER or the plan's maxKeys) */
  max: number;
  /** how many keys of the same owner this batch writes up to and including this one */
  ordinal: number;
  auditId: string;
  changes: FieldChanges;
  event: RaisedEvent;
}

const COLUMNS = Object.entries(getTableColumns(keys)) as [keyof StoredKey, { name: string }][];
const column = (field: keyof StoredKey) => COLUMNS.findIndex(([f]) => f === field);
const at = (index: number) => sql.raw(`json_extract(j.value, '$[${index}]')`);

/**
 * One D1 batch, all or nothing: the keys (each only while no key holds its hash, its owner holds
 * fewer than `max` usable keys counting those before it in the batch, and D1's clock is before
 * `until`), then, for the keys that landed, their lineages, their owners' rows, their audit
 * entries and their events in the outbox. Its last statements answer D1's clock and which keys
 * landed. A batch that reaches D1 after `until` writes nothing (`late`).
 */
export async function writeImport(
  d1: D1Database,
  writes: ImportWrite[],
  audit: AuditContext,
  change: { token: string; at: number; until: number; now: number },
): Promise<{ landed: Set<string>; late: boolean }> {
  const rows = writes.map((w) => {
    const row = toRow(w.key) as unknown as Record<string, unknown>;
    return [...COLUMNS.map(([field]) => (typeof row[field] === "boolean" ? Number(row[field]) : row[field])), w.ordinal, w.max];
  });
  const names = sql.raw(COLUMNS.map(([, c]) => `"${c.name}"`).join(", "));
  const values = sql.join(
    COLUMNS.map((_, i) => at(i)),
    sql`, `,
  );
  const owner = at(column("ownerId"));
  const ids = writes.map((w) => w.key.id);
  const landed = sql`${keys.id} IN ${inJson(ids)}`;
  const statements: Statement[] = [
    sql`INSERT INTO ${keys} (${names})
        SELECT ${values} FROM json_each(${JSON.stringify(rows)}) j
        WHERE NOT EXISTS (SELECT 1 FROM ${keys} k WHERE k.hash = ${at(column("hash"))})
          AND (SELECT count(*) FROM ${keys} k WHERE k.owner_id = ${owner} AND k.revoked_at IS NULL
               AND (k.expires_at IS NULL OR k.expires_at > ${change.now})) + ${at(COLUMNS.length)} <= ${at(COLUMNS.length + 1)}
          AND ${D1_NOW} < ${change.until}`,
    // a new lineage's row, as a create's gate writes it: seq 1, no home yet, the credits as set
    sql`INSERT INTO ${lineages} (id, seq, change_id, has_state, credits, credits_version)
        SELECT ${keys.id}, 1, ${change.token}, 0, ${keys.credits}, CASE WHEN ${keys.credits} IS NULL THEN 0 ELSE 1 END
        FROM ${keys} WHERE ${landed}`,
    sql`INSERT INTO ${owners} (id, created_at, updated_at)
        SELECT DISTINCT ${keys.ownerId}, ${change.at}, ${change.at} FROM ${keys} WHERE ${landed}
        ON CONFLICT (id) DO NOTHING`,
    sql`INSERT INTO ${auditLog} (id, at, actor, action, target_id, request_id, client_ip, changes, via)
        SELECT ${at(0)}, ${change.at}, ${audit.actor}, 'key.import', ${at(1)}, ${audit.requestId}, ${audit.clientIp}, ${at(2)}, ${audit.via ?? null}
        FROM json_each(${JSON.stringify(writes.map((w) => [w.auditId, w.key.id, JSON.stringify(w.changes)]))}) j
        WHERE EXISTS (SELECT 1 FROM ${keys} WHERE ${keys.id} = ${at(1)})`,
    sql`INSERT INTO ${eventOutbox} (id, type, event, created_at)
        SELECT ${at(0)}, ${at(1)}, ${at(2)}, ${at(3)}
        FROM json_each(${JSON.stringify(writes.map((w) => [w.event.id, w.event.type, JSON.stringify(w.event), w.event.at, w.key.id]))}) j
        WHERE EXISTS (SELECT 1 FROM ${keys} WHERE ${keys.id} = ${at(4)})`,
    sql`SELECT ${D1_NOW} AS now`,
    sql`SELECT ${keys.id} AS id FROM ${keys} WHERE ${landed}`,
  ];
  const results = await runBatch(d1, statements);
  const [clock] = results.at(-2)!.results as { now: number }[];
  return { landed: new Set((results.at(-1)!.results as { id: string }[]).map((row) => row.id)), late: clock.now >= change.until };
}
