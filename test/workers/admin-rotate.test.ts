import { describe, expect, it } from "vitest";
import { parseKey } from "../../src/keys/format";
import type { KeyRecord } from "../../src/keys/record";
import { admin, call, createKey, uniqueOwner } from "./helpers";
import { auditOf, body, expectInvalid, expectProblem, getRecord, keysOf, revoke, rotate, verify } from "./admin-helpers";

type Created = KeyRecord & { key: string };

describe("POST /admin/keys/{id}/rotate", () => {
  it("answers 201 with a successor that works and names its predecessor", async () => {
    const old = await createKey({
      prefix: "acme_sk",
      scopes: ["posts:read"],
      metadata: { plan: "pro" },
      ratelimits: [{ name: "minute", limit: 100, windowSeconds: 60 }],
    });
    const next = await body<Created>(await rotate(old.id, { gracePeriodSeconds: 60 }), 201);
    expect(next.id).not.toBe(old.id);
    expect(next.key).not.toBe(old.key);
    expect(next.rotatedFrom).toBe(old.id);
    expect(parseKey(next.key)?.prefix).toBe("acme_sk");
    expect(next.start).toBe(parseKey(next.key)?.start);
    expect(next).toMatchObject({
      name: old.name,
      ownerId: old.ownerId,
      environment: old.environment,
      scopes: old.scopes,
      metadata: old.metadata,
      ratelimits: old.ratelimits,
      version: 1,
      revokedAt: null,
      usageCount: 0,
    });
    const { key: _key, ...record } = next;
    expect(await getRecord(next.id)).toEqual(record);
    expect((await call("/echo/x", next.key)).status).toBe(200);
    expect(await verify({ key: next.key })).toMatchObject({ valid: true, code: "VALID", keyId: next.id });
  });

  it("lets the old key work until now + grace", async () => {
    const old = await createKey();
    const before = Date.now();
    await body<Created>(await rotate(old.id, { gracePeriodSeconds: 3600 }), 201);
    const after = Date.now();
    const record = await getRecord(old.id);
    expect(record.version).toBe(2);
    const expiresAt = Date.parse(record.expiresAt!);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiresAt).toBeLessThanOrEqual(after + 3_600_000);
    expect((await call("/echo/x", old.key)).status).toBe(200);
  });

  it("ends the old key at once with no grace period, and then it fails KEY_EXPIRED", async () => {
    const old = await createKey();
    await body<Created>(await admin(`/keys/${old.id}/rotate`, { method: "POST" }), 201);
    expect(await verify({ key: old.key })).toMatchObject({ valid: false, code: "KEY_EXPIRED", keyId: old.id });
    await expectProblem(await call("/echo/x", old.key), 401, "KEY_EXPIRED");
  });

  it("never extends the old key past its own expiry", async () => {
    const old = await createKey({ expiresIn: 120 });
    await body<Created>(await rotate(old.id, { gracePeriodSeconds: 86_400 }), 201);
    expect((await getRecord(old.id)).expiresAt).toBe(old.expiresAt);
  });

  it("keeps the lineage's rate limits: rotating does not reset them", async () => {
    const old = await createKey({ ratelimits: [{ name: "minute", limit: 2, windowSeconds: 60 }] });
    expect((await call("/echo/x", old.key)).status).toBe(200);
    const next = await body<Created>(await rotate(old.id, { gracePeriodSeconds: 60 }), 201);
    expect((await call("/echo/x", next.key)).status).toBe(200);
    await expectProblem(await call("/echo/x", next.key), 429, "RATE_LIMITED");
  });

  it("refuses to rotate a revoked key with 409, creating nothing", async () => {
    const ownerId = uniqueOwner();
    const old = await createKey({ ownerId });
    const revoked = await body<KeyRecord>(await revoke(old.id), 200);
    const trail = await auditOf(old.id);
    const p = await expectProblem(await rotate(old.id, { gracePeriodSeconds: 60 }), 409, "CONFLICT");
    expect(p.detail).toMatch(/revoked/);
    expect(await getRecord(old.id)).toEqual(revoked);
    expect((await keysOf(ownerId)).map((k) => k.id)).toEqual([old.id]);
    expect(await auditOf(old.id)).toEqual(trail);
  });

  it("refuses to rotate an expired key with 409", async () => {
    const old = await createKey();
    await body<Created>(await rotate(old.id, { gracePeriodSeconds: 0 }), 201);
    await expectProblem(await rotate(old.id, { gracePeriodSeconds: 0 }), 409, "CONFLICT");
  });

  it("refuses a grace period outside 0..30 days, changing nothing", async () => {
    const ownerId = uniqueOwner();
    const old = await createKey({ ownerId });
    for (const gracePeriodSeconds of [-1, 30 * 86_400 + 1, 1.5, "60"]) {
      await expectInvalid(await rotate(old.id, { gracePeriodSeconds }), "gracePeriodSeconds");
    }
    await expectProblem(await rotate(old.id, { grace: 60 }), 400, "VALIDATION_FAILED");
    const { key: _key, ...record } = old;
    expect(await getRecord(old.id)).toEqual(record);
    expect((await keysOf(ownerId)).length).toBe(1);
    expect((await auditOf(old.id)).map((e) => e.action)).toEqual(["key.create"]);
  });

  it("answers 404 for an unknown key", async () => {
    await expectProblem(await rotate("key_00000000000000000000000000", {}), 404, "NOT_FOUND");
  });
});
