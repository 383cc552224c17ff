import { describe, expect, it } from "vitest";
import { generateKey } from "../../src/keys/format";
import { admin, call, createKey } from "./helpers";
import { body, expectInvalid, patch, revoke, sleep, verify, type VerifyResult } from "./admin-helpers";

const VERIFY_FIELDS = ["code", "credits", "keyId", "metadata", "ownerId", "ratelimits", "scopes", "valid"];

/** Turns the last character of the random part, so the checksum no longer matches. */
function tamper(key: string): string {
  const at = key.length - 7;
  return key.slice(0, at) + (key[at] === "A" ? "B" : "A") + key.slice(at + 1);
}

describe("POST /admin/keys/verify", () => {
  it("answers VALID with the key's identity, limits and credits", async () => {
    const created = await createKey({
      scopes: ["posts:read"],
      metadata: { plan: "pro" },
      ratelimits: [{ name: "minute", limit: 10, windowSeconds: 60 }],
      credits: { remaining: 5, refill: null },
    });
    const result = await verify({ key: created.key });
    expect(Object.keys(result).sort()).toEqual(VERIFY_FIELDS);
    expect(result).toMatchObject({
      valid: true,
      code: "VALID",
      keyId: created.id,
      ownerId: created.ownerId,
      scopes: ["posts:read"],
      metadata: { plan: "pro" },
      credits: { remaining: 5 },
    });
    expect(result.ratelimits).toMatchObject([{ name: "minute", limit: 10, windowSeconds: 60, remaining: 10 }]);
  });

  it("consumes neither rate limit nor credits", async () => {
    const created = await createKey({
      ratelimits: [{ name: "minute", limit: 1, windowSeconds: 60 }],
      credits: { remaining: 1, refill: null },
    });
    for (let i = 0; i < 3; i++) expect((await verify({ key: created.key })).code).toBe("VALID");
    expect((await call("/echo/x", created.key)).status).toBe(200);
    expect(await verify({ key: created.key })).toMatchObject({ valid: false, code: "RATE_LIMITED" });
  });

  it("answers MALFORMED_KEY for text that is not a key, or whose checksum is wrong", async () => {
    const created = await createKey();
    for (const key of ["hello", "kg_live_short", tamper(created.key), `${created.key}x`]) {
      const result = await verify({ key });
      expect(result).toMatchObject({ valid: false, code: "MALFORMED_KEY", keyId: null, ownerId: null });
    }
  });

  it("answers KEY_NOT_FOUND for a well-formed key nobody holds", async () => {
    const key = generateKey("kg_live");
    expect(await verify({ key })).toMatchObject({ valid: false, code: "KEY_NOT_FOUND", keyId: null, ownerId: null });
  });

  it("answers KEY_REVOKED, KEY_EXPIRED and KEY_DISABLED with the key's id", async () => {
    const revoked = await createKey();
    await revoke(revoked.id);
    const disabled = await createKey({ enabled: false });
    const expiring = await createKey({ expiresIn: 1 });
    await sleep(1100);
    expect(await verify({ key: revoked.key })).toMatchObject({ valid: false, code: "KEY_REVOKED", keyId: revoked.id });
    expect(await verify({ key: disabled.key })).toMatchObject({ valid: false, code: "KEY_DISABLED", keyId: disabled.id });
    expect(await verify({ key: expiring.key })).toMatchObject({ valid: false, code: "KEY_EXPIRED", keyId: expiring.id });
  });

  it("sees a PATCH at once", async () => {
    const created = await createKey();
    expect((await verify({ key: created.key })).code).toBe("VALID");
    expect((await patch(created.id, { enabled: false })).status).toBe(200);
    expect((await verify({ key: created.key })).code).toBe("KEY_DISABLED");
  });

  it("checks the scopes asked for, wildcards included, never granting admin", async () => {
    const reader = await createKey({ scopes: ["posts:read"] });
    const wild = await createKey({ scopes: ["posts:*", "*"] });
    const check = async (key: string, scopes: string[]) => (await verify({ key, scopes })).code;
    expect(await check(reader.key, ["posts:read"])).toBe("VALID");
    const refused: VerifyResult = await verify({ key: reader.key, scopes: ["posts:read", "posts:write"] });
    expect(refused).toMatchObject({ valid: false, code: "INSUFFICIENT_SCOPE", keyId: reader.id, scopes: ["posts:read"] });
    expect(await check(wild.key, ["posts:write", "users:delete"])).toBe("VALID");
    expect(await check(wild.key, ["admin:read"])).toBe("INSUFFICIENT_SCOPE");
  });

  it("a key refused only for its scopes still shows its limits and credits, as a valid one does", async () => {
    const created = await createKey({ scopes: ["posts:read"], ratelimits: [{ name: "minute", limit: 5, windowSeconds: 60 }], credits: { remaining: 7 } });
    const refused: VerifyResult = await verify({ key: created.key, scopes: ["posts:write"] });
    expect(refused).toMatchObject({ valid: false, code: "INSUFFICIENT_SCOPE", credits: { remaining: 7 } });
    expect(refused.ratelimits?.map((l) => [l.name, l.limit, l.remaining])).toEqual([["minute", 5, 5]]);
    // A dead key shows none: nothing of it can be spent.
    expect((await patch(created.id, { enabled: false })).status).toBe(200);
    expect(await verify({ key: created.key, scopes: ["posts:write"] })).toMatchObject({ code: "KEY_DISABLED", ratelimits: null, credits: null });
  });

  it("refuses a body without a key", async () => {
    await expectInvalid(await admin("/keys/verify", { method: "POST", json: {} }), "key");
    await expectInvalid(await admin("/keys/verify", { method: "POST", json: { key: 42 } }), "key");
    const res = await admin("/keys/verify", { method: "POST", json: { key: "x", scopes: "posts:read" } });
    await expectInvalid(res, "scopes");
  });

  it("answers in the contract's shape for refusals too", async () => {
    const res = await admin("/keys/verify", { method: "POST", json: { key: "nope" } });
    expect(Object.keys(await body<VerifyResult>(res, 200)).sort()).toEqual(VERIFY_FIELDS);
  });
});
