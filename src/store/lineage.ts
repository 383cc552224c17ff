import { and, eq, getTableColumns, sql, type SQL } from "drizzle-orm";
import { auditLog, keys, lineages } from "./schema";
import { fromRow, toRow } from "./record";
import type { Credits, StoredKey } from "../keys/record";
import { auditAfterChange, diff, type AuditAction, type AuditContext } from "./audit";
import { getDb, newId, runBatch, type Db, type Statement } from "./db";
import { activeKeysOf } from "./keys";
import { outboxInsert, type RaisedEvent } from "./outbox";

/**
 * A key lineage (a key and the keys rotated from it) as D1 holds it: the unit every admin
 * change commits against and the unit one KeyState object serves (docs/consistency.md).
 */
export interface Lineage {
  id: string;
  /** moves on every admin change and every claim by the lineage's KeyState object */
  seq: number;
  /** whether the lineage's KeyState object exists, so admin changes must tell it */
  hasState: boolean;
  /** the credits an operator last set, and how many times they have been set */
  credits: Credits | null;
  creditsVersion: number;
  /** every key of the lineage, oldest first */
  keys: StoredKey[];
}

/** A key's whole lineage, read in one D1 batch so the row and the keys agree; null for an unknown key. */
export async function loadLineageOf(d1: D1Database, keyId: string): Promise<Lineage | null> {
  const db = getDb(d1);
  const lineageOf = sql`(SELECT ${keys.lineageId} FROM ${keys} WHERE ${keys.id} = ${keyId})`;
  const [rows, [row]] = await db.batch([
    db.select().from(keys).where(sql`${keys.lineageId} = ${lineageOf}`).orderBy(keys.id),
    db.select().from(lineages).where(sql`${lineages.id} = ${lineageOf}`),
  ]);
  if (rows.length === 0) return null;
  const members = rows.map(fromRow);
  if (!row) {
    // A lineage older than the lineages table that the migration missed: treat its object as
    // existing (telling it is safe), and take the credits from its newest key.
    const credits = members.at(-1)!.credits;
    return { id: members[0].lineageId, seq: 0, hasState: true, credits, creditsVersion: 0, keys: members };
  }
  return {
    id: row.id,
    seq: row.seq,
    hasState: row.hasState,
    credits: row.credits === null ? null : (JSON.parse(row.credits) as Credits),
    creditsVersion: row.creditsVersion,
    keys: members,
  };
}

/** One key's new record within a change, and how its audit entry reads. */
export interface KeyWrite {
  before: StoredKey | null;
  after: StoredKey;
  action: AuditAction;
  /** audit extras beyond the field diff (e.g. `rotatedTo`) */
  note?: Record<string, { from: unknown; to: unknown }>;
  /**
   * Events the write raises (src/events/raise.ts): written to the outbox in the change's own
   * batch, so once the change landed they cannot be lost, whoever commits it (the admin API or
   * the lineage's home, which hands `writes` to `commitChange` as it received them).
   */
  events?: RaisedEvent[];
}

/** A condition a change needs, checked in its batch before anything is written. */
export interface Requirement {
  /** the owner holds fewer than `max` active keys at `now` (MAX_KEYS_PER_OWNER) */
  ownerBelow: { ownerId: string; max: number; now: number };
}

export interface LineageChange {
  lineage: Pick<Lineage, "id" | "seq">;
  /** unique per attempt: marks the lineage row, so the batch's other statements know the gate opened */
  token: string;
  writes: KeyWrite[];
  /** present when the change sets the lineage's credits (null removes them) */
  credits?: Credits | null;
  requires?: Requirement;
  audit: AuditContext;
  at: number;
  /** D1's own clock must be before this (ms) when the batch runs: a batch that arrives later writes nothing */
  until: number;
}

/**
 * "committed"; "conflict": the lineage moved, read it again and redo the change; "refused":
 * `requires` failed; "expired": the batch ran after `until`, so it wrote nothing.
 */
export type CommitOutcome = "committed" | "conflict" | "refused" | "expired";

