import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, admin, createKey, problem } from "./helpers";
import { gatewayWith } from "./gateway-helpers";

/**
 * The usage routes over the Analytics Engine SQL API: the real Node origin stands in for it
 * (test/support/origin.ts), records the SQL it receives and answers with rows set here.
 */
const sqlApi = `${env.UPSTREAM_URL}/ae-sql`;
const viaSqlApi = gatewayWith({ USAGE_SQL_URL: sqlApi, CF_API_TOKEN: "test-analytics-token" });
const adminViaSqlApi = (path: string) => viaSqlApi.call(`/admin${path}`, ADMIN_TOKEN);

async function answerWith(rows: unknown[]) {
  await fetch(`${sqlApi}/fixture`, { method: "POST", body: JSON.stringify({ rows }) });
}
async function queries(): Promise<{ sql: string; authorization: string }[]> {
  return (await fetch(`${sqlApi}/log`)).json();
}

/** A row of the SQL API's answer: one outcome and status, with latency buckets named like D1's columns. */
const row = (fields: Record<string, unknown>) => ({
  outcome: "OK",
  status: "200",
  requests: 0,
  credits_used: 0,
  request_bytes: 0,
  response_bytes: 0,
  gateway_ms_sum: 0,
  upstream_ms_sum: 0,
  ...fields,
});

const quiet = { p50: null, p95: null, p99: null };

describe("usage from the Analytics Engine SQL API (CF_ACCOUNT_ID and CF_API_TOKEN set)", () => {
  it("gives one key's hourly series with empty hours filled, every count, and latency from the buckets", async () => {
    const created = await createKey();
    await answerWith([
      row({ bucket: "2026-11-20 10:00:00", requests: 4, credits_used: 4, request_bytes: 40, response_bytes: 400, gw_ms_2: 4, up_ms_20: 3, up_ms_50: 1 }),
      row({ bucket: "2026-11-20 10:00:00", outcome: "RATE_LIMITED", status: "429", requests: 1, gw_ms_1: 1 }),
      row({ bucket: "2026-11-20 12:00:00", requests: "3", credits_used: "6", gw_ms_5: "3", up_ms_500: "3" }),
      row({ bucket: "2026-11-20 12:00:00", outcome: "UPSTREAM_TIMEOUT", status: "504", requests: 1, gw_ms_1: 1, up_ms_500: 1 }),
    ]);
    const res = await adminViaSqlApi(`/keys/${created.id}/usage?from=2026-11-20T10:00:00Z&to=2026-11-20T13:00:00Z&granularity=hour`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      source: string;
      series: { start: string; requests: number; byOutcome: Record<string, number> }[];
      totals: Record<string, unknown>;
    };
    expect(body.source).toBe("analytics-engine");
    expect(body.series.map((p) => [p.start, p.requests, p.byOutcome])).toEqual([
      ["2026-11-20T10:00:00.000Z", 5, { OK: 4, RATE_LIMITED: 1 }],
      ["2026-11-20T11:00:00.000Z", 0, {}],
      ["2026-11-20T12:00:00.000Z", 4, { OK: 3, UPSTREAM_TIMEOUT: 1 }],
    ]);
    expect(body.totals).toEqual({
      requests: 9,
      allowed: 7,
      rateLimited: 1,
      quotaExhausted: 0,
      denied: 1,
      byOutcome: { OK: 7, RATE_LIMITED: 1, UPSTREAM_TIMEOUT: 1 },
      status2xx: 7,
      status4xx: 1,
      status5xx: 1,
      creditsUsed: 10,
      requestBytes: 40,
      responseBytes: 400,
      // gateway: 2 in (0,1], 4 in (1,2], 3 in (2,5]; upstream: 3 in (10,20], 1 in (20,50], 4 in (200,500]
      latency: { gatewayMs: { p50: 2, p95: 5, p99: 5 }, upstreamMs: { p50: 50, p95: 500, p99: 500 } },
    });

    const [query] = await queries();
    expect(query.authorization).toBe("Bearer test-analytics-token");
    expect(query.sql).toContain(`index1 = '${created.id}'`);
    expect(query.sql).toContain("FROM keygate_usage");
    expect(query.sql).toContain(`toDateTime(${Date.parse("2026-11-20T10:00:00Z") / 1000})`);
    expect(query.sql).toContain(`toDateTime(${Date.parse("2026-11-20T13:00:00Z") / 1000})`);
    expect(query.sql).toContain("GROUP BY bucket, outcome, status");
    expect(query.sql).toContain("SUM(_sample_interval * double6) AS credits_used");
    expect(query.sql).toContain("sumIf(_sample_interval, double2 > 1 AND double2 <= 2) AS gw_ms_2");
    expect(query.sql).toContain(
      "sumIf(_sample_interval, blob5 IN ('OK', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT') AND double3 > 300000) AS up_ms_inf",
    );
  });

  it("groups usage across keys by route, filtered by owner, with quotes escaped", async () => {
    await answerWith([
      row({ grp: "posts", requests: 9, credits_used: 9 }),
      row({ grp: "posts", outcome: "INSUFFICIENT_SCOPE", status: "403", requests: 1 }),
      row({ grp: "echo", requests: 2, credits_used: 2 }),
    ]);
    const owner = "o'reilly\\ OR 1=1 --";
    const res = await adminViaSqlApi(`/usage?groupBy=route&ownerId=${encodeURIComponent(owner)}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      ownerId: string;
      data: { group: string; requests: number; denied: number; latency: unknown }[];
      totals: { requests: number; denied: number };
    };
    expect(body.ownerId).toBe(owner);
    expect(body.data.map((d) => [d.group, d.requests, d.denied])).toEqual([
      ["posts", 10, 1],
      ["echo", 2, 0],
    ]);
    expect(body.data[0].latency).toEqual({ gatewayMs: quiet, upstreamMs: quiet });
    expect(body.totals).toMatchObject({ requests: 12, denied: 1 });
    const [query] = await queries();
    expect(query.sql).toContain("blob3 AS grp");
    expect(query.sql).toContain(`blob1 = 'o\\'reilly\\\\ OR 1=1 --'`);
  });

  it("groups by owner on blob1", async () => {
    await answerWith([row({ grp: "acct_1", requests: 3 })]);
    const res = await adminViaSqlApi("/usage?groupBy=owner");
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { group: string }[] }).data.map((d) => d.group)).toEqual(["acct_1"]);
    expect((await queries())[0].sql).toContain("blob1 AS grp");
  });

  it("refuses bad ranges and unknown keys before querying", async () => {
    await answerWith([]);
    const created = await createKey();
    for (const query of ["from=2026-11-20T10:00:00Z&to=2026-11-20T09:00:00Z", "granularity=minute", "from=yesterday", "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"]) {
      const res = await adminViaSqlApi(`/keys/${created.id}/usage?${query}`);
      expect(res.status, query).toBe(400);
      expect((await problem(res)).code).toBe("VALIDATION_FAILED");
    }
    expect((await adminViaSqlApi(`/usage?groupBy=colour`)).status).toBe(400);
    const missing = await adminViaSqlApi("/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M/usage");
    expect(missing.status).toBe(404);
    expect(await queries()).toEqual([]);
  });

  it("never reports a negative figure, whatever the SQL API answers", async () => {
    await answerWith([row({ grp: "echo", requests: -4, credits_used: -1, gw_ms_1: -4, up_ms_5: -2 }), row({ grp: "echo", requests: 1, gw_ms_1: 1 })]);
    const res = await adminViaSqlApi("/usage?groupBy=route");
    const body = (await res.json()) as { totals: { requests: number; creditsUsed: number; latency: unknown } };
    expect(body.totals).toMatchObject({ requests: 1, creditsUsed: 0 });
    expect(body.totals.latency).toEqual({ gatewayMs: { p50: 1, p95: 1, p99: 1 }, upstreamMs: quiet });
  });

  it("an SQL API that fails is 503 USAGE_UNAVAILABLE, never a 500", async () => {
    const broken = gatewayWith({ USAGE_SQL_URL: "http://127.0.0.1:9/ae-sql", CF_API_TOKEN: "t" });
    const res = await broken.call("/admin/usage", ADMIN_TOKEN);
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("5");
    expect((await problem(res)).code).toBe("USAGE_UNAVAILABLE");
  });
});

