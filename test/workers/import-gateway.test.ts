import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { admin, ADMIN_TOKEN, uniqueOwner } from "./helpers";
import { body, getRecord, type VerifyResult } from "./admin-helpers";
import { echoed, expectProblem } from "./gateway-helpers";
import { base64Hash, foreignKey, hexHash, importGateway, imported } from "./import-helpers";
import { hashKey, parseKey } from "../../src/keys/format";
import { CACHE, clearMemoryCache, memoryCacheStats } from "../../src/store/cache";
import { INVALID_KEYS } from "../../src/store/invalid-keys";

/**
 * DESIGN.md, "Key format": a presented key that starts with one of IMPORTED_KEY_PREFIXES skips
 * the checksum (check 2 then asks for 16 to 256 printable ASCII characters) and is looked up by
 * its hash like any other, under the same bound on unknown keys.
 */

const gateway = importGateway();
const ipOf = (n: number) => `2001:db8:1::${n.toString(16)}`;
const as = (ip: string) => ({ headers: { "CF-Connecting-IP": ip } });
const minute = (limit: number) => [{ name: "minute", limit, windowSeconds: 60 }];

const budget = { burst: CACHE.d1Burst, perSecond: CACHE.d1PerSecond };
afterEach(() => {
  CACHE.d1Burst = budget.burst;
  CACHE.d1PerSecond = budget.perSecond;
});

/** Imports keys for a fresh owner: the plaintext of each, imported by its plaintext, its hex hash or its base64 hash. */
async function importOne(how: "key" | "hex" | "base64", fields: Record<string, unknown> = {}, key = foreignKey()) {
  const given = how === "key" ? { key } : { hash: how === "hex" ? await hexHash(key) : await base64Hash(key) };
  const [result] = await imported(gateway, { keys: [{ name: `by ${how}`, ownerId: uniqueOwner("gw"), ...given, ...fields }] });
  expect(result.status, JSON.stringify(result)).toBe("created");
  return { key, id: result.id! };
}

describe("imported keys at the gateway", () => {
  for (const how of ["key", "hex", "base64"] as const) {
    it(`a key imported by its ${how === "key" ? "plaintext" : `${how} hash`} works, with its scopes and its rate limit`, async () => {
      const { key, id } = await importOne(how, { scopes: ["posts:read"], ratelimits: minute(2), metadata: { from: "legacy" } });
      const echo = await echoed(await gateway.call("/posts/1", key));
      expect(echo.headers["x-keygate-key-id"]).toBe(id);
      expect(echo.headers.authorization).toBeUndefined();
      expect((await gateway.call("/posts/2", key)).status).toBe(200);
      const refused = await gateway.call("/posts/3", key);
      await expectProblem(refused, 429, "RATE_LIMITED");
      expect(refused.headers.get("RateLimit-Policy")).toBe('"minute";q=2;w=60');
      await expectProblem(await gateway.call("/posts/1", key, { method: "POST" }), 403, "INSUFFICIENT_SCOPE");
    });
  }

  it("credits and revocation apply to imported keys as to any other", async () => {
    const { key, id } = await importOne("hex", { credits: { remaining: 1 } });
    expect((await gateway.call("/echo", key)).status).toBe(200);
    await expectProblem(await gateway.call("/echo", key), 429, "QUOTA_EXHAUSTED");
    expect((await admin(`/keys/${id}`, { method: "DELETE" })).status).toBe(200);
    await expectProblem(await gateway.call("/echo", key), 401, "KEY_REVOKED");
  });

  it("a key with an imported prefix that was never imported is KEY_NOT_FOUND; without its prefix in the var, MALFORMED_KEY", async () => {
    await expectProblem(await gateway.call("/echo", foreignKey(), as(ipOf(1))), 401, "KEY_NOT_FOUND");
    await expectProblem(await gateway.call("/echo", foreignKey("pk_live_"), as(ipOf(1))), 401, "MALFORMED_KEY");
    // 15 characters is too short, 16 is long enough (and unknown), 257 too long
    await expectProblem(await gateway.call("/echo", "sk_live_1234567", as(ipOf(1))), 401, "MALFORMED_KEY");
    await expectProblem(await gateway.call("/echo", "sk_live_12345678", as(ipOf(1))), 401, "KEY_NOT_FOUND");
    await expectProblem(await gateway.call("/echo", `sk_live_${"x".repeat(249)}`, as(ipOf(1))), 401, "MALFORMED_KEY");
    await expectProblem(await gateway.call("/echo", `sk_live_${"é".repeat(20)}`, as(ipOf(1))), 401, "MALFORMED_KEY");
    // an imported key is refused by a gateway whose config no longer lists its prefix
    const { key } = await importOne("key");
    await expectProblem(await importGateway({ IMPORTED_KEY_PREFIXES: '["bs_"]' } as Partial<Env>).call("/echo", key), 401, "MALFORMED_KEY");
    // keygate's own keys keep their checksum whatever the var says
    const own = (await body<{ key: string }>(await admin("/keys", { method: "POST", json: { name: "own", ownerId: uniqueOwner() } }), 201)).key;
    await expectProblem(await gateway.call("/echo", own.slice(0, -1) + (own.at(-1) === "0" ? "1" : "0")), 401, "MALFORMED_KEY");
    expect((await gateway.call("/echo", own)).status).toBe(200);
  });

  it("an unknown imported-format key costs what an unknown key costs: no KV write, the isolate's D1 budget, TOO_MANY_INVALID_KEYS", async () => {
    const stranger = foreignKey();
    await expectProblem(await gateway.call("/echo", stranger, as(ipOf(2))), 401, "KEY_NOT_FOUND");
    expect(await env.KEY_CACHE.get(`key:${await hashKey(stranger)}`)).toBeNull();

    const { key: real } = await importOne("key");
    const before = memoryCacheStats().d1Lookups;
    const started = Date.now();
    let refusedBusy = 0;
    for (let i = 0; i < 120; i++) {
      const res = await gateway.call("/echo", foreignKey(i % 2 ? "bs_" : "sk_live_"), as(ipOf(100 + i)));
      expect([401, 503]).toContain(res.status);
      if (res.status === 503) refusedBusy++;
      if (i % 30 === 0) expect((await gateway.call("/echo", real, as(ipOf(3)))).status).toBe(200);
    }
    const reads = memoryCacheStats().d1Lookups - before;
    expect(reads).toBeLessThanOrEqual(CACHE.d1Burst + Math.ceil(((Date.now() - started) / 1000) * CACHE.d1PerSecond) + 1);
    expect(refusedBusy).toBe(120 - reads);

    CACHE.d1PerSecond = 1e9;
    const attacker = ipOf(0xbad);
    for (let i = 0; i < INVALID_KEYS.perClient; i++) await expectProblem(await gateway.call("/echo", foreignKey(), as(attacker)), 401, "KEY_NOT_FOUND");
    const lookups = memoryCacheStats().d1Lookups;
    await expectProblem(await gateway.call("/echo", foreignKey("bs_"), as(attacker)), 429, "TOO_MANY_INVALID_KEYS");
    expect(memoryCacheStats().d1Lookups).toBe(lookups);
    expect((await gateway.call("/echo", real, as(ipOf(4)))).status).toBe(200);
  });

  it("imported keys are warmed into KV, so a cold isolate needs no rationed D1 read for them", async () => {
    const { key } = await importOne("base64");
    expect(await env.KEY_CACHE.get(`key:${await hashKey(key)}`)).not.toBeNull();
    clearMemoryCache();
    const lookups = memoryCacheStats().d1Lookups;
    expect((await gateway.call("/echo", key)).status).toBe(200);
    expect(memoryCacheStats().d1Lookups).toBe(lookups);
  });

  it("rotating an imported key issues a key in keygate's format; the imported one stops with the grace period", async () => {
    const { key, id } = await importOne("key", { environment: "test", ratelimits: minute(5) });
    const res = await gateway.call(`/admin/keys/${id}/rotate`, ADMIN_TOKEN, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ gracePeriodSeconds: 0 }),
    });
    const successor = (await res.json()) as { id: string; key: string; start: string; imported: boolean; ratelimits: unknown };
    expect(res.status).toBe(201);
    expect(parseKey(successor.key)?.prefix).toBe("kg_test");
    expect(successor).toMatchObject({ imported: false, start: parseKey(successor.key)!.start, ratelimits: minute(5) });
    expect((await getRecord(id)).imported).toBe(true);
    await expectProblem(await gateway.call("/echo", key), 401, "KEY_EXPIRED");
    expect((await gateway.call("/echo", successor.key)).status).toBe(200);
  });
});

