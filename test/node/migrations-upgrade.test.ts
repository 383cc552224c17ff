/**
 * A database that already holds keys, migrated by an earlier keygate, takes the newer
 * migrations: 0003 moves credits from keys to their lineage without losing what an operator set.
 * Migrations that have landed are never edited; this test reads them as a deployed D1 has them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Miniflare } from "miniflare";
import { applyMigrations, loopbackMiniflare } from "../../scripts/local-gateway.ts";

type D1 = Awaited<ReturnType<Miniflare["getD1Database"]>>;

let mf: Miniflare;
let db: D1;

const key = (id: string, lineage: string, credits: string | null) =>
  db
    .prepare(
      "INSERT INTO keys (id, hash, start, prefix, lineage_id, name, owner_id, environment, credits, created_at, updated_at) " +
        "VALUES (?, ?, 'kg_live_abcd', 'kg_live', ?, 'k', 'acct_1', 'live', ?, 0, 0)",
    )
    .bind(id, `hash_${id}`, lineage, credits);

beforeAll(async () => {
  mf = loopbackMiniflare([{ name: "db", modules: true, script: "export default { fetch() { return new Response(); } }", d1Databases: ["DB"] }]);
  db = await mf.getD1Database("DB");
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

    await applyMigrations(db, (file) => file >= "0003");

    const { results } = await db.prepare("SELECT id, credits, credits_version, change_id, has_state FROM lineages ORDER BY id").all();
    expect(results).toEqual([
      { id: "lin_rotated", credits: set, credits_version: 1, change_id: null, has_state: 1 },
      { id: "lin_unlimited", credits: null, credits_version: 0, change_id: null, has_state: 1 },
    ]);
  });
});
