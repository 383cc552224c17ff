import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { HISTOGRAM_COLUMNS } from "./measures";

/**
 * D1 tables (docs/storage.md). Times are integer milliseconds since the epoch; lists are
 * JSON text. A key is stored by its SHA-256 hash only, never in plaintext.
 */
export const keys = sqliteTable(
  "keys",
  {
    id: text("id").primaryKey(),
    hash: text("hash").notNull().unique(),
    /** "" for a key imported by its hash alone (the record's `start: null`): kept NOT NULL so no migration rebuilds this table */
    start: text("start").notNull(),
    /** the keygate prefix a rotation's successor gets; "" for an imported key without one */
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
    /** set by the abuse rule (ABUSE_POLICY): refused KEY_SUSPENDED until then; NULL lifts it */
    suspendedUntil: integer("suspended_until"),
    /** true for keys that came in through POST /admin/keys/import */
    imported: integer("imported", { mode: "boolean" }).notNull().default(false),
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
    /** where a change other than the admin API's came from: "portal"; NULL for the admin API (and every older row) */
    via: text("via"),
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

/**
 * The operator's plans (DESIGN.md, "Owners and plans"): limits each key gets, limits and a
 * balance each owner's keys share, a key count and a scope ceiling.
 */
export const plans = sqliteTable("plans", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  description: text("description"),
  /** JSON `[{ name, limit, windowSeconds }]`: each key's own limits, unless the key sets its own */
  keyRatelimits: text("key_ratelimits").notNull().default("[]"),
  /** JSON: limits all keys of an owner on this plan share, unless the owner sets its own */
  ownerRatelimits: text("owner_ratelimits").notNull().default("[]"),
  /** JSON `{ amount, interval, day? }` or NULL: each owner's shared balance starts at and is refilled to amount */
  ownerCredits: text("owner_credits"),
  maxKeys: integer("max_keys"),
  /** JSON array or NULL: the most a key of this plan's owners may hold */
  scopes: text("scopes"),
  version: integer("version").notNull().default(1),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  /** when the last change is in force everywhere at the latest (owners' homes that were not told revalidate by then) */
  inForceBy: integer("in_force_by"),
});

/**
 * The owners keys name (DESIGN.md, "Owners and plans"): one row per `ownerId`, made when a key
 * first names it or when an operator writes it. Like `lineages`, it is the handshake between
 * owner changes and the owner's home (`OwnerState`, docs/consistency.md).
 */
export const owners = sqliteTable(
  "owners",
  {
    id: text("id").primaryKey(),
    name: text("name"),
    plan: text("plan"),
    /** JSON `[{ name, limit, windowSeconds }]` or NULL (the plan's) */
    ratelimits: text("ratelimits"),
    /** JSON `{ remaining, refill }` or NULL: the balance an operator last set for all the owner's keys */
    credits: text("credits"),
    /** +1 every time an operator sets `credits`; the owner's home applies each setting once */
    creditsVersion: integer("credits_version").notNull().default(0),
    metadata: text("metadata").notNull().default("{}"),
    version: integer("version").notNull().default(1),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** +1 on every change and every claim by the owner's home; a change commits only if it is what it read */
    seq: integer("seq").notNull().default(0),
    changeId: text("change_id"),
    /** true once the owner's home exists: from then on it commits the owner's changes itself */
    hasState: integer("has_state", { mode: "boolean" }).notNull().default(false),
    /** the plan version the owner's home last took in (a plan change is pending for it until then) */
    planVersionSeen: integer("plan_version_seen").notNull().default(0),
  },
  (t) => [index("owners_plan_idx").on(t.plan, t.id)],
);

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


/** One counter column per latency bucket (src/store/histogram.ts): `gw_ms_1` … `gw_ms_inf`. */
const histogramColumns = (names: string[]) =>
  Object.fromEntries(names.map((name) => [name, integer(name).notNull().default(0)]));

/** What every usage table counts, per row. */
const usageMeasures = () => ({
  requests: integer("requests").notNull().default(0),
  creditsUsed: integer("credits_used").notNull().default(0),
  requestBytes: integer("request_bytes").notNull().default(0),
  responseBytes: integer("response_bytes").notNull().default(0),
  /** total gateway time in ms (excluding the wait for the origin) */
  gatewayMsSum: integer("gateway_ms_sum").notNull().default(0),
  /** total origin time in ms, of the requests sent to the origin */
  upstreamMsSum: integer("upstream_ms_sum").notNull().default(0),
  /** gateway time per latency bucket, every request */
  ...histogramColumns(HISTOGRAM_COLUMNS.gateway),
  /** origin time per latency bucket, requests sent to the origin only */
  ...histogramColumns(HISTOGRAM_COLUMNS.upstream),
});

/**
 * Gateway requests per key, hour, route, outcome and status (docs/storage.md). Written in
 * batches from each isolate's buffer (src/analytics/buffer.ts), never per request. Requests
 * refused before a key was known count under key_id "anonymous".
 */
export const usageRollups = sqliteTable(
  "usage_rollups",
  {
    keyId: text("key_id").notNull(),
    /** start of the hour (UTC), ms */
    hour: integer("hour").notNull(),
    /** "" when no route matched */
    route: text("route").notNull(),
    outcome: text("outcome").notNull(),
    status: integer("status").notNull(),
    /** "" for anonymous requests */
    ownerId: text("owner_id").notNull(),
    ...usageMeasures(),
  },
  (t) => [
    primaryKey({ columns: [t.keyId, t.hour, t.route, t.outcome, t.status] }),
    index("usage_rollups_hour_idx").on(t.hour),
    index("usage_rollups_owner_idx").on(t.ownerId, t.hour),
  ],
);

/** All-time totals per route, outcome and status: what /admin/metrics exposes as counters. */
export const usageTotals = sqliteTable(
  "usage_totals",
  {
    route: text("route").notNull(),
    outcome: text("outcome").notNull(),
    status: integer("status").notNull(),
    ...usageMeasures(),
  },
  (t) => [primaryKey({ columns: [t.route, t.outcome, t.status] })],
);

/**
 * The request log, a page per key per usage batch: each page holds the requests one isolate
 * wrote for one key in one batch, as a JSON array. A busy key costs D1 one row per batch, not
 * one per request (rows written are what D1 limits and bills). Kept 7 days (the scheduled
 * cleanup); read newest first by `listRequests` (src/store/usage.ts).
 */
export const requestLogPages = sqliteTable(
  "request_log_pages",
  {
    keyId: text("key_id").notNull(),
    /** the newest request's `at`: pages holding a time range are found by it */
    newestAt: integer("newest_at").notNull(),
    oldestAt: integer("oldest_at").notNull(),
    /** the usage batch that wrote the page (src/store/flush.ts) */
    flushId: text("flush_id").notNull(),
    /** the outcomes the page holds, space-separated with a space either side: " OK RATE_LIMITED " */
    outcomes: text("outcomes").notNull(),
    /** JSON array of entries, each `[at, requestId, method, path, route, status, outcome, ip, userAgent, country, gatewayMs, upstreamMs]` */
    entries: text("entries").notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.newestAt, t.flushId] })],
);

