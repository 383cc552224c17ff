import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { generateKey } from "../../src/keys/format";
import { call, createKey, send, uniqueOwner } from "./helpers";
import { body, expectProblem, patch, revoke, sleep } from "./admin-helpers";
import { portal, signedIn } from "./portal-helpers";

/**
 * `GET /api/key` (DESIGN.md, "Key holders: the portal"): a consumer key asks about itself. Its
 * record without metadata, its limits and credits with what is left, and its owner's; it
 * charges nothing and moves no window, at most 60 calls a minute per key.
 */

interface KeySelf {
  key: Record<string, unknown>;
  limits: { name: string; limit: number; windowSeconds: number; remaining: number; reset: number }[];
  credits: { remaining: number; refill: unknown; refillIn: number | null } | null;
  owner: { ownerId: string; name: string | null; plan: string | null; limits: unknown[]; credits: unknown };
}

const self = (key: string | null, headers: Record<string, string> = {}) =>
  send("/portal/api/key", { headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), "CF-Connecting-IP": "198.51.100.7", ...headers } });

describe("GET /api/key", () => {
  it("answers the key's record without metadata, its limits and credits with what is left, and its owner", async () => {
    const ownerId = uniqueOwner();
    const key = await createKey({
      ownerId,
      metadata: { secretPlan: "gold" },
      ratelimits: [{ name: "minute", limit: 5, windowSeconds: 60 }],
      credits: { remaining: 100, refill: { amount: 100, interval: "daily" } },
    });
    for (let i = 0; i < 2; i++) expect((await call("/costly", key.key)).status).toBe(200);
    const answer = await body<KeySelf>(await self(key.key), 200);
    expect(answer.key).toMatchObject({ id: key.id, ownerId, name: key.name });
    expect(answer.key).not.toHaveProperty("metadata");
    expect(JSON.stringify(answer)).not.toContain("gold");
    expect(answer.limits).toEqual([{ name: "minute", limit: 5, windowSeconds: 60, remaining: 3, reset: expect.any(Number) }]);
    expect(answer.credits).toEqual({ remaining: 90, refill: { amount: 100, interval: "daily" }, refillIn: expect.any(Number) });
    expect((answer.key.credits as { remaining: number }).remaining).toBe(90);
    expect(answer.owner).toEqual({ ownerId, name: null, plan: null, limits: [], credits: null });
  });

  it("charges nothing and moves no window, however often it is asked", async () => {
    const key = await createKey({ ratelimits: [{ name: "minute", limit: 3, windowSeconds: 60 }], credits: { remaining: 10 } });
    expect((await call("/echo", key.key)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await self(key.key)).status).toBe(200);
    const answer = await body<KeySelf>(await self(key.key), 200);
    expect(answer.limits[0].remaining).toBe(2);
    expect(answer.credits!.remaining).toBe(9);
    // the gateway still admits exactly what was left
    expect((await call("/echo", key.key)).status).toBe(200);
    expect((await call("/echo", key.key)).status).toBe(200);
    await expectProblem(await call("/echo", key.key), 429, "RATE_LIMITED");
  });

  it("never creates the lineage's home: a key never used answers what its home would start from", async () => {
    const key = await createKey({ ratelimits: [{ name: "hour", limit: 50, windowSeconds: 3600 }], credits: { remaining: 7 } });
    const answer = await body<KeySelf>(await self(key.key), 200);
    expect(answer.limits[0]).toMatchObject({ remaining: 50, reset: 3600 });
    expect(answer.credits).toEqual({ remaining: 7, refill: null, refillIn: null });
    const row = await env.DB.prepare("SELECT has_state FROM lineages WHERE id = ?").bind(key.id).first<{ has_state: number }>();
    expect(row!.has_state).toBe(0);
  });

  it("answers a key at most 60 times a minute, then 429 RATE_LIMITED with Retry-After, naming the limit", async () => {
    // Start early in a minute, so the 61 calls fall in one.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await sleep(60_000 - intoMinute + 50);
    const key = await createKey();
    const other = await createKey();
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await self(key.key)).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const refused = await self(key.key);
    const p = (await expectProblem(refused, 429, "RATE_LIMITED")) as { limit?: string };
    expect(p.limit).toBe("portal.key");
    const retryAfter = Number(refused.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // another key is not touched, and the consumer path is not either
    expect((await self(other.key)).status).toBe(200);
    expect((await call("/echo", key.key)).status).toBe(200);
  });

  it("refuses as the gateway does: no key, a malformed, unknown, revoked or expired key; an address the key does not allow", async () => {
    await expectProblem(await self(null), 401, "MISSING_KEY");
    await expectProblem(await self("kg_live_nonsense"), 401, "MALFORMED_KEY");
    await expectProblem(await self(generateKey("kg_live")), 401, "KEY_NOT_FOUND");
    const revoked = await createKey();
    await revoke(revoked.id);
    await expectProblem(await self(revoked.key), 401, "KEY_REVOKED");
    const expiring = await createKey({ expiresIn: 1 });
    await sleep(1_100);
    await expectProblem(await self(expiring.key), 401, "KEY_EXPIRED");
    const fenced = await createKey({ allowedIps: ["203.0.113.0/24"] });
    await expectProblem(await self(fenced.key), 403, "IP_NOT_ALLOWED");
    expect((await self(fenced.key, { "CF-Connecting-IP": "203.0.113.9" })).status).toBe(200);
  });

  it("lets a disabled key see that it is disabled", async () => {
    const key = await createKey();
    await patch(key.id, { enabled: false });
    expect((await body<KeySelf>(await self(key.key), 200)).key.enabled).toBe(false);
  });

  it("takes the key, not a session: a portal session cookie alone is no key", async () => {
    const ownerId = uniqueOwner();
    await createKey({ ownerId });
    const cookie = await signedIn(ownerId);
    await expectProblem(await portal("/key", { cookie }), 401, "MISSING_KEY");
  });
});
