import { beforeAll, describe, expect, it } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { admin, createKey, type Created } from "./helpers";
import { adminKey, auditBy, auditOf, expectInvalid, expectProblem, getRecord, revoke } from "./admin-helpers";

const rl = (fields: Record<string, unknown> = {}) => ({ name: "minute", limit: 10, windowSeconds: 60, ...fields });

/** PATCH bodies a client might send by mistake, and the field each problem must name. */
const BAD_PATCHES: [string, Record<string, unknown>, string][] = [
  ["an empty name", { name: "" }, "name"],
  ["a name over 100 characters", { name: "n".repeat(101) }, "name"],
  ["a name with a newline", { name: "a\nb" }, "name"],
  ["scopes that are not a list", { scopes: "posts:read" }, "scopes"],
  ["metadata over 4 KiB", { metadata: { blob: "x".repeat(4096) } }, "metadata"],
  ["metadata that is null", { metadata: null }, "metadata"],
  ["an invalid CIDR", { allowedIps: ["192.168.0.0/40"] }, "allowedIps.0"],
  ["a zero limit", { ratelimits: [rl({ limit: 0 })] }, "ratelimits.0.limit"],
  ["a window over 30 days", { ratelimits: [rl({ windowSeconds: 2_592_001 })] }, "ratelimits.0.windowSeconds"],
  ["duplicate rate-limit names", { ratelimits: [rl(), rl()] }, "ratelimits"],
  ["11 rate limits", { ratelimits: Array.from({ length: 11 }, (_, i) => rl({ name: `r${i}` })) }, "ratelimits"],
  ["credits without remaining", { credits: { refill: null } }, "credits.remaining"],
  ["expiresAt in the past", { expiresAt: "2020-01-01T00:00:00Z" }, "expiresAt"],
  ["expiresIn, which only creation takes", { expiresIn: 60 }, ""],
  ["enabled given as a number", { enabled: 0 }, "enabled"],
  ["a field that cannot change: ownerId", { ownerId: "someone-else" }, ""],
  ["a field that cannot change: environment", { environment: "test" }, ""],
  ["a field that cannot change: version", { version: 9 }, ""],
  ["an unknown field", { colour: "blue" }, ""],
];

describe("PATCH /admin/keys/{id} refuses bad changes and leaves the key as it was", () => {
  let operator: Created;
  let key: Created;
  let before: KeyRecord;
  beforeAll(async () => {
    operator = await adminKey(["admin:write"]);
    key = await createKey({ name: "steady", scopes: ["posts:read"], ratelimits: [rl()] });
    before = await getRecord(key.id);
  });

  for (const [what, fields, path] of BAD_PATCHES) {
    it(`refuses ${what}`, async () => {
      await expectInvalid(await admin(`/keys/${key.id}`, { method: "PATCH", json: fields, token: operator.key }), path);
    });
  }

  it("refuses a whole patch when one of its fields is bad", async () => {
    const res = await admin(`/keys/${key.id}`, {
      method: "PATCH",
      json: { name: "fine", scopes: ["bad scope"] },
      token: operator.key,
    });
    await expectInvalid(res, "scopes.0");
  });

  it("left the record, its version and the audit trail as they were", async () => {
    expect(await getRecord(key.id)).toEqual(before);
    expect(await auditBy(operator.id)).toEqual([]);
    expect((await auditOf(key.id)).map((e) => e.action)).toEqual(["key.create"]);
  });
});

describe("PATCH /admin/keys/{id} on a revoked key", () => {
  it("answers 409 CONFLICT and changes nothing", async () => {
    const key = await createKey();
    await revoke(key.id);
    const revoked = await getRecord(key.id);
    const p = await expectProblem(await admin(`/keys/${key.id}`, { method: "PATCH", json: { enabled: true } }), 409, "CONFLICT");
    expect(p.detail).toMatch(/revoked/);
    expect(await getRecord(key.id)).toEqual(revoked);
    expect((await auditOf(key.id)).map((e) => e.action)).toEqual(["key.revoke", "key.create"]);
  });
});