describe("bad input to the usage routes", () => {
  /** A 400 VALIDATION_FAILED whose detail and issues name `parameter`. */
  async function refused(path: string, parameter: string) {
    const res = await admin(path);
    expect(res.status, path).toBe(400);
    const body = (await problem(res)) as unknown as { code: string; detail: string; issues: { path: string }[] };
    expect(body.code).toBe("VALIDATION_FAILED");
    expect(body.detail, path).toContain(parameter);
    expect(body.issues.map((i) => i.path), path).toContain(parameter);
  }

  it("names the parameter: order and length of the range, malformed dates, unknown groupBy and granularity", async () => {
    const { id } = await createKey();
    await refused(`/keys/${id}/usage?from=2026-11-20T10:00:00Z&to=2026-11-20T09:00:00Z`, "from");
    await refused(`/keys/${id}/usage?from=2026-11-20T10:00:00Z&to=2026-11-20T10:00:00Z`, "from");
    await refused(`/keys/${id}/usage?from=2026-01-01T00:00:00Z&to=2026-04-02T00:00:01Z`, "from");
    await refused(`/keys/${id}/usage?from=2026-13-01T00:00:00Z`, "from");
    await refused(`/keys/${id}/usage?to=tomorrow`, "to");
    await refused(`/keys/${id}/usage?granularity=week`, "granularity");
    await refused(`/usage?groupBy=colour`, "groupBy");
    await refused(`/usage?from=2026-11-20T10:00:00Z&to=2026-11-19T10:00:00Z`, "from");
    await refused(`/usage?ownerId=${encodeURIComponent("tab\there")}`, "ownerId");
  });

  it("90 days is allowed; an unknown key is 404 on both per-key routes", async () => {
    const { id } = await createKey();
    expect((await admin(`/keys/${id}/usage?from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z&granularity=day`)).status).toBe(200);
    for (const path of ["/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M/usage", "/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M/requests", "/keys/nonsense/requests"]) {
      const res = await admin(path);
      expect(res.status, path).toBe(404);
      expect((await problem(res)).code).toBe("NOT_FOUND");
    }
  });
});
