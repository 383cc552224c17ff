import { describe, expect, it } from "vitest";
import { call, createKey } from "./helpers";
import { echoed, expectProblem, sleep, statusCounts } from "./gateway-helpers";

const minute = (limit: number) => ({ name: "minute", limit, windowSeconds: 60 });

/** Parses `"name";r=1;t=2, ...` into `{ name: { r, t } }`. */
function items(header: string | null): Record<string, Record<string, number>> {
  expect(header).toBeTruthy();
  const out: Record<string, Record<string, number>> = {};
  for (const item of header!.split(",")) {
    const [name, ...params] = item.trim().split(";");
    out[JSON.parse(name)] = Object.fromEntries(params.map((p) => [p.split("=")[0], Number(p.split("=")[1])]));
  }
  return out;
}

describe("rate limits", () => {
  it("admits exactly the limit out of 50 concurrent requests", async () => {
    const { key } = await createKey({ ratelimits: [minute(10)] });
    const responses = await Promise.all(Array.from({ length: 50 }, () => call("/echo", key)));
    expect(statusCounts(responses)).toEqual({ 200: 10, 429: 40 });

    const admitted = responses.filter((r) => r.status === 200);
    const remaining = admitted.map((r) => items(r.headers.get("RateLimit")).minute.r).sort((a, b) => a - b);
    expect(remaining).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const res of responses) {
      expect(res.headers.get("RateLimit-Policy")).toBe('"minute";q=10;w=60');
      expect(res.headers.get("X-RateLimit-Limit")).toBe("10");
      expect(res.headers.get("X-Request-Id")).toMatch(/^req_/);
    }
    for (const res of responses.filter((r) => r.status === 429)) {
      const body = await expectProblem(res, 429, "RATE_LIMITED");
      expect(body.detail.length).toBeGreaterThan(0);
      expect(items(res.headers.get("RateLimit")).minute.r).toBe(0);
      expect(res.headers.get("X-RateLimit-Remaining")).toBe("0");
      const retry = Number(res.headers.get("Retry-After"));
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(60);
      expect(Number(res.headers.get("X-RateLimit-Reset"))).toBe(retry);
    }
    await Promise.all(admitted.map((r) => r.body?.cancel()));
  });

  it("puts the contract's headers on every proxied response", async () => {
    const { key } = await createKey({ ratelimits: [minute(10)] });
    const res = await call("/echo", key);
    await echoed(res.clone());
    expect(res.headers.get("RateLimit-Policy")).toBe('"minute";q=10;w=60');
    expect(res.headers.get("RateLimit")).toMatch(/^"minute";r=9;t=\d+$/);
    const t = items(res.headers.get("RateLimit")).minute.t;
    expect(t).toBeGreaterThanOrEqual(1);
    expect(t).toBeLessThanOrEqual(60);
    expect(res.headers.get("X-RateLimit-Limit")).toBe("10");
    expect(res.headers.get("X-RateLimit-Remaining")).toBe("9");
    expect(res.headers.get("X-RateLimit-Reset")).toBe(String(t));
  });

  it("a key without limits gets no rate-limit headers", async () => {
    const { key } = await createKey();
    const res = await call("/echo", key);
    expect(res.status).toBe(200);
    expect(res.headers.get("RateLimit-Policy")).toBeNull();
    expect(res.headers.get("X-RateLimit-Limit")).toBeNull();
  });

  it("enforces several named limits; X-RateLimit-* show the most constrained one", async () => {
    const { key } = await createKey({
      ratelimits: [{ name: "burst", limit: 3, windowSeconds: 2 }, minute(100)],
    });
    const first = await call("/echo", key);
    expect(first.status).toBe(200);
    expect(first.headers.get("RateLimit-Policy")).toBe('"burst";q=3;w=2, "minute";q=100;w=60');
    const state = items(first.headers.get("RateLimit"));
    expect([state.burst.r, state.minute.r]).toEqual([2, 99]);
    expect(first.headers.get("X-RateLimit-Limit")).toBe("3");
    expect(first.headers.get("X-RateLimit-Remaining")).toBe("2");
    expect(Number(first.headers.get("X-RateLimit-Reset"))).toBeLessThanOrEqual(2);

    expect((await call("/echo", key)).status).toBe(200);
    expect((await call("/echo", key)).status).toBe(200);
    const refused = await call("/echo", key);
    await expectProblem(refused.clone(), 429, "RATE_LIMITED");
    expect(Number(refused.headers.get("Retry-After"))).toBeLessThanOrEqual(2);
    expect(items(refused.headers.get("RateLimit")).minute.r).toBe(97);
    expect(refused.headers.get("RateLimit-Policy")).toBe('"burst";q=3;w=2, "minute";q=100;w=60');

    // The refused request counted against no limit: after the burst window, minute shows 4 used.
    await sleep(2100);
    const later = await call("/echo", key);
    expect(later.status).toBe(200);
    expect(items(later.headers.get("RateLimit"))).toMatchObject({ burst: { r: 2 }, minute: { r: 96 } });
  });

  it("limits per key: another key of the same owner is not affected", async () => {
    const a = await createKey({ ratelimits: [minute(1)] });
    const b = await createKey({ ownerId: a.ownerId, ratelimits: [minute(1)] });
    expect((await call("/echo", a.key)).status).toBe(200);
    await expectProblem(await call("/echo", a.key), 429, "RATE_LIMITED");
    expect((await call("/echo", b.key)).status).toBe(200);
  });
});
