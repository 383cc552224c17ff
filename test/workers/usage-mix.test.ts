import { describe, expect, it } from "vitest";
import { call, createKey, uniqueOwner } from "./helpers";
import { unknownKey } from "./gateway-helpers";
import { drainUsage, family, group, keyUsage, requestLog, scrape, usage, valueOf } from "./usage-helpers";

const quiet = { p50: null, p95: null, p99: null };

/**
 * DESIGN.md's usage answers, end to end: a known mix of requests through the gateway, then
 * the usage routes (from D1), the request log and /admin/metrics report exactly that mix.
 */
describe("a known mix of requests, reported exactly", () => {
  it("per key, per owner, per route and status, in the request log and in /admin/metrics", async () => {
    const ownerA = uniqueOwner("mix-a");
    const ownerB = uniqueOwner("mix-b");
    const limited = await createKey({ ownerId: ownerA, scopes: ["posts:read"], ratelimits: [{ name: "minute", limit: 4, windowSeconds: 60 }] });
    const metered = await createKey({ ownerId: ownerA, credits: { remaining: 1 } });
    const other = await createKey({ ownerId: ownerB });

    await drainUsage();
    const before = await scrape();

    const sent: { key: string | null; path: string; init?: RequestInit; status: number }[] = [
      { key: limited.key, path: "/echo/a", status: 200 },
      { key: limited.key, path: "/echo/b?x=1", status: 200, init: { method: "POST", body: "hello", headers: { "Content-Length": "5" } } },
      { key: limited.key, path: "/echo/status/500", status: 500 }, // the origin fails: admitted, status 5xx
      { key: limited.key, path: "/slow", status: 504 }, // origin timeout (the route waits 300 ms)
      { key: limited.key, path: "/echo/c", status: 429 }, // the limit of 4 is spent
      { key: limited.key, path: "/echo/d", status: 429 },
      { key: limited.key, path: "/posts", status: 403, init: { method: "POST" } }, // needs posts:write
      { key: metered.key, path: "/echo", status: 200 }, // spends the only credit
      { key: metered.key, path: "/echo", status: 429 }, // quota exhausted
      { key: other.key, path: "/echo", status: 200 },
      { key: unknownKey(), path: "/echo/e", status: 401 }, // refused before any key is known
    ];
    const ids: Record<string, string[]> = {};
    for (const { key, path, init, status } of sent) {
      const headers = new Headers(init?.headers);
      headers.set("User-Agent", "mix-test/1.0");
      const res = await call(path, key, { ...init, headers });
      await res.arrayBuffer();
      expect(res.status, path).toBe(status);
      (ids[key ?? ""] ??= []).push(res.headers.get("X-Request-Id")!);
    }
    await drainUsage();

    // One key: every count DESIGN.md lists.
    const one = await keyUsage(limited.id);
    expect(one.source).toBe("d1");
    expect(one.totals).toMatchObject({
      requests: 7,
      allowed: 3,
      rateLimited: 2,
      quotaExhausted: 0,
      denied: 2,
      byOutcome: { OK: 3, RATE_LIMITED: 2, UPSTREAM_TIMEOUT: 1, INSUFFICIENT_SCOPE: 1 },
      status2xx: 2,
      status4xx: 3,
      status5xx: 2,
      creditsUsed: 0,
      requestBytes: 5,
    });
    expect(one.totals.responseBytes).toBeGreaterThan(0);
    const { gatewayMs, upstreamMs } = one.totals.latency;
    expect(gatewayMs.p50).not.toBeNull();
    expect(gatewayMs.p50!).toBeLessThanOrEqual(gatewayMs.p95!);
    expect(gatewayMs.p95!).toBeLessThanOrEqual(gatewayMs.p99!);
    // four requests reached the origin; the slowest waited the route's 300 ms timeout
    expect(upstreamMs.p99!).toBeGreaterThanOrEqual(500);
    expect(upstreamMs.p50!).toBeLessThanOrEqual(upstreamMs.p99!);
    // the hourly series holds the same requests, in the last hour or two (should the test cross an hour)
    const busy = one.series.filter((s) => s.requests > 0);
    expect(busy.length).toBeGreaterThanOrEqual(1);
    expect(busy.length).toBeLessThanOrEqual(2);
    expect(Date.now() - Date.parse(busy.at(-1)!.start)).toBeLessThan(2 * 3_600_000);
    for (const figure of ["requests", "allowed", "rateLimited", "denied", "status4xx", "status5xx"] as const) {
      expect(busy.reduce((n, s) => n + s[figure], 0), figure).toBe(one.totals[figure]);
    }

    const meteredUsage = await keyUsage(metered.id, "?granularity=day");
    expect(meteredUsage.totals).toMatchObject({ requests: 2, allowed: 1, quotaExhausted: 1, denied: 0, creditsUsed: 1, byOutcome: { OK: 1, QUOTA_EXHAUSTED: 1 } });
    expect(meteredUsage.series).toHaveLength(31);

    // One owner: their keys only, however grouped.
    const byOwner = await usage(`?ownerId=${ownerA}&groupBy=owner`);
    expect(byOwner.data.map((d) => d.group)).toEqual([ownerA]);
    expect(byOwner.totals).toMatchObject({ requests: 9, allowed: 4, rateLimited: 2, quotaExhausted: 1, denied: 2, creditsUsed: 1 });
    expect(group(byOwner, ownerA)).toEqual({ group: ownerA, ...byOwner.totals });

    const byKey = await usage(`?ownerId=${ownerA}&groupBy=key`);
    expect(byKey.data.map((d) => [d.group, d.requests])).toEqual([
      [limited.id, 7],
      [metered.id, 2],
    ]);
    const byRoute = await usage(`?ownerId=${ownerA}&groupBy=route`);
    expect(byRoute.data.map((d) => [d.group, d.requests, d.byOutcome])).toEqual([
      ["echo", 7, { OK: 4, QUOTA_EXHAUSTED: 1, RATE_LIMITED: 2 }],
      ["posts", 1, { INSUFFICIENT_SCOPE: 1 }],
      ["slow", 1, { UPSTREAM_TIMEOUT: 1 }],
    ]);
    expect(group(byRoute, "posts").latency.upstreamMs).toEqual(quiet);
    const byStatus = await usage(`?ownerId=${ownerA}&groupBy=status`);
    expect(Object.fromEntries(byStatus.data.map((d) => [d.group, d.requests]))).toEqual({ 200: 3, 403: 1, 429: 3, 500: 1, 504: 1 });

    const owners = await usage("?groupBy=owner");
    expect(group(owners, ownerB)).toMatchObject({ requests: 1, allowed: 1 });
    // The unknown key counts under its route, with no key and no owner.
    expect(group(await usage("?groupBy=key"), "anonymous").byOutcome.KEY_NOT_FOUND).toBeGreaterThanOrEqual(1);
    expect(group(owners, "").byOutcome.KEY_NOT_FOUND).toBeGreaterThanOrEqual(1);

    // The request log: each request of the key, newest first, with what identifies it.
    const log = await requestLog(limited.id);
    expect(log.data.map((e) => e.requestId).sort()).toEqual([...ids[limited.key]].sort());
    const times = log.data.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const entry = (path: string) => log.data.find((e) => e.path === path)!;
    expect(entry("/echo/b")).toMatchObject({
      method: "POST",
      route: "echo",
      status: 200,
      outcome: "OK",
      ip: "198.51.100.7",
      userAgent: "mix-test/1.0",
      country: null,
    });
    expect(entry("/echo/b").upstreamMs).toEqual(expect.any(Number));
    expect(entry("/echo/status/500")).toMatchObject({ status: 500, outcome: "OK" });
    expect(entry("/slow")).toMatchObject({ status: 504, outcome: "UPSTREAM_TIMEOUT" });
    expect(entry("/slow").upstreamMs).toBeGreaterThanOrEqual(300);
    expect(entry("/posts")).toMatchObject({ method: "POST", status: 403, outcome: "INSUFFICIENT_SCOPE", upstreamMs: null });
    const limitedOnly = await requestLog(limited.id, "?outcome=RATE_LIMITED");
    expect(limitedOnly.data.map((e) => e.path).sort()).toEqual(["/echo/c", "/echo/d"]);
    expect((await requestLog(metered.id)).data.map((e) => e.outcome).sort()).toEqual(["OK", "QUOTA_EXHAUSTED"]);

    // /admin/metrics: the same mix, as counters and histograms a Prometheus parser reads.
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
    const requests = (route: string, outcome: string, status_class: string) =>
      delta("keygate_requests_total", { route, outcome, status_class });
    expect({
      ok2xx: requests("echo", "OK", "2xx"),
      ok5xx: requests("echo", "OK", "5xx"),
      timeout: requests("slow", "UPSTREAM_TIMEOUT", "5xx"),
      rateLimited: requests("echo", "RATE_LIMITED", "4xx"),
      quota: requests("echo", "QUOTA_EXHAUSTED", "4xx"),
      scope: requests("posts", "INSUFFICIENT_SCOPE", "4xx"),
      unknown: requests("echo", "KEY_NOT_FOUND", "4xx"),
    }).toEqual({ ok2xx: 4, ok5xx: 1, timeout: 1, rateLimited: 2, quota: 1, scope: 1, unknown: 1 });
    const total = (families: typeof after) =>
      family(families, "keygate_requests_total").metrics.reduce((n, m) => n + Number(m.value), 0);
    expect(total(after) - total(before)).toBe(11);
    expect(delta("keygate_credits_used_total", { route: "echo" })).toBe(1);
    expect(delta("keygate_request_bytes_total", { route: "echo" })).toBe(5);

    const histogram = (families: typeof after, name: string) => family(families, name).metrics[0];
    const gateway = [before, after].map((f) => histogram(f, "keygate_gateway_duration_seconds"));
    expect(Number(gateway[1].count) - Number(gateway[0].count)).toBe(11);
    expect(Number(gateway[1].buckets!["+Inf"]) - Number(gateway[0].buckets!["+Inf"])).toBe(11);
    const upstream = [before, after].map((f) => histogram(f, "keygate_upstream_duration_seconds"));
    expect(Number(upstream[1].count) - Number(upstream[0].count)).toBe(6); // five admitted, one timed out
    // the timed-out request waited at least 300 ms, so it is not among those within 0.2 s
    expect(Number(upstream[1].buckets!["0.2"]) - Number(upstream[0].buckets!["0.2"])).toBeLessThanOrEqual(5);
    expect(Number(upstream[1].sum) - Number(upstream[0].sum)).toBeGreaterThanOrEqual(0.3);
  });
});
