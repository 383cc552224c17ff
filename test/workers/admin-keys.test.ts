import { describe, expect, it } from "vitest";
import { parseKey } from "../../src/keys/format";
import type { KeyRecord } from "../../src/keys/record";
import { admin, call, createKey, uniqueOwner } from "./helpers";
import { body, getRecord, isIso, KEY_ID, RECORD_FIELDS, sleep } from "./admin-helpers";

/** A record carries exactly the contract's fields, each of the contract's type. */
function expectRecordShape(record: Record<string, unknown>) {
  expect(Object.keys(record).sort()).toEqual([...RECORD_FIELDS].sort());
  expect(record.id).toMatch(KEY_ID);
  for (const field of ["name", "ownerId", "start"]) expect(typeof record[field], field).toBe("string");
  expect(["live", "test"]).toContain(record.environment);
  for (const field of ["scopes", "allowedIps", "ratelimits"]) expect(Array.isArray(record[field]), field).toBe(true);
  expect(typeof record.metadata).toBe("object");
  expect(Array.isArray(record.metadata)).toBe(false);
  expect(typeof record.enabled).toBe("boolean");
  expect(typeof record.imported).toBe("boolean");
  for (const field of ["expiresAt", "revokedAt", "lastUsedAt"]) {
    expect(record[field] === null || isIso(record[field]), field).toBe(true);
  }
  expect(record.rotatedFrom === null || KEY_ID.test(String(record.rotatedFrom))).toBe(true);
  expect(Number.isInteger(record.usageCount)).toBe(true);
  expect(Number.isInteger(record.version)).toBe(true);
  expect(isIso(record.createdAt)).toBe(true);
  expect(isIso(record.updatedAt)).toBe(true);
}

describe("POST /admin/keys", () => {
  it("answers 201 with the record and the key, once", async () => {
    const ownerId = uniqueOwner();
    const res = await admin("/keys", { method: "POST", json: { name: "Acme prod", ownerId } });
    const created = await body<KeyRecord & { key: string }>(res, 201);
    const { key, ...record } = created;
    expectRecordShape(record);
    expect(record).toMatchObject({
      name: "Acme prod",
      ownerId,
      environment: "live",
      scopes: [],
      metadata: {},
      allowedIps: [],
      ratelimits: [],
      credits: null,
      expiresAt: null,
      enabled: true,
      revokedAt: null,
      rotatedFrom: null,
      lastUsedAt: null,
      usageCount: 0,
      version: 1,
    });
    expect(record.createdAt).toBe(record.updatedAt);
    const parsed = parseKey(key);
    expect(parsed?.prefix).toBe("kg_live");
    expect(record.start).toBe(`kg_live_${key.slice("kg_live_".length, "kg_live_".length + 4)}`);
    expect(record.start).toBe(parsed?.start);
    expect(await getRecord(record.id)).toEqual(record);
    expect(JSON.stringify(await getRecord(record.id))).not.toContain(key);
  });

  it("stores every field it is given", async () => {
    const fields = {
      scopes: ["posts:read", "posts:*", "*:read"],
      metadata: { plan: "pro", nested: { seats: 3 } },
      allowedIps: ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"],
      ratelimits: [
        { name: "minute", limit: 100, windowSeconds: 60 },
        { name: "day", limit: 10_000, windowSeconds: 86_400 },
      ],
      credits: { remaining: 500, refill: { amount: 500, interval: "monthly", day: 1 } },
      enabled: false,
    };
    const created = await createKey(fields);
    expect(created).toMatchObject(fields);
    expect(await getRecord(created.id)).toMatchObject(fields);
  });

  it("gives environment test the kg_test prefix", async () => {
    const created = await createKey({ environment: "test" });
    expect(created.environment).toBe("test");
    expect(parseKey(created.key)?.prefix).toBe("kg_test");
    expect(created.start).toMatch(/^kg_test_[0-9A-Za-z]{4}$/);
  });

  it("uses a custom prefix, and the key still works at the gateway", async () => {
    const created = await createKey({ prefix: "acme_sk" });
    expect(created.key.startsWith("acme_sk_")).toBe(true);
    expect(created.start).toBe(`acme_sk_${created.key.slice(8, 12)}`);
    expect((await call("/echo/x", created.key)).status).toBe(200);
  });

  it("turns expiresIn into expiresAt", async () => {
    const before = Date.now();
    const created = await createKey({ expiresIn: 3600 });
    const after = Date.now();
    const expiresAt = Date.parse(created.expiresAt!);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiresAt).toBeLessThanOrEqual(after + 3_600_000);
  });

  it("takes an explicit expiresAt", async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    expect((await createKey({ expiresAt })).expiresAt).toBe(expiresAt);
  });
});