/**
 * Portal links (`POST /admin/portal/sessions`): one row per link, keyed by the SHA-256 of its
 * one-use code (the code itself is never stored). Opening the link spends the code and starts a
 * session (`portal_sessions`) in one batch. Pruned a day after they expire.
 */
export const portalLinks = sqliteTable(
  "portal_links",
  {
    /** lowercase hex SHA-256 of the code */
    codeHash: text("code_hash").primaryKey(),
    ownerId: text("owner_id").notNull(),
    /** where the portal's "back" link goes, as the operator gave it */
    returnUrl: text("return_url"),
    /** the code works until then: 10 minutes, or the session's end when that is sooner */
    expiresAt: integer("expires_at").notNull(),
    /** the session the link starts ends then: minted + ttlSeconds */
    sessionExpiresAt: integer("session_expires_at").notNull(),
    createdAt: integer("created_at").notNull(),
    /** set once, when the link is opened: a code works once */
    usedAt: integer("used_at"),
  },
  (t) => [index("portal_links_expires_idx").on(t.expiresAt)],
);

/** Portal sessions, keyed by the SHA-256 of the session cookie's value (never the value itself). */
export const portalSessions = sqliteTable(
  "portal_sessions",
  {
    /** lowercase hex SHA-256 of the session id the cookie holds */
    idHash: text("id_hash").primaryKey(),
    ownerId: text("owner_id").notNull(),
    returnUrl: text("return_url"),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    /** set by sign-out: the cookie works nowhere after it */
    endedAt: integer("ended_at"),
  },
  (t) => [index("portal_sessions_expires_idx").on(t.expiresAt)],
);

/**
 * Calls of the portal's `GET /api/key` per key per minute: at most 60 (DESIGN.md), counted
 * exactly across isolates. Pruned hourly.
 */
export const portalKeyReads = sqliteTable(
  "portal_key_reads",
  {
    keyId: text("key_id").notNull(),
    /** start of the minute (ms) */
    minute: integer("minute").notNull(),
    count: integer("count").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.minute] }), index("portal_key_reads_minute_idx").on(t.minute)],
);

