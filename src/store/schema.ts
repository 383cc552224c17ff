import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * D1 tables (docs/storage.md). Times are integer milliseconds since the epoch; lists are
 * JSON text. A key is stored by its SHA-256 hash only, never in plaintext.
 */
export const keys = sqliteTable(
  "keys",
  {
    id: text("id").primaryKey(),
    hash: text("hash").notNull().unique(),
    start: text("start").notNull(),
    prefix: text("prefix").notNull(),
    /** id of the first key of a rotation chain; names the KeyState object the chain shares. */
    lineageId: text("lineage_id").notNull(),
    name: text("name").notNull(),
    ownerId: text("owner_id").notNull(),
    environment: text("environment", { enum: ["live", "test"] }).notNull(),
    scopes: text("scopes").notNull().default("[]"),
    metadata: text("metadata").notNull().default("{}"),
    allowedIps: text("allowed_ips").notNull().default("[]"),
    ratelimits: text("ratelimits").notNull().default("[]"),
    credits: text("credits"),
    expiresAt: integer("expires_at"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    revokedAt: integer("revoked_at"),
    rotatedFrom: text("rotated_from"),
    lastUsedAt: integer("last_used_at"),
    usageCount: integer("usage_count").notNull().default(0),
    version: integer("version").notNull().default(1),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("keys_owner_idx").on(t.ownerId, t.id),
    index("keys_environment_idx").on(t.environment, t.id),
    index("keys_revoked_idx").on(t.revokedAt, t.id),
    index("keys_expires_idx").on(t.expiresAt),
    index("keys_lineage_idx").on(t.lineageId),
  ],
);

export const auditLog = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    at: integer("at").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    targetId: text("target_id").notNull(),
    requestId: text("request_id").notNull(),
    clientIp: text("client_ip"),
    /** JSON `{ field: { from, to } }`; never holds a key, a hash or a token. */
    changes: text("changes").notNull().default("{}"),
  },
  (t) => [
    index("audit_target_idx").on(t.targetId, t.id),
    index("audit_actor_idx").on(t.actor, t.id),
    index("audit_action_idx").on(t.action, t.id),
  ],
);

/**
 * One row per key lineage (a key and the keys rotated from it): the handshake between the
 * admin API and the lineage's KeyState object (docs/consistency.md).
 */
export const lineages = sqliteTable("lineages", {
  /** the lineage id: the id of its first key */
  id: text("id").primaryKey(),
  /**
   * +1 on every admin change to a key of the lineage and every time its KeyState object claims
   * the lineage (reads it from D1 and marks itself as existing). An admin change commits only
   * if `seq` is still what it read.
   */
  seq: integer("seq").notNull().default(0),
  /** the token of the change (or claim) that last moved `seq`: the batch's other statements check it */
  changeId: text("change_id"),
  /** true once the lineage's KeyState object exists: only then does the admin API tell it of changes */
  hasState: integer("has_state", { mode: "boolean" }).notNull().default(false),
  /** the credits an operator last set (JSON `{ remaining, refill }` or NULL): never the lagging live copy */
  credits: text("credits"),
  /** +1 every time an operator sets `credits`; KeyState applies each setting exactly once */
  creditsVersion: integer("credits_version").notNull().default(0),
});

/** Batched usage writes already applied, so a flush retried after a lost answer counts once. */
export const appliedFlushes = sqliteTable(
  "applied_flushes",
  {
    /** chosen by the flusher, the same on every attempt of one flush */
    id: text("id").primaryKey(),
    at: integer("at").notNull(),
  },
  (t) => [index("applied_flushes_at_idx").on(t.at)],
);

export type KeyRow = typeof keys.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;