/** Fields an admin change may write; usage counters and the lagging credit copy are KeyState's. */
const ADMIN_FIELDS = [
  "name",
  "scopes",
  "metadata",
  "allowedIps",
  "ratelimits",
  "credits",
  "expiresAt",
  "enabled",
  "revokedAt",
  "suspendedUntil",
  "version",
  "updatedAt",
] as const satisfies readonly (keyof StoredKey)[];

const COLUMNS = Object.entries(getTableColumns(keys)) as [keyof StoredKey, { name: string }][];

/**
 * Commits a change to one lineage as one D1 batch, all or nothing. The first statement is the
 * gate: it moves the lineage's `seq` on only if nobody (another change, or the lineage's home
 * claiming it) moved it since `lineage.seq` was read, only if `requires` holds, and only while
 * D1's clock is before `until`; every later statement runs only if the gate left this change's
 * token on the row. So a batch whose answer was lost, or that is still on its way when its
 * caller gives up, can be settled for good: once D1's clock has passed `until`, it either
 * landed or never will (`settleLostCommit`).
 */
export async function commitChange(d1: D1Database, change: LineageChange): Promise<CommitOutcome> {
  const opened = sql`EXISTS (SELECT 1 FROM ${lineages} WHERE ${lineages.id} = ${change.lineage.id}
                             AND ${lineages.changeId} = ${change.token})`;
  const db = getDb(d1);
  const statements: Statement[] = [gate(change)];
  for (const write of change.writes) {
    statements.push(
      write.before ? updateWhere(db, write.before, write.after, change.credits !== undefined, opened) : insertWhere(write.after, opened),
    );
    const changes = { ...diff(write.before, write.after), ...write.note };
    if (change.credits !== undefined && write.before) changes.credits = { from: write.before?.credits ?? null, to: change.credits };
    statements.push(auditAfterChange(change.audit, write.action, write.after.id, changes, change.at));
    for (const event of write.events ?? []) statements.push(outboxInsert(event, opened));
  }
  const [gated] = await runBatch(d1, statements);
  if (gated.meta.changes === 1) return "committed";
  const [row] = await db.all<{ seq: number | null; now: number }>(
    sql`SELECT (SELECT ${lineages.seq} FROM ${lineages} WHERE ${lineages.id} = ${change.lineage.id}) AS seq, ${D1_NOW} AS now`,
  );
  if ((row?.seq ?? 0) !== change.lineage.seq) return "conflict";
  if (row.now >= change.until) return "expired";
  return change.requires ? "refused" : "conflict";
}

/** D1's clock, in ms: the one clock every attempt at a change is judged by. */
export const D1_NOW = sql`CAST(unixepoch('subsec') * 1000 AS INTEGER)`;

const requirement = (requires: Requirement | undefined): SQL =>
  requires ? sql`${activeKeysOf(requires.ownerBelow.ownerId, requires.ownerBelow.now)} < ${requires.ownerBelow.max}` : sql`1`;

function gate({ lineage, token, credits, requires, until }: LineageChange): SQL {
  const setsCredits = credits !== undefined;
  const creditsText = credits ? JSON.stringify(credits) : null;
  return sql`
    INSERT INTO ${lineages} (id, seq, change_id, has_state, credits, credits_version)
    SELECT ${lineage.id}, 1, ${token}, 0, ${creditsText}, ${credits ? 1 : 0}
    WHERE ${requirement(requires)} AND ${D1_NOW} < ${until}
    ON CONFLICT (id) DO UPDATE SET seq = seq + 1, change_id = excluded.change_id
      ${setsCredits ? sql`, credits = excluded.credits, credits_version = credits_version + 1` : sql``}
    WHERE ${lineages.seq} = ${lineage.seq} AND ${D1_NOW} < ${until}`;
}

/** Writes only what the change touched, so counters KeyState flushed in the meantime survive. */
function updateWhere(db: Db, before: StoredKey, after: StoredKey, creditsSet: boolean, opened: SQL) {
  const row = toRow(after);
  const previous = toRow(before);
  const set = Object.fromEntries(
    ADMIN_FIELDS.filter((field) => row[field] !== previous[field] || (field === "credits" && creditsSet)).map((field) => [
      field,
      row[field],
    ]),
  );
  return db.update(keys).set(set).where(and(eq(keys.id, before.id), eq(keys.version, before.version), opened));
}

