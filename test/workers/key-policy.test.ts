import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, uniqueOwner } from "./helpers";
import { expectProblem, gatewayWith } from "./gateway-helpers";
import type { KeyRecord } from "../../src/keys/record";

/**
 * DESIGN.md, "Lifecycle rules": KEY_POLICY. With requireExpiry, a key created or rotated
 * without an expiry gets maxLifetimeDays; a longer lifetime is 400 VALIDATION_FAILED naming
 * the rule. Test keys follow their own rule (none here).
 */

const DAY = 86_400_000;
const POLICY = { live: { maxLifetimeDays: 30, requireExpiry: true }, test: { maxLifetimeDays: 90 } };
const { call } = gatewayWith({ KEY_POLICY: JSON.stringify(POLICY) });

const adminCall = (path: string, method: string, json?: unknown) =>
  call(`/admin${path}`, ADMIN_TOKEN, { method, ...(json === undefined ? {} : { headers: { "Content-Type": "application/json" }, body: JSON.stringify(json) }) });

async function create(fields: Record<string, unknown>) {
  return adminCall("/keys", "POST", { name: "policy", ownerId: uniqueOwner(), ...fields });
}

const lifetime = (record: KeyRecord) => Date.parse(record.expiresAt!) - Date.parse(record.createdAt);

describe("KEY_POLICY", () => {
  it("a live key created without an expiry gets maxLifetimeDays", async () => {
    const res = await create({});
    expect(res.status).toBe(201);
    const record = (await res.json()) as KeyRecord;
    expect(lifetime(record)).toBe(30 * DAY);
  });

  it("a live key may ask for a shorter life, not a longer one: 400 naming the rule", async () => {
    const short = (await (await create({ expiresIn: 7 * 86_400 })).json()) as KeyRecord;
    expect(lifetime(short)).toBe(7 * DAY);
    const problem = await expectProblem(await create({ expiresIn: 31 * 86_400 }), 400, "VALIDATION_FAILED");
    expect(problem.detail).toContain("KEY_POLICY.live.maxLifetimeDays");
    const at = new Date(Date.now() + 40 * DAY).toISOString();
    expect((await expectProblem(await create({ expiresAt: at }), 400, "VALIDATION_FAILED")).detail).toContain("KEY_POLICY.live.maxLifetimeDays");
  });

  it("a test key follows the test rule: no expiry needed, at most 90 days", async () => {
    const open = (await (await create({ environment: "test" })).json()) as KeyRecord;
    expect(open.expiresAt).toBeNull();
    const problem = await expectProblem(await create({ environment: "test", expiresIn: 91 * 86_400 }), 400, "VALIDATION_FAILED");
    expect(problem.detail).toContain("KEY_POLICY.test.maxLifetimeDays");
  });

  it("a rotation's new key gets an expiry within maxLifetimeDays of the rotation", async () => {
    // made before the policy: no expiry at all
    const { call: unrestricted } = gatewayWith({});
    const made = await unrestricted("/admin/keys", ADMIN_TOKEN, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "old", ownerId: uniqueOwner() }),
    });
    const old = (await made.json()) as KeyRecord;
    expect(old.expiresAt).toBeNull();
    const res = await adminCall(`/keys/${old.id}/rotate`, "POST", { gracePeriodSeconds: 0 });
    expect(res.status).toBe(201);
    const successor = (await res.json()) as KeyRecord;
    expect(lifetime(successor)).toBe(30 * DAY);
  });

  it("PATCH may not remove a required expiry, nor move it past maxLifetimeDays after creation", async () => {
    const record = (await (await create({ expiresIn: 86_400 })).json()) as KeyRecord;
    const removed = await expectProblem(await adminCall(`/keys/${record.id}`, "PATCH", { expiresAt: null }), 400, "VALIDATION_FAILED");
    expect(removed.detail).toContain("KEY_POLICY.live.requireExpiry");
    const later = new Date(Date.parse(record.createdAt) + 31 * DAY).toISOString();
    const moved = await expectProblem(await adminCall(`/keys/${record.id}`, "PATCH", { expiresAt: later }), 400, "VALIDATION_FAILED");
    expect(moved.detail).toContain("KEY_POLICY.live.maxLifetimeDays");
    const within = new Date(Date.parse(record.createdAt) + 20 * DAY).toISOString();
    const ok = await adminCall(`/keys/${record.id}`, "PATCH", { expiresAt: within });
    expect(ok.status).toBe(200);
  });

  it("a policy that requires an expiry but gives no lifetime is CONFIG_INVALID", async () => {
    const { call: broken } = gatewayWith({ KEY_POLICY: JSON.stringify({ live: { requireExpiry: true } }) });
    const problem = await expectProblem(await broken("/admin/keys", ADMIN_TOKEN), 500, "CONFIG_INVALID");
    expect(problem.detail).toContain("KEY_POLICY");
  });
});
