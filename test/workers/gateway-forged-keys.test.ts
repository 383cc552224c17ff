import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { createKey } from "./helpers";
import { expectProblem, gatewayWith, unknownKey } from "./gateway-helpers";
import { hashKey } from "../../src/keys/format";
import { CACHE, clearMemoryCache, memoryCacheStats } from "../../src/store/cache";
import { INVALID_KEYS } from "../../src/store/invalid-keys";

/**
 * Well-formed keys are free to mint (the checksum is public). DESIGN.md bounds what they cost
 * keygate: no KV write per forged key, a bounded number of D1 reads per isolate, negative
 * entries that cannot push real keys out, and TOO_MANY_INVALID_KEYS for a client that keeps
 * presenting them; keys of other clients keep working throughout.
 */

const gateway = gatewayWith({});
const ipOf = (n: number) => `2001:db8::${n.toString(16)}`;
const as = (ip: string) => ({ headers: { "CF-Connecting-IP": ip } });

const budget = { burst: CACHE.d1Burst, perSecond: CACHE.d1PerSecond };
afterEach(() => {
  CACHE.d1Burst = budget.burst;
  CACHE.d1PerSecond = budget.perSecond;
});

describe("forged keys", () => {
  it("an unknown key is never written to KV", async () => {
    const key = unknownKey();
    await expectProblem(await gateway.call("/echo", key, as(ipOf(1))), 401, "KEY_NOT_FOUND");
    expect(await env.KEY_CACHE.get(`key:${await hashKey(key)}`)).toBeNull();
  });

  it("the D1 reads a flood causes are bounded per isolate; keys already known keep working", async () => {
    const real = await createKey();
    expect((await gateway.call("/echo", real.key, as(ipOf(2)))).status).toBe(200);
    const before = memoryCacheStats().d1Lookups;
    const started = Date.now();
    const statuses: Record<number, number> = {};
    for (let i = 0; i < 150; i++) {
      const res = await gateway.call("/echo", unknownKey(), as(ipOf(1000 + i)));
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status === 503) {
        const problem = await expectProblem(res.clone(), 503, "GATEWAY_UNAVAILABLE");
        expect(problem.detail).toMatch(/busy/);
        expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
      }
      if (i % 25 === 0) expect((await gateway.call("/echo", real.key, as(ipOf(2)))).status).toBe(200);
    }
    const reads = memoryCacheStats().d1Lookups - before;
    const allowed = CACHE.d1Burst + Math.ceil(((Date.now() - started) / 1000) * CACHE.d1PerSecond) + 1;
    expect(reads).toBeLessThanOrEqual(allowed);
    expect(statuses[401]).toBe(reads);
    expect(statuses[503]).toBe(150 - reads);
    expect((await gateway.call("/echo", real.key, as(ipOf(2)))).status).toBe(200);
  });

  it("remembered unknown keys are answered without D1 and never take a real key's place in memory", async () => {
    CACHE.d1PerSecond = 1e9; // no rationing here: every unknown key is looked up and remembered
    const real = await createKey();
    expect((await gateway.call("/echo", real.key, as(ipOf(3)))).status).toBe(200);
    const known = memoryCacheStats();
    const keys = Array.from({ length: 120 }, () => unknownKey());
    for (const [i, key] of keys.entries()) await expectProblem(await gateway.call("/echo", key, as(ipOf(5000 + i))), 401, "KEY_NOT_FOUND");
    const after = memoryCacheStats();
    expect(after.entries).toBe(known.entries);
    expect(after.unknownEntries).toBeGreaterThanOrEqual(known.unknownEntries + 120);
    for (const [i, key] of keys.entries()) await expectProblem(await gateway.call("/echo", key, as(ipOf(9000 + i))), 401, "KEY_NOT_FOUND");
    expect(memoryCacheStats().d1Lookups).toBe(after.d1Lookups);
    await env.KEY_CACHE.delete(`key:${await hashKey(real.key)}`); // only memory can answer now
    expect((await gateway.call("/echo", real.key, as(ipOf(3)))).status).toBe(200);
    expect(memoryCacheStats().d1Lookups).toBe(after.d1Lookups);
  });

  it("a burst of concurrent unknown keys from one client costs at most the isolate's D1 budget, then the client is refused", async () => {
    const before = memoryCacheStats().d1Lookups;
    const started = Date.now();
    const client = ipOf(0xc0c);
    const answers = await Promise.all(Array.from({ length: 120 }, () => gateway.call("/echo", unknownKey(), as(client))));
    expect(answers.every((res) => res.status === 401 || res.status === 503)).toBe(true);
    const budget = CACHE.d1Burst + Math.ceil(((Date.now() - started) / 1000) * CACHE.d1PerSecond) + 1;
    expect(memoryCacheStats().d1Lookups - before).toBeLessThanOrEqual(budget);
    await expectProblem(await gateway.call("/echo", unknownKey(), as(client)), 429, "TOO_MANY_INVALID_KEYS");
  });

  it("a busy client's cold but valid keys, looked up concurrently, are all served", async () => {
    CACHE.d1PerSecond = 1e9;
    const client = ipOf(0xc1c);
    const keys = await Promise.all(Array.from({ length: 40 }, () => createKey()));
    clearMemoryCache();
    for (const { key } of keys) await env.KEY_CACHE.delete(`key:${await hashKey(key)}`);
    const answers = await Promise.all(keys.map(({ key }) => gateway.call("/echo", key, as(client))));
    expect(answers.map((res) => res.status)).toEqual(keys.map(() => 200));
  });

  it("TOO_MANY_INVALID_KEYS: a client past the limit is refused before any lookup; other clients are not", async () => {
    CACHE.d1PerSecond = 1e9;
    const attacker = ipOf(0xbad);
    const repeated = unknownKey();
    for (let i = 0; i < 3; i++) await expectProblem(await gateway.call("/echo", repeated, as(attacker)), 401, "KEY_NOT_FOUND");
    for (let i = 1; i < INVALID_KEYS.perClient; i++) {
      await expectProblem(await gateway.call("/echo", unknownKey(), as(attacker)), 401, "KEY_NOT_FOUND");
    }
    const lookups = memoryCacheStats().d1Lookups;
    const refused = await gateway.call("/echo", unknownKey(), as(attacker));
    const problem = await expectProblem(refused.clone(), 429, "TOO_MANY_INVALID_KEYS");
    expect(problem.detail).toMatch(/wait/);
    const retryAfter = Number(refused.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(INVALID_KEYS.windowMs / 1000);
    const real = await createKey();
    await expectProblem(await gateway.call("/echo", real.key, as(attacker)), 429, "TOO_MANY_INVALID_KEYS");
    expect(memoryCacheStats().d1Lookups).toBe(lookups);
    // Checked after the format: a malformed key is still MALFORMED_KEY, a missing one MISSING_KEY.
    await expectProblem(await gateway.call("/echo", `${real.key.slice(0, -1)}!`, as(attacker)), 401, "MALFORMED_KEY");
    await expectProblem(await gateway.call("/echo", null, as(attacker)), 401, "MISSING_KEY");
    // Everyone else is served as before.
    expect((await gateway.call("/echo", real.key, as(ipOf(0x600d)))).status).toBe(200);
    await expectProblem(await gateway.call("/echo", unknownKey(), as(ipOf(0x600e))), 401, "KEY_NOT_FOUND");
  });
});