function insertWhere(key: StoredKey, opened: SQL): SQL {
  const row = toRow(key);
  const names = sql.raw(COLUMNS.map(([, column]) => `"${column.name}"`).join(", "));
  const values = sql.join(
    COLUMNS.map(([field]) => sql`${row[field]}`),
    sql`, `,
  );
  return sql`INSERT INTO ${keys} (${names}) SELECT ${values} WHERE ${opened}`;
}

/** Whether a change made by this admin request reached D1, when D1's answer to it was lost. */
async function changedByRequest(d1: D1Database, requestId: string, targetId: string): Promise<boolean> {
  const [row] = await getDb(d1)
    .select({ id: auditLog.id })
    .from(auditLog)
    .where(and(eq(auditLog.targetId, targetId), eq(auditLog.requestId, requestId)))
    .limit(1);
  return row !== undefined;
}

/**
 * Settles a change whose batch may or may not have landed (D1 threw, or its answer was lost):
 * true as soon as its first audit entry is there; otherwise it waits until D1's own clock has
 * passed the change's `until`, after which the batch can no longer land, and looks once more.
 * Throws when D1 cannot be read.
 */
export async function settleLostCommit(
  d1: D1Database,
  change: Pick<LineageChange, "until" | "audit"> & { writes: Pick<KeyWrite, "after">[] },
): Promise<boolean> {
  const landed = () => changedByRequest(d1, change.audit.requestId, change.writes[0].after.id);
  return (await untilPassed(d1, change.until, landed)) || landed();
}

/**
 * Waits until D1's own clock has passed `until`: from then on a batch gated on `D1_NOW < until`
 * can no longer land, whenever it reaches D1. With `done`, stops early (true) once it says so.
 * Throws when D1 cannot be read.
 */
export async function untilPassed(d1: D1Database, until: number, done: () => Promise<boolean> = async () => false): Promise<boolean> {
  for (;;) {
    if (await done()) return true;
    const [row] = await getDb(d1).all<{ now: number }>(sql`SELECT ${D1_NOW} AS now`);
    if (row.now >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, until - row.now + 20)));
  }
}

/** What a KeyState object learns of its lineage from D1. */
export interface LineageState {
  seq: number;
  credits: Credits | null;
  creditsVersion: number;
  /** each key's record version */
  versions: Record<string, number>;
}

/**
 * KeyState's read of its lineage, one D1 batch. With `claim` it first moves `seq` and marks
 * the object as existing: from then on admin changes tell it, and a change read before the
 * claim can no longer commit (its gate finds `seq` moved), so none slips past the object.
 */
export async function readLineageState(d1: D1Database, lineageId: string, claim: boolean): Promise<LineageState> {
  const db = getDb(d1);
  const row = db.select().from(lineages).where(eq(lineages.id, lineageId));
  const versions = db.select({ id: keys.id, version: keys.version }).from(keys).where(eq(keys.lineageId, lineageId));
  const claimed = db
    .insert(lineages)
    .values({ id: lineageId, seq: 1, hasState: true, changeId: newId("clm") })
    .onConflictDoUpdate({ target: lineages.id, set: { seq: sql`${lineages.seq} + 1`, hasState: true, changeId: sql`excluded.change_id` } });
  const [[lineage], keyVersions] = claim
    ? (await db.batch([claimed, row, versions])).slice(1) as [Awaited<typeof row>, Awaited<typeof versions>]
    : await db.batch([row, versions]);
  return {
    seq: lineage?.seq ?? 0,
    credits: lineage?.credits ? (JSON.parse(lineage.credits) as Credits) : null,
    creditsVersion: lineage?.creditsVersion ?? 0,
    versions: Object.fromEntries(keyVersions.map((v) => [v.id, v.version])),
  };
}