describe("imported keys as admin credentials and in POST /admin/keys/verify", () => {
  const adminCall = (key: string, path: string, init: RequestInit = {}) => gateway.call(`/admin${path}`, key, init);

  it("an imported key holding admin:read or admin:write authenticates admin calls, with its role", async () => {
    const { key: reader } = await importOne("hex", { scopes: ["admin:read"] });
    const { key: writer, id: writerId } = await importOne("key", { scopes: ["admin:write"] });
    expect((await body<{ role: string }>(await adminCall(reader, "/whoami"), 200)).role).toBe("viewer");
    expect((await body<{ actor: string; role: string }>(await adminCall(writer, "/whoami"), 200))).toMatchObject({ actor: writerId, role: "admin" });
    const { key: plain } = await importOne("key");
    await expectProblem(await adminCall(plain, "/whoami"), 403, "FORBIDDEN");
  });

  it("an unknown imported-format credential is UNAUTHORIZED and counts toward TOO_MANY_INVALID_KEYS, as an unknown key does", async () => {
    CACHE.d1PerSecond = 1e9;
    const client = ipOf(0xadd);
    for (let i = 0; i < INVALID_KEYS.perClient; i++) {
      await expectProblem(await adminCall(foreignKey(), "/whoami", as(client)), 401, "UNAUTHORIZED");
    }
    await expectProblem(await adminCall(foreignKey(), "/whoami", as(client)), 429, "TOO_MANY_INVALID_KEYS");
  });

  it("verify treats imported keys as the gateway does", async () => {
    const verify = async (key: string) =>
      body<VerifyResult>(
        await gateway.call("/admin/keys/verify", ADMIN_TOKEN, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ key }) }),
        200,
      );
    const { key, id } = await importOne("base64", { ratelimits: minute(3) });
    expect(await verify(key)).toMatchObject({ valid: true, code: "VALID", keyId: id, ratelimits: [{ name: "minute", limit: 3, remaining: 3 }] });
    expect(await verify(foreignKey())).toMatchObject({ valid: false, code: "KEY_NOT_FOUND" });
    expect(await verify(foreignKey("pk_live_"))).toMatchObject({ valid: false, code: "MALFORMED_KEY" });
  });
});