/**
 * Events raised by a change, written in the change's own D1 batch (docs/events.md): once the
 * change landed, its events cannot be lost. A row is deleted once its event is on the queue;
 * the relay (src/scheduled.ts, every minute) queues rows left behind.
 */
export const eventOutbox = sqliteTable(
  "event_outbox",
  {
    /** the event id (`evt_` + ULID): `webhook-id` of every delivery of it */
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    /** JSON of the raised event (src/events/types.ts, `RaisedEvent`) */
    event: text("event").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("event_outbox_created_idx").on(t.createdAt)],
);

/** The operator's webhook endpoints (DESIGN.md, "Events and webhooks"). */
export const webhookEndpoints = sqliteTable("webhook_endpoints", {
  /** `whk_` + ULID */
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  description: text("description"),
  /** JSON array of event types, or `["*"]` */
  events: text("events").notNull(),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  /** why keygate disabled it ("gone": it answered 410; "failing": it failed 3 days in a row); NULL otherwise */
  disabledReason: text("disabled_reason"),
  /** `whsec_…`: deliveries are signed with it (it must be kept to sign; it is never answered again) */
  secret: text("secret").notNull(),
  /** the secret before the last rotation, and until when deliveries are signed with it too */
  previousSecret: text("previous_secret"),
  previousSecretUntil: integer("previous_secret_until"),
  /** when the endpoint's current run of failures began (NULL: its last attempt succeeded) */
  failingSince: integer("failing_since"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Every delivery attempt, kept 30 days. */
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    /** `wha_` + ULID: newest first is `ORDER BY id DESC` */
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    /** 1 for the first attempt */
    attempt: integer("attempt").notNull(),
    at: integer("at").notNull(),
    /** "succeeded" (2xx) or "failed" */
    status: text("status", { enum: ["succeeded", "failed"] }).notNull(),
    /** the receiver's HTTP status; NULL when none came (timeout, unreachable) */
    statusCode: integer("status_code"),
    durationMs: integer("duration_ms").notNull(),
    error: text("error"),
    /** when the next attempt is due; NULL when there is none */
    nextRetryAt: integer("next_retry_at"),
  },
  (t) => [
    index("webhook_attempts_endpoint_idx").on(t.endpointId, t.id),
    index("webhook_attempts_endpoint_status_idx").on(t.endpointId, t.status, t.id),
  ],
);

/**
 * Expiry notices already raised (`key.expiring` 7 days and 1 day before, `key.expired`), once
 * each per key and expiry: a key whose expiry moves is noticed again for the new one.
 */
export const expiryNotices = sqliteTable(
  "expiry_notices",
  {
    keyId: text("key_id").notNull(),
    /** "7d", "1d" or "expired" */
    kind: text("kind").notNull(),
    expiresAt: integer("expires_at").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.kind, t.expiresAt] }), index("expiry_notices_expires_idx").on(t.expiresAt)],
);

/** Tokens GitHub's secret scanning reported that were keygate keys: each is handled once. */
export const leakReports = sqliteTable("leak_reports", {
  /** lowercase hex SHA-256 of the token: the key's own hash */
  tokenHash: text("token_hash").primaryKey(),
  keyId: text("key_id").notNull(),
  url: text("url"),
  at: integer("at").notNull(),
});

/**
 * What a security reviewer looks for (DESIGN.md, "Security events"), kept 30 days. Written in
 * batches with usage (src/analytics/buffer.ts); a flood of one code from one address is one
 * entry with a `count` past 100 a minute.
 */
export const securityEvents = sqliteTable(
  "security_events",
  {
    at: integer("at").notNull(),
    code: text("code").notNull(),
    ip: text("ip"),
    country: text("country"),
    userAgent: text("user_agent"),
    method: text("method"),
    path: text("path"),
    route: text("route"),
    /** at most the first 12 characters of a presented key */
    keyStart: text("key_start"),
    keyId: text("key_id"),
    requestId: text("request_id").notNull(),
    /** on an entry that stands for several: how many; NULL otherwise */
    count: integer("count"),
    /** the usage batch that wrote it, so a retried batch writes it once */
    flushId: text("flush_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.at, t.requestId, t.code] }),
    index("security_events_code_idx").on(t.code, t.at),
    index("security_events_ip_idx").on(t.ip, t.at),
  ],
);

export type KeyRow = typeof keys.$inferSelect;
export type OwnerRow = typeof owners.$inferSelect;
export type PlanRow = typeof plans.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;
