import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEAD_KEY_LOG, UsageBuffer } from "../../src/analytics/buffer";
import { DEFAULT_LIMITS } from "../../src/analytics/limits";
import type { RecordedRequest } from "../../src/analytics/writer";
import { admin, call, createKey } from "./helpers";
import { expectProblem } from "./gateway-helpers";
import { collectingContext, drainUsage, recorded, requestLog, type LogEntry } from "./usage-helpers";

/**
 * DESIGN.md, request log: "refusals of a revoked or expired key past 100 a minute are
 * summarised in one entry with a `count`, so a leaked dead key cannot fill it". Each logged
 * refusal carries text the client chose (path, user agent), kept 7 days.
 */

const MINUTE = 60_000;
/** The start of a whole minute a little in the past, so every test request falls in one minute. */
const minuteStart = () => Math.floor(Date.now() / MINUTE) * MINUTE - 2 * MINUTE;

async function wholeLog(id: string): Promise<LogEntry[]> {
  const seen: LogEntry[] = [];
  let cursor: string | null = null;
  do {
    const page: { data: LogEntry[]; nextCursor: string | null } = await requestLog(id, `?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
    seen.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return seen;
}

/** Writes the requests as an isolate's buffer holding batches of `batchRequests` would. */
async function logged(requests: RecordedRequest[], batchRequests = DEFAULT_LIMITS.batchRequests) {
  const buffer = new UsageBuffer(() => env.DB, { ...DEFAULT_LIMITS, batchRequests });
  const ctx = collectingContext();
  for (const r of requests) buffer.record(r, ctx);
  expect(await buffer.flush()).toBe(true);
}

const represented = (entries: LogEntry[]) => entries.reduce((n, e) => n + (e.count ?? 1), 0);
const attackerText = (i: number) => ({ path: `/echo/${"A".repeat(200)}${i}`, userAgent: `${"U".repeat(240)}${i}` });

describe("a dead key's refusals in the request log", () => {
  it("past 100 a minute, one entry carries the count of the rest; the total is exact", async () => {
    const { id, ownerId } = await createKey();
    const start = minuteStart();
    const sent = Array.from({ length: 400 }, (_, i) =>
      recorded({ keyId: id, ownerId, at: start + i * 10, outcome: "KEY_REVOKED", status: 401, ...attackerText(i) }),
    );
    await logged(sent);
    const entries = await wholeLog(id);
    expect(entries).toHaveLength(DEAD_KEY_LOG.perMinute + 1);
    expect(represented(entries)).toBe(400);
    const summary = entries.find((e) => e.count !== undefined)!;
    expect(summary.count).toBe(400 - DEAD_KEY_LOG.perMinute);
    expect(summary.requestId).toBe(sent[DEAD_KEY_LOG.perMinute].requestId);
    expect(summary.outcome).toBe("KEY_REVOKED");
  });

  it("each minute has its own 100; each usage batch past them writes one summary", async () => {
    const { id, ownerId } = await createKey();
    const start = minuteStart();
    const sent = [0, 1].flatMap((minute) =>
      Array.from({ length: 300 }, (_, i) =>
        recorded({ keyId: id, ownerId, at: start + minute * MINUTE + i * 10, outcome: "KEY_EXPIRED", status: 401, ...attackerText(i) }),
      ),
    );
    await logged(sent, 100);
    const entries = await wholeLog(id);
    // per minute: 100 entries, then batches of 100 requests hold the other 200: two summaries
    expect(entries).toHaveLength(2 * (DEAD_KEY_LOG.perMinute + 2));
    expect(represented(entries)).toBe(600);
    expect(entries.filter((e) => e.count !== undefined).map((e) => e.count)).toEqual([100, 100, 100, 100]);
  });

  it("a live key's requests are logged one by one, however many", async () => {
    const { id, ownerId } = await createKey();
    const start = minuteStart();
    await logged(Array.from({ length: 150 }, (_, i) => recorded({ keyId: id, ownerId, at: start + i, outcome: i % 2 ? "RATE_LIMITED" : "OK" })));
    const entries = await wholeLog(id);
    expect(entries).toHaveLength(150);
    expect(entries.every((e) => e.count === undefined)).toBe(true);
  });

  it("the gateway logs its refusals of a revoked key", async () => {
    const created = await createKey();
    expect((await admin(`/keys/${created.id}`, { method: "DELETE" })).status).toBe(200);
    for (let i = 0; i < 3; i++) await expectProblem(await call("/echo", created.key), 401, "KEY_REVOKED");
    await drainUsage();
    const { data } = await requestLog(created.id);
    expect(data.map((e) => e.outcome)).toEqual(["KEY_REVOKED", "KEY_REVOKED", "KEY_REVOKED"]);
  });
});
