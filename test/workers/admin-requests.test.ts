import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { UsageBuffer } from "../../src/analytics/buffer";
import { DEFAULT_LIMITS } from "../../src/analytics/limits";
import type { RecordedRequest } from "../../src/analytics/writer";
import { admin, createKey, problem } from "./helpers";
import { collectingContext, recorded, requestLog, type LogEntry } from "./usage-helpers";

const DAY = 86_400_000;

/** A key whose request log holds the given requests (written as the gateway's buffer would). */
async function keyWithLog(entries: { at: number; outcome?: string; status?: number }[]) {
  const created = await createKey();
  const buffer = new UsageBuffer(() => env.DB);
  const ctx = collectingContext();
  const sent = entries.map((e) => recorded({ keyId: created.id, ownerId: created.ownerId, ...e }));
  for (const r of sent) buffer.record(r, ctx);
  expect(await buffer.flush()).toBe(true);
  return { ...created, sent };
}

const newestFirst = (requests: RecordedRequest[]) =>
  [...requests].sort((a, b) => b.at - a.at || (a.requestId < b.requestId ? 1 : -1)).map((r) => r.requestId);

/** Every request id the route lists for a key, following nextCursor page by page. */
async function wholeLog(id: string, limit: number, outcome?: string): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const query = `?limit=${limit}${outcome ? `&outcome=${outcome}` : ""}${cursor ? `&cursor=${cursor}` : ""}`;
    const page: { data: LogEntry[]; nextCursor: string | null } = await requestLog(id, query);
    seen.push(...page.data.map((e) => e.requestId));
    cursor = page.nextCursor;
  } while (cursor);
  return seen;
}

/** A 400 VALIDATION_FAILED whose issues name `parameter`. */
async function refused(res: Response, parameter: string) {
  expect(res.status).toBe(400);
  const body = (await problem(res)) as unknown as { code: string; detail: string; issues: { path: string }[] };
  expect(body.code).toBe("VALIDATION_FAILED");
  expect(body.detail).toContain(parameter);
  expect(body.issues.map((i) => i.path)).toContain(parameter);
}

describe("GET /admin/keys/{id}/requests", () => {
  it("pages through the log newest first, ties included, each request once", async () => {
    const now = Date.now();
    const { id, sent } = await keyWithLog([
      { at: now - 5000 },
      { at: now - 1000 },
      { at: now - 3000 },
      { at: now - 3000 },
      { at: now - 2000 },
    ]);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { data: LogEntry[]; nextCursor: string | null } = await requestLog(id, `?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.data.map((e) => e.requestId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(newestFirst(sent));
  });

  it("merges the pages several isolates wrote, however they overlap in time and whatever their size", async () => {
    const { id, ownerId } = await createKey();
    const now = Date.now();
    let seed = 20261124;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const sent: RecordedRequest[] = [];
    // Three isolates whose batches hold 1, 3 and 40 requests: pages of one entry (many rounds of
    // pages to read) and large ones, in time ranges that interleave. Half the requests fall in
    // the last minute on whole seconds, so many share their `at`; the rest spread over 3 days.
    for (const batchRequests of [1, 3, 40]) {
      const buffer = new UsageBuffer(() => env.DB, { ...DEFAULT_LIMITS, batchRequests });
      const ctx = collectingContext();
      for (let i = 0; i < 40; i++) {
        const at = random() < 0.5 ? now - Math.floor(random() * 60) * 1000 : now - Math.floor(random() * 3 * DAY);
        const limited = random() < 0.25;
        const r = recorded({ keyId: id, ownerId, at, outcome: limited ? "RATE_LIMITED" : "OK", status: limited ? 429 : 200 });
        sent.push(r);
        buffer.record(r, ctx);
      }
      expect(await buffer.flush()).toBe(true);
    }
    expect(await wholeLog(id, 7)).toEqual(newestFirst(sent));
    expect(await wholeLog(id, 100)).toEqual(newestFirst(sent));
    const limited = sent.filter((r) => r.outcome === "RATE_LIMITED");
    expect(limited.length).toBeGreaterThan(10);
    expect(await wholeLog(id, 4, "RATE_LIMITED")).toEqual(newestFirst(limited));
  });

  it("filters by outcome and shows each request's fields", async () => {
    const now = Date.now();
    const { id, sent } = await keyWithLog([
      { at: now - 2000, outcome: "RATE_LIMITED", status: 429 },
      { at: now - 1000 },
    ]);
    const { data } = await requestLog(id, "?outcome=RATE_LIMITED");
    expect(data).toEqual([
      {
        at: new Date(now - 2000).toISOString(),
        requestId: sent[0].requestId,
        method: "GET",
        path: "/echo",
        route: "echo",
        status: 429,
        outcome: "RATE_LIMITED",
        ip: "198.51.100.7",
        userAgent: "usage-test",
        country: null,
        gatewayMs: 1,
        upstreamMs: null,
      },
    ]);
    expect((await requestLog(id, "?outcome=OK")).data.map((e) => e.upstreamMs)).toEqual([3]);
    expect((await requestLog(id, "?outcome=KEY_REVOKED")).data).toEqual([]);
  });

  it("shows 7 days: older requests are gone even before the cleanup runs", async () => {
    const now = Date.now();
    const { id } = await keyWithLog([{ at: now - 8 * DAY }, { at: now - 6 * DAY }]);
    expect((await requestLog(id)).data.map((e) => e.at)).toEqual([new Date(now - 6 * DAY).toISOString()]);
  });

  it("refuses tampered cursors, another key's cursor, unknown outcomes and bad limits, naming the parameter", async () => {
    const now = Date.now();
    const first = await keyWithLog([{ at: now - 2000 }, { at: now - 1000 }]);
    const second = await keyWithLog([{ at: now - 2000 }, { at: now - 1000 }]);
    const { nextCursor } = await requestLog(first.id, "?limit=1");
    expect(nextCursor).toEqual(expect.any(String));
    const [payload, mac] = nextCursor!.split(".");
    const edited = `${payload.slice(0, -2)}${payload.at(-2) === "A" ? "B" : "A"}${payload.at(-1)}.${mac}`;
    for (const cursor of [edited, "garbage", `${payload}.${mac}x`]) {
      await refused(await admin(`/keys/${first.id}/requests?cursor=${encodeURIComponent(cursor)}`), "cursor");
    }
    await refused(await admin(`/keys/${second.id}/requests?cursor=${nextCursor}`), "cursor");
    await refused(await admin(`/keys/${first.id}/requests?outcome=NOPE`), "outcome");
    await refused(await admin(`/keys/${first.id}/requests?limit=0`), "limit");
    await refused(await admin(`/keys/${first.id}/requests?limit=101`), "limit");
  });

  it("needs admin:read", async () => {
    const { id } = await keyWithLog([{ at: Date.now() }]);
    const reader = await createKey({ scopes: ["admin:read"] });
    expect((await admin(`/keys/${id}/requests`, { token: reader.key })).status).toBe(200);
    const consumer = await createKey({ scopes: ["*"] });
    expect((await admin(`/keys/${id}/requests`, { token: consumer.key })).status).toBe(403);
    expect((await admin(`/keys/${id}/requests`, { token: "" })).status).toBe(401);
  });
});
