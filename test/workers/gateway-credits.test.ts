import { describe, expect, it } from "vitest";
import { call, createKey } from "./helpers";
import { expectProblem, getRecord, rotateKey, statusCounts } from "./gateway-helpers";

const remaining = async (id: string) => (await getRecord(id)).credits?.remaining;

describe("credits", () => {
  it("charges each request the route's cost: /costly 5, /echo 1, /free 0", async () => {
    const { id, key } = await createKey({ credits: { remaining: 12 } });
    expect((await call("/costly", key)).status).toBe(200);
    expect(await remaining(id)).toBe(7);
    expect((await call("/free", key)).status).toBe(200);
    expect(await remaining(id)).toBe(7);
    expect((await call("/echo", key)).status).toBe(200);
    expect(await remaining(id)).toBe(6);
    expect((await call("/costly", key)).status).toBe(200);
    expect(await remaining(id)).toBe(1);
  });

  it("QUOTA_EXHAUSTED when the balance is below the route's cost; cheaper routes still pass", async () => {
    const { id, key } = await createKey({ credits: { remaining: 6 } });
    expect((await call("/costly", key)).status).toBe(200);
    const res = await call("/costly", key);
    const body = await expectProblem(res, 429, "QUOTA_EXHAUSTED");
    expect(body.detail).toContain("1");
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await remaining(id)).toBe(1);
    expect((await call("/echo", key)).status).toBe(200);
    await expectProblem(await call("/echo", key), 429, "QUOTA_EXHAUSTED");
    expect((await call("/free", key)).status).toBe(200);
    expect(await remaining(id)).toBe(0);
  });

  it("Retry-After on QUOTA_EXHAUSTED is the time to the next refill", async () => {
    const { key } = await createKey({ credits: { remaining: 0, refill: { amount: 10, interval: "daily" } } });
    const res = await call("/echo", key);
    await expectProblem(res.clone(), 429, "QUOTA_EXHAUSTED");
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    const expected = Math.ceil((midnight - Date.now()) / 1000);
    expect(Math.abs(Number(res.headers.get("Retry-After")) - expected)).toBeLessThanOrEqual(2);
  });

  it("a 429 for credits carries the rate-limit headers too", async () => {
    const { key } = await createKey({ credits: { remaining: 1 }, ratelimits: [{ name: "minute", limit: 10, windowSeconds: 60 }] });
    expect((await call("/echo", key)).status).toBe(200);
    const res = await call("/echo", key);
    await expectProblem(res.clone(), 429, "QUOTA_EXHAUSTED");
    expect(res.headers.get("RateLimit-Policy")).toBe('"minute";q=10;w=60');
    expect(res.headers.get("RateLimit")).toMatch(/^"minute";r=9;t=\d+$/);
    expect(res.headers.get("X-RateLimit-Remaining")).toBe("9");
  });

  it("a rate-limited request consumes no credits", async () => {
    const { id, key } = await createKey({ credits: { remaining: 10 }, ratelimits: [{ name: "minute", limit: 2, windowSeconds: 60 }] });
    for (let i = 0; i < 2; i++) expect((await call("/costly", key)).status).toBe(200);
    for (let i = 0; i < 3; i++) await expectProblem(await call("/costly", key), 429, "RATE_LIMITED");
    expect(await remaining(id)).toBe(0);
    const fresh = await createKey({ credits: { remaining: 10 }, ratelimits: [{ name: "minute", limit: 1, windowSeconds: 60 }] });
    expect((await call("/echo", fresh.key)).status).toBe(200);
    await expectProblem(await call("/costly", fresh.key), 429, "RATE_LIMITED");
    expect(await remaining(fresh.id)).toBe(9);
  });

  it("100 concurrent charges never take the balance below zero", async () => {
    const { id, key } = await createKey({ credits: { remaining: 30 } });
    const responses = await Promise.all(Array.from({ length: 100 }, () => call("/echo", key)));
    expect(statusCounts(responses)).toEqual({ 200: 30, 429: 70 });
    for (const res of responses.filter((r) => r.status === 429)) await expectProblem(res, 429, "QUOTA_EXHAUSTED");
    await Promise.all(responses.filter((r) => r.status === 200).map((r) => r.body?.cancel()));
    expect(await remaining(id)).toBe(0);
  });
});

describe("rotation keeps the lineage's limits and credits", () => {
  it("the successor continues the old key's balance", async () => {
    const old = await createKey({ credits: { remaining: 4 } });
    expect((await call("/echo", old.key)).status).toBe(200);
    expect((await call("/echo", old.key)).status).toBe(200);
    const successor = await rotateKey(old.id, 60);
    expect(await remaining(successor.id)).toBe(2);
    expect((await call("/echo", successor.key)).status).toBe(200);
    expect((await call("/echo", old.key)).status).toBe(200);
    await expectProblem(await call("/echo", successor.key), 429, "QUOTA_EXHAUSTED");
    await expectProblem(await call("/echo", old.key), 429, "QUOTA_EXHAUSTED");
  });

  it("the successor continues the old key's rate-limit window", async () => {
    const old = await createKey({ ratelimits: [{ name: "minute", limit: 3, windowSeconds: 60 }] });
    expect((await call("/echo", old.key)).status).toBe(200);
    expect((await call("/echo", old.key)).status).toBe(200);
    const successor = await rotateKey(old.id, 60);
    const res = await call("/echo", successor.key);
    expect(res.status).toBe(200);
    expect(res.headers.get("X-RateLimit-Remaining")).toBe("0");
    await expectProblem(await call("/echo", successor.key), 429, "RATE_LIMITED");
    await expectProblem(await call("/echo", old.key), 429, "RATE_LIMITED");
  });
});