describe("GET /admin/keys/{id}", () => {
  it("answers the record without the key", async () => {
    const created = await createKey();
    const record = await getRecord(created.id);
    expectRecordShape(record as unknown as Record<string, unknown>);
    const { key: _key, ...expected } = created;
    expect(record).toEqual(expected);
  });
});

describe("PATCH /admin/keys/{id}", () => {
  const changes: [string, unknown][] = [
    ["name", "renamed"],
    ["scopes", ["posts:write"]],
    ["metadata", { tier: "gold" }],
    ["allowedIps", ["192.0.2.0/24"]],
    ["ratelimits", [{ name: "second", limit: 5, windowSeconds: 1 }]],
    ["credits", { remaining: 42, refill: { amount: 10, interval: "daily" } }],
    ["enabled", false],
  ];

  for (const [field, value] of changes) {
    it(`changes ${field}, bumps the version and updatedAt`, async () => {
      const created = await createKey({ credits: { remaining: 1, refill: null } });
      await sleep(5);
      const res = await admin(`/keys/${created.id}`, { method: "PATCH", json: { [field]: value } });
      const updated = await body<KeyRecord>(res, 200);
      expectRecordShape(updated as unknown as Record<string, unknown>);
      expect(updated[field as keyof KeyRecord]).toEqual(value);
      expect(updated.version).toBe(2);
      expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
      expect(updated.createdAt).toBe(created.createdAt);
      expect(await getRecord(created.id)).toEqual(updated);
    });
  }

  it("sets and clears expiresAt", async () => {
    const created = await createKey();
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    expect(await body<KeyRecord>(await admin(`/keys/${created.id}`, { method: "PATCH", json: { expiresAt } }), 200))
      .toMatchObject({ expiresAt, version: 2 });
    expect(await body<KeyRecord>(await admin(`/keys/${created.id}`, { method: "PATCH", json: { expiresAt: null } }), 200))
      .toMatchObject({ expiresAt: null, version: 3 });
  });

  it("changes several fields in one version", async () => {
    const created = await createKey();
    const updated = await body<KeyRecord>(
      await admin(`/keys/${created.id}`, { method: "PATCH", json: { name: "both", enabled: false } }),
      200,
    );
    expect(updated).toMatchObject({ name: "both", enabled: false, version: 2 });
  });

  it("leaves the record alone when nothing changes", async () => {
    const created = await createKey({ name: "same" });
    const res = await admin(`/keys/${created.id}`, { method: "PATCH", json: { name: "same" } });
    expect(await body<KeyRecord>(res, 200)).toMatchObject({ version: 1, updatedAt: created.updatedAt });
  });
});

describe("DELETE /admin/keys/{id}", () => {
  it("revokes, idempotently, and the key stops working", async () => {
    const created = await createKey();
    const first = await body<KeyRecord>(await admin(`/keys/${created.id}`, { method: "DELETE" }), 200);
    expect(isIso(first.revokedAt)).toBe(true);
    expect(first.version).toBe(2);
    const second = await body<KeyRecord>(await admin(`/keys/${created.id}`, { method: "DELETE" }), 200);
    expect(second).toEqual(first);
    expect(await getRecord(created.id)).toEqual(first);
    expect((await call("/echo/x", created.key)).status).toBe(401);
  });
});
