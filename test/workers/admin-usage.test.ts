import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, createKey, problem } from "./helpers";

const sqlApi = (env as unknown as { USAGE_SQL_URL: string }).USAGE_SQL_URL;

async function answerWith(rows: unknown[]) {
  await fetch(`${sqlApi}/fixture`, { method: "POST", body: JSON.stringify({ rows }) });
}
async function queries(): Promise<{ sql: string; authorization: string }[]> {
  return (await fetch(`${sqlApi}/log`)).json();
}

describe("usage", () => {
  it("gives one key's hourly series with empty hours filled and totals summed", async () => {
    const created = await createKey();
    await answerWith([
      { bucket: "2026-11-20 10:00:00", requests: 5, allowed: 4, rateLimited: 1, quotaExhausted: 0, denied: 0, creditsUsed: 4 },
      { bucket: "2026-11-20 12:00:00", requests: "3", allowed: "3", rateLimited: 0, quotaExhausted: 0, denied: 0, creditsUsed: 6 },
    ]);
    const res = await admin(`/keys/${created.id}/usage?from=2026-11-20T10:00:00Z&to=2026-11-20T13:00:00Z&granularity=hour`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { series: { start: string; requests: number }[]; totals: Record<string, number> };
    expect(body.series.map((p) => [p.start, p.requests])).toEqual([
      ["2026-11-20T10:00:00.000Z", 5],
      ["2026-11-20T11:00:00.000Z", 0],
      ["2026-11-20T12:00:00.000Z", 3],
    ]);
    expect(body.totals).toEqual({ requests: 8, allowed: 7, rateLimited: 1, quotaExhausted: 0, denied: 0, creditsUsed: 10 });

    const [query] = await queries();
    expect(query.authorization).toBe("Bearer test-analytics-token");
    expect(query.sql).toContain(`index1 = '${created.id}'`);
    expect(query.sql).toContain("FROM keygate_usage");
    expect(query.sql).toContain(`toDateTime(${Date.parse("2026-11-20T10:00:00Z") / 1000})`);
  });

  it("groups usage across keys by route, filtered by owner, with quotes escaped", async () => {
    await answerWith([
      { grp: "posts", requests: 10, allowed: 9, rateLimited: 0, quotaExhausted: 0, denied: 1, creditsUsed: 9 },
      { grp: "echo", requests: 2, allowed: 2, rateLimited: 0, quotaExhausted: 0, denied: 0, creditsUsed: 2 },
    ]);
    const owner = "o'reilly\\ OR 1=1 --";
    const res = await admin(`/usage?groupBy=route&ownerId=${encodeURIComponent(owner)}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { group: string; requests: number }[]; totals: { requests: number } };
    expect(body.data.map((d) => [d.group, d.requests])).toEqual([["posts", 10], ["echo", 2]]);
    expect(body.totals.requests).toBe(12);
    const [query] = await queries();
    expect(query.sql).toContain("blob3 AS grp");
    expect(query.sql).toContain(`blob1 = 'o\\'reilly\\\\ OR 1=1 --'`);
  });

  it("refuses bad ranges and unknown keys before querying", async () => {
    await answerWith([]);
    const created = await createKey();
    for (const query of ["from=2026-11-20T10:00:00Z&to=2026-11-20T09:00:00Z", "granularity=minute", "from=yesterday", "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"]) {
      const res = await admin(`/keys/${created.id}/usage?${query}`);
      expect(res.status, query).toBe(400);
      expect((await problem(res)).code).toBe("VALIDATION_FAILED");
    }
    expect((await admin(`/usage?groupBy=colour`)).status).toBe(400);
    const missing = await admin("/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M/usage");
    expect(missing.status).toBe(404);
    expect(await queries()).toEqual([]);
  });
});
