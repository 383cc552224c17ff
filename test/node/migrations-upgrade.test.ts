/**
 * A database that already holds keys, migrated by an earlier keygate, takes the newer
 * migrations: 0003 moves credits from keys to their lineage without losing what an operator set,
 * 0004 moves the request log into pages without losing an entry, and 0005 takes back the
 * "home exists" mark 0001 gave lineages no consumer ever used.
 * Migrations that have landed are never edited; this test reads them as a deployed D1 has them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Miniflare } from "miniflare";
import { applyMigrations, loopbackMiniflare } from "../../scripts/local-gateway.ts";

type D1 = Awaited<ReturnType<Miniflare["getD1Database"]>>;

let mf: Miniflare;
let db: D1;
let logDb: D1;

const key = (id: string, lineage: string, credits: string | null) =>
  db
    .prepare(
      "INSERT INTO keys (id, hash, start, prefix, lineage_id, name, owner_id, environment, credits, created_at, updated_at) " +
        "VALUES (?, ?, 'kg_live_abcd', 'kg_live', ?, 'k', 'acct_1', 'live', ?, 0, 0)",
    )
    .bind(id, `hash_${id}`, lineage, credits);

beforeAll(async () => {
  mf = loopbackMiniflare([{ name: "db", modules: true, script: "export default { fetch() { return new Response(); } }", d1Databases: ["DB", "LOG", "HOMES"] }]);
  db = await mf.getD1Database("DB");
  logDb = await mf.getD1Database("LOG");
});
afterAll(() => mf.dispose());

describe("migrations on a database an earlier keygate made", () => {
  it("0003 gives each lineage the credits of its newest key, and counts them as set once", async () => {
    // Keys from before lineages had a table: 0001 gives each lineage its row, 0002 adds usage.
    await applyMigrations(db, (file) => file < "0001");
    const set = JSON.stringify({ remaining: 40, refill: null });
    const stale = JSON.stringify({ remaining: 999, refill: null });
    await db.batch([
      key("key_01A", "lin_rotated", stale), // rotated away from: its copy is older
      key("key_01B", "lin_rotated", set),
      key("key_01C", "lin_unlimited", null),
    ]);
    await applyMigrations(db, (file) => file >= "0001" && file < "0003");

    await applyMigrations(db, (file) => file >= "0003" && file < "0005");

    const { results } = await db.prepare("SELECT id, credits, credits_version, change_id, has_state FROM lineages ORDER BY id").all();
    expect(results).toEqual([
      { id: "lin_rotated", credits: set, credits_version: 1, change_id: null, has_state: 1 },
      { id: "lin_unlimited", credits: null, credits_version: 0, change_id: null, has_state: 1 },
    ]);
  });

  it("0005 leaves the lineages 0001 marked as having a home only where one can exist", async () => {
    const homes = await mf.getD1Database("HOMES");
    await applyMigrations(homes, (file) => file < "0001");
    const insert = (id: string, lineage: string, usage: number, lastUsed: number | null) =>
      homes
        .prepare(
          "INSERT INTO keys (id, hash, start, prefix, lineage_id, name, owner_id, environment, usage_count, last_used_at, created_at, updated_at) " +
            "VALUES (?, ?, 'kg_live_abcd', 'kg_live', ?, 'k', 'acct_1', 'live', ?, ?, 0, 0)",
        )
        .bind(id, `hash_${id}`, lineage, usage, lastUsed);
    await homes.batch([
      insert("key_01A", "lin_used", 12, 1_700_000_000_000), // its object exists: it wrote this usage
      insert("key_01B", "lin_never_used", 0, null), // no consumer request ever reached an object
      insert("key_01C", "lin_changed_since", 0, null), // changed (and so told) after 0001
    ]);
    await applyMigrations(homes, (file) => file >= "0001" && file < "0005");
    await homes.prepare("UPDATE lineages SET seq = 1 WHERE id = 'lin_changed_since'").run();

    await applyMigrations(homes, (file) => file >= "0005");

    const { results } = await homes.prepare("SELECT id, has_state FROM lineages ORDER BY id").all();
    expect(results).toEqual([
      { id: "lin_changed_since", has_state: 1 },
      { id: "lin_never_used", has_state: 0 },
      { id: "lin_used", has_state: 1 },
    ]);
  });

  it("0004 moves every request log row into a page of its key and minute", async () => {
    await applyMigrations(logDb, (file) => file < "0004");
    const minute = 29_400_000 * 60_000; // a whole minute, as ms since the epoch
    const row = (key: string, at: number, id: string, outcome: string, ip: string | null, upstream: number | null) =>
      logDb
        .prepare(
          "INSERT INTO request_log (key_id, at, request_id, method, path, route, status, outcome, ip, user_agent, country, gateway_ms, upstream_ms) " +
            "VALUES (?, ?, ?, 'GET', '/v1/items', 'items', ?, ?, ?, 'sdk/1', NULL, 2, ?)",
        )
        .bind(key, at, id, outcome === "OK" ? 200 : 429, outcome, ip, upstream);
    await logDb.batch([
      row("key_A", minute + 1_000, "req_1", "OK", "203.0.113.9", 40),
      row("key_A", minute + 59_999, "req_2", "RATE_LIMITED", null, null),
      row("key_A", minute + 30_000, "req_3", "OK", "203.0.113.9", 41),
      row("key_A", minute + 60_000, "req_4", "OK", "203.0.113.9", 42), // the next minute
      row("key_B", minute + 5_000, "req_5", "OK", "198.51.100.7", 43),
    ]);

    await applyMigrations(logDb, (file) => file >= "0004");

    const { results: pages } = await logDb
      .prepare("SELECT key_id, newest_at, oldest_at, outcomes, entries FROM request_log_pages ORDER BY key_id, newest_at")
      .all<{ key_id: string; newest_at: number; oldest_at: number; outcomes: string; entries: string }>();
    const entry = (at: number, id: string, outcome: string, ip: string | null, upstream: number | null) => [
      at, id, "GET", "/v1/items", "items", outcome === "OK" ? 200 : 429, outcome, ip, "sdk/1", null, 2, upstream,
    ];
    const byTime = (entries: string) => (JSON.parse(entries) as unknown[][]).sort((a, b) => (a[0] as number) - (b[0] as number));
    expect(pages.map((p) => ({ ...p, outcomes: p.outcomes.trim().split(" ").sort(), entries: byTime(p.entries) }))).toEqual([
      {
        key_id: "key_A",
        newest_at: minute + 59_999,
        oldest_at: minute + 1_000,
        outcomes: ["OK", "RATE_LIMITED"],
        entries: [
          entry(minute + 1_000, "req_1", "OK", "203.0.113.9", 40),
          entry(minute + 30_000, "req_3", "OK", "203.0.113.9", 41),
          entry(minute + 59_999, "req_2", "RATE_LIMITED", null, null),
        ],
      },
      { key_id: "key_A", newest_at: minute + 60_000, oldest_at: minute + 60_000, outcomes: ["OK"], entries: [entry(minute + 60_000, "req_4", "OK", "203.0.113.9", 42)] },
      { key_id: "key_B", newest_at: minute + 5_000, oldest_at: minute + 5_000, outcomes: ["OK"], entries: [entry(minute + 5_000, "req_5", "OK", "198.51.100.7", 43)] },
    ]);
    expect(pages.every((p) => p.outcomes.startsWith(" ") && p.outcomes.endsWith(" "))).toBe(true);
    const { results: tables } = await logDb.prepare("SELECT name FROM sqlite_schema WHERE name = 'request_log'").all();
    expect(tables).toEqual([]);
  });
});
