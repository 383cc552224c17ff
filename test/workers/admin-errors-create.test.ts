import { beforeAll, describe, expect, it } from "vitest";
import { admin, uniqueOwner, type Created } from "./helpers";
import { adminKey, auditBy, expectInvalid, keysOf } from "./admin-helpers";

const rl = (fields: Record<string, unknown> = {}) => ({ name: "minute", limit: 10, windowSeconds: 60, ...fields });
const past = new Date(Date.now() - 60_000).toISOString();
const future = new Date(Date.now() + 86_400_000).toISOString();

/** Bodies a client might send by mistake, and the field each problem must name. */
const BAD_BODIES: [string, Record<string, unknown>, string][] = [
  ["an empty name", { name: "" }, "name"],
  ["a name over 100 characters", { name: "n".repeat(101) }, "name"],
  ["a name that is not a string", { name: 42 }, "name"],
  ["an ownerId over 200 characters", { ownerId: "o".repeat(201) }, "ownerId"],
  ["an ownerId that is not a string", { ownerId: ["a"] }, "ownerId"],
  ["an unknown environment", { environment: "prod" }, "environment"],
  ["a prefix with capitals", { prefix: "Acme" }, "prefix"],
  ["a one-letter prefix", { prefix: "a" }, "prefix"],
  ["scopes that are not a list", { scopes: "posts:read" }, "scopes"],
  ["a scope without an action", { scopes: ["posts"] }, "scopes.0"],
  ["metadata that is a list", { metadata: [1, 2] }, "metadata"],
  ["metadata over 4 KiB", { metadata: { blob: "x".repeat(4096) } }, "metadata"],
  ["a CIDR with too many bits", { allowedIps: ["10.0.0.0/33"] }, "allowedIps.0"],
  ["an IPv6 CIDR with too many bits", { allowedIps: ["2001:db8::/129"] }, "allowedIps.0"],
  ["an address out of range", { allowedIps: ["300.1.2.3"] }, "allowedIps.0"],
  ["a hostname for an address", { allowedIps: ["example.com"] }, "allowedIps.0"],
  ["a zero limit", { ratelimits: [rl({ limit: 0 })] }, "ratelimits.0.limit"],
  ["a negative limit", { ratelimits: [rl({ limit: -5 })] }, "ratelimits.0.limit"],
  ["a fractional limit", { ratelimits: [rl({ limit: 1.5 })] }, "ratelimits.0.limit"],
  ["a limit given as text", { ratelimits: [rl({ limit: "10" })] }, "ratelimits.0.limit"],
  ["a zero window", { ratelimits: [rl({ windowSeconds: 0 })] }, "ratelimits.0.windowSeconds"],
  ["a window over 30 days", { ratelimits: [rl({ windowSeconds: 30 * 86_400 + 1 })] }, "ratelimits.0.windowSeconds"],
  ["a rate limit without a name", { ratelimits: [{ limit: 1, windowSeconds: 1 }] }, "ratelimits.0.name"],
  ["duplicate rate-limit names", { ratelimits: [rl(), rl({ limit: 5 })] }, "ratelimits"],
  ["11 rate limits", { ratelimits: Array.from({ length: 11 }, (_, i) => rl({ name: `r${i}` })) }, "ratelimits"],
  ["negative credits", { credits: { remaining: -1, refill: null } }, "credits.remaining"],
  ["an unknown refill interval", { credits: { remaining: 1, refill: { amount: 1, interval: "weekly" } } }, "credits.refill.interval"],
  ["a refill day of 32", { credits: { remaining: 1, refill: { amount: 1, interval: "monthly", day: 32 } } }, "credits.refill.day"],
  ["expiresAt in the past", { expiresAt: past }, "expiresAt"],
  ["expiresAt that is not a date", { expiresAt: "tomorrow" }, "expiresAt"],
  ["expiresAt and expiresIn together", { expiresAt: future, expiresIn: 60 }, "expiresIn"],
  ["a zero expiresIn", { expiresIn: 0 }, "expiresIn"],
  ["a negative expiresIn", { expiresIn: -60 }, "expiresIn"],
  ["a fractional expiresIn", { expiresIn: 1.5 }, "expiresIn"],
  ["enabled given as text", { enabled: "yes" }, "enabled"],
];

/** Fields a client may not set: unknown or server-owned. */
const UNKNOWN_FIELDS: [string, unknown][] = [
  ["colour", "blue"],
  ["hash", "0".repeat(64)],
  ["id", "key_01JD6T3W4Y8N2B5C7E9G1H3K5M"],
  ["version", 7],
  ["revokedAt", null],
];

describe("POST /admin/keys refuses bad bodies and changes nothing", () => {
  let operator: Created;
  let ownerId: string;
  beforeAll(async () => {
    operator = await adminKey(["admin:write"]);
    ownerId = uniqueOwner();
  });
  const post = (json: unknown) => admin("/keys", { method: "POST", json, token: operator.key });

  for (const [what, fields, path] of BAD_BODIES) {
    it(`refuses ${what}, naming ${path}`, async () => {
      await expectInvalid(await post({ name: "k", ownerId, ...fields }), path);
    });
  }

  for (const [field, value] of UNKNOWN_FIELDS) {
    it(`refuses the field ${field}, naming it`, async () => {
      const p = await expectInvalid(await post({ name: "k", ownerId, [field]: value }), "");
      expect(p.detail).toContain(field);
    });
  }

  it("accepts metadata of exactly 4 KiB", async () => {
    const other = uniqueOwner();
    const blob = "x".repeat(4096 - JSON.stringify({ blob: "" }).length);
    const res = await admin("/keys", { method: "POST", json: { name: "k", ownerId: other, metadata: { blob } } });
    expect(res.status, await res.text()).toBe(201);
  });

  it("names every problem at once", async () => {
    const p = await expectInvalid(await post({ name: "", ownerId: "", scopes: "x" }), "name");
    expect(p.issues!.map((i) => i.path)).toEqual(expect.arrayContaining(["name", "ownerId", "scopes"]));
  });

  it("left no key and no audit entry behind", async () => {
    expect(await keysOf(ownerId)).toEqual([]);
    expect(await auditBy(operator.id)).toEqual([]);
  });
});
