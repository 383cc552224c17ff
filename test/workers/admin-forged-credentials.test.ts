import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { admin, createKey } from "./helpers";
import { expectProblem, gatewayWith, unknownKey } from "./gateway-helpers";
import { CACHE } from "../../src/store/cache";
import { INVALID_KEYS } from "../../src/store/invalid-keys";

/**
 * DESIGN.md, "Admin API": an admin credential that matches nothing costs keygate no more than
 * an unknown consumer key does. Forged admin keys are well-formed keygate keys (the checksum is
 * public), so each would otherwise be one D1 read.
 */

const ipOf = (n: number) => `2001:db8:ad::${n.toString(16)}`;
const as = (ip: string, token: string) => ({ token, headers: { "CF-Connecting-IP": ip } });

/** The real D1, counting the statements it is asked to run: what a flood really costs. */
let statements = 0;
const counting = new Proxy(env.DB, {
  get: (target, property) => {
    const value = Reflect.get(target, property);
    if (property === "prepare") return (query: string) => (statements++, target.prepare(query));
    return typeof value === "function" ? value.bind(target) : value;
  },
});
const gateway = gatewayWith({ DB: counting });
/** An admin call from `ip` with `token`, through the counting D1. */
const adminAs = (ip: string, token: string) => gateway.call("/admin/keys?limit=1", token, { headers: { "CF-Connecting-IP": ip } });

const budget = { burst: CACHE.d1Burst, perSecond: CACHE.d1PerSecond };
afterEach(() => {
  CACHE.d1Burst = budget.burst;
  CACHE.d1PerSecond = budget.perSecond;
});

describe("forged admin credentials", () => {
  it("one client minting admin keys is stopped with TOO_MANY_INVALID_KEYS after a bounded number of D1 reads", async () => {
    CACHE.d1PerSecond = 1e9; // no rationing: only the per-client bound may stop the flood
    const reader = await createKey({ scopes: ["admin:read"] });
    const before = statements;
    const codes: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      const res = await adminAs(ipOf(1), unknownKey());
      const problem = await expectProblem(res, res.status, res.status === 401 ? "UNAUTHORIZED" : "TOO_MANY_INVALID_KEYS");
      codes[problem.code] = (codes[problem.code] ?? 0) + 1;
      if (res.status === 429) expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    }
    expect(codes).toEqual({ UNAUTHORIZED: INVALID_KEYS.perClient, TOO_MANY_INVALID_KEYS: 300 - INVALID_KEYS.perClient });
    expect(statements - before).toBe(INVALID_KEYS.perClient);
    // Other clients' credentials keep working, the admin token and admin keys alike.
    expect((await admin("/keys?limit=1", { headers: { "CF-Connecting-IP": ipOf(2) } })).status).toBe(200);
    expect((await admin("/keys?limit=1", as(ipOf(2), reader.key))).status).toBe(200);
  });

  it("the same forged admin key presented again costs no D1 read", async () => {
    const forged = unknownKey();
    await expectProblem(await adminAs(ipOf(3), forged), 401, "UNAUTHORIZED");
    const before = statements;
    for (let i = 0; i < 10; i++) await expectProblem(await adminAs(ipOf(3), forged), 401, "UNAUTHORIZED");
    expect(statements - before).toBe(0);
  });

  it("many clients minting admin keys share the isolate's D1 budget with the gateway; real admin keys keep working", async () => {
    CACHE.d1Burst = 20;
    CACHE.d1PerSecond = 5;
    const reader = await createKey({ scopes: ["admin:read"] });
    expect((await adminAs(ipOf(4), reader.key)).status).toBe(200);
    let reads = 0;
    const started = Date.now();
    const statuses: Record<number, number> = {};
    for (let i = 0; i < 150; i++) {
      const before = statements;
      const res = await adminAs(ipOf(5000 + i), unknownKey());
      reads += statements - before;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status === 503) await expectProblem(res, 503, "GATEWAY_UNAVAILABLE");
      if (i % 25 === 0) expect((await adminAs(ipOf(4), reader.key)).status).toBe(200);
    }
    const allowed = CACHE.d1Burst + Math.ceil(((Date.now() - started) / 1000) * CACHE.d1PerSecond) + 1;
    expect(reads).toBeLessThanOrEqual(allowed);
    expect(statuses[401]).toBeLessThanOrEqual(allowed);
    expect(statuses[503]).toBeGreaterThan(0);
    expect((statuses[401] ?? 0) + (statuses[503] ?? 0)).toBe(150);
  });

  it("a revoked admin key is refused on its next call, though it was just used", async () => {
    const writer = await createKey({ scopes: ["admin:write"] });
    expect((await admin("/keys?limit=1", as(ipOf(6), writer.key))).status).toBe(200);
    expect((await admin(`/keys/${writer.id}`, { method: "DELETE" })).status).toBe(200);
    await expectProblem(await admin("/keys?limit=1", as(ipOf(6), writer.key)), 401, "UNAUTHORIZED");
  });
});
