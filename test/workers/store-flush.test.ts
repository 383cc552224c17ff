import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { FLUSH_ID_RETENTION_MS, pruneAppliedFlushes, runOnce } from "../../src/store/flush";
import { ProblemError } from "../../src/errors";
import { throwing } from "./gateway-helpers";

/** A scratch counter table, so the test observes exactly what a flush adds. */
async function counter(name: string): Promise<number> {
  await env.DB.exec("CREATE TABLE IF NOT EXISTS flush_test (name TEXT PRIMARY KEY, n INTEGER NOT NULL)");
  const row = await env.DB.prepare("SELECT n FROM flush_test WHERE name = ?").bind(name).first<{ n: number }>();
  return row?.n ?? 0;
}

const add = (name: string, n: number) => (notYetApplied: ReturnType<typeof sql>) => [
  sql`INSERT INTO flush_test (name, n) SELECT ${name}, ${n} WHERE ${notYetApplied}
      ON CONFLICT (name) DO UPDATE SET n = n + excluded.n`,
];

describe("runOnce: a batched write applied at most once per flush id", () => {
  it("a retry with the same id after a lost answer adds nothing", async () => {
    const name = `c-${crypto.randomUUID()}`;
    await counter(name);
    expect(await runOnce(env.DB, `f-${name}-1`, add(name, 5))).toBe(true);
    expect(await runOnce(env.DB, `f-${name}-1`, add(name, 5))).toBe(false);
    expect(await counter(name)).toBe(5);
    expect(await runOnce(env.DB, `f-${name}-2`, add(name, 3))).toBe(true);
    expect(await counter(name)).toBe(8);
  });

  it("a failed flush leaves no trace, so its retry applies", async () => {
    const name = `c-${crypto.randomUUID()}`;
    await counter(name);
    const failing = (guard: ReturnType<typeof sql>) => [...add(name, 7)(guard), sql`INSERT INTO no_such_table VALUES (1)`];
    await expect(runOnce(env.DB, `f-${name}`, failing)).rejects.toBeInstanceOf(ProblemError);
    expect(await counter(name)).toBe(0);
    expect(await runOnce(env.DB, `f-${name}`, add(name, 7))).toBe(true);
    expect(await counter(name)).toBe(7);
  });

  it("an unreachable D1 is 503 GATEWAY_UNAVAILABLE, not an unknown error", async () => {
    const err = await runOnce(throwing<D1Database>("D1"), "f-down", add("x", 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).code).toBe("GATEWAY_UNAVAILABLE");
  });

  it("ids are forgotten after the retention, not before", async () => {
    const name = `c-${crypto.randomUUID()}`;
    await counter(name);
    await runOnce(env.DB, `f-${name}`, add(name, 1));
    await pruneAppliedFlushes(env.DB, Date.now() + FLUSH_ID_RETENTION_MS - 60_000);
    expect(await runOnce(env.DB, `f-${name}`, add(name, 1))).toBe(false);
    await pruneAppliedFlushes(env.DB, Date.now() + FLUSH_ID_RETENTION_MS + 60_000);
    expect(await runOnce(env.DB, `f-${name}`, add(name, 1))).toBe(true);
    expect(await counter(name)).toBe(2);
  });
});
