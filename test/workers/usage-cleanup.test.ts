import { env } from "cloudflare:workers";
import { createScheduledController } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { UsageBuffer } from "../../src/analytics/buffer";
import { RETENTION_MS } from "../../src/store/usage";
import { FLUSH_ID_RETENTION_MS } from "../../src/store/flush";
import { createKey } from "./helpers";
import { collectingContext, keyUsage, recorded, requestLog } from "./usage-helpers";

const DAY = 86_400_000;

async function count(sql: string, ...params: unknown[]): Promise<number> {
  return (await env.DB.prepare(sql).bind(...params).first<{ n: number }>())!.n;
}

/** The request log entries D1 holds for a key, in whatever pages, older than `before` if given. */
const entries = (keyId: string, before = Number.MAX_SAFE_INTEGER) =>
  count("SELECT count(*) AS n FROM request_log_pages p, json_each(p.entries) e WHERE p.key_id = ? AND e.value ->> 0 < ?", keyId, before);

/** Runs the Cron Trigger's handler as the runtime would at `now`. */
async function runCron(now: number): Promise<void> {
  await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "17 * * * *" }), env);
}

describe("the scheduled cleanup (Cron Trigger)", () => {
  it("keeps the request log 7 days and rollups 400 days, and forgets old flush ids", async () => {
    const { id, ownerId } = await createKey();
    const now = Date.now();
    // One batch per age, as an isolate writes requests that far apart: a page each.
    for (const age of [6 * DAY, 8 * DAY, 401 * DAY]) {
      const buffer = new UsageBuffer(() => env.DB);
      buffer.record(recorded({ keyId: id, ownerId, at: now - age }), collectingContext());
      expect(await buffer.flush()).toBe(true);
    }
    await env.DB.prepare("INSERT INTO applied_flushes (id, at) VALUES (?, ?), (?, ?)")
      .bind(`old-${id}`, now - FLUSH_ID_RETENTION_MS - DAY, `new-${id}`, now)
      .run();
    expect(await entries(id)).toBe(3);
    // The route never shows what is past retention, even before the cleanup runs.
    expect((await requestLog(id)).data).toHaveLength(1);

    await runCron(now);

    expect(await entries(id)).toBe(1);
    expect(await entries(id, now - RETENTION_MS.requestLog)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM usage_rollups WHERE key_id = ?", id)).toBe(2);
    const lastTenDays = `?from=${new Date(now - 10 * DAY).toISOString()}&to=${new Date(now).toISOString()}&granularity=day`;
    expect((await keyUsage(id, lastTenDays)).totals.requests).toBe(2);
    expect(await count("SELECT count(*) AS n FROM applied_flushes WHERE id IN (?, ?)", `old-${id}`, `new-${id}`)).toBe(1);
  });
});
