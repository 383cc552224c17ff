import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { admin, createKey, uniqueOwner, type Created } from "./helpers";
import { adminKey, auditBy, auditOf, body, expectProblem, getRecord, keysOf, patch, revoke, sleep, type Page } from "./admin-helpers";

/** MAX_KEYS_PER_OWNER as wrangler.toml sets it for these tests (the contract's default). */
const MAX = 100;

async function fill(ownerId: string, count: number): Promise<Created[]> {
  const created: Created[] = [];
  for (let i = 0; i < count; i += 20) {
    const batch = Array.from({ length: Math.min(20, count - i) }, (_, j) => createKey({ ownerId, name: `k${i + j}` }));
    created.push(...(await Promise.all(batch)));
  }
  return created;
}

const post = (ownerId: string, token?: string) => admin("/keys", { method: "POST", json: { name: "one more", ownerId }, token });

describe("MAX_KEYS_PER_OWNER", () => {
  it("allows 100 active keys per owner, refuses the 101st with 409 and frees a slot on revoke", async () => {
    const ownerId = uniqueOwner();
    const operator = await adminKey(["admin:write"]);
    const created = await fill(ownerId, MAX);
    expect(new Set(created.map((k) => k.id)).size).toBe(MAX);

    const p = await expectProblem(await post(ownerId, operator.key), 409, "KEY_LIMIT_REACHED");
    expect(p.detail).toContain(String(MAX));
    expect(p.detail).toMatch(/revoke/i);
    const page = await body<Page<KeyRecord>>(await admin(`/keys?ownerId=${ownerId}&limit=100`), 200);
    expect(page.data.length).toBe(MAX);
    expect(page.nextCursor).toBeNull();
    expect(await auditBy(operator.id)).toEqual([]);

    // Another owner is not affected.
    expect((await post(uniqueOwner(), operator.key)).status).toBe(201);

    expect((await revoke(created[0].id)).status).toBe(200);
    const replacement = await body<Created>(await post(ownerId), 201);
    expect(replacement.ownerId).toBe(ownerId);
    await expectProblem(await post(ownerId), 409, "KEY_LIMIT_REACHED");
    expect((await keysOf(ownerId, { status: "active" })).length).toBe(MAX);
    expect((await keysOf(ownerId)).length).toBe(MAX + 1);
  });

  it("holds under concurrent creation: exactly the free slots are taken", async () => {
    const ownerId = uniqueOwner();
    await fill(ownerId, MAX - 3);
    const results = await Promise.all(Array.from({ length: 8 }, () => post(ownerId)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    for (const res of results.filter((r) => r.status === 409)) await expectProblem(res, 409, "KEY_LIMIT_REACHED");
    expect((await keysOf(ownerId)).length).toBe(MAX);
  });

  it("does not count expired keys", async () => {
    const ownerId = uniqueOwner();
    const keys = await fill(ownerId, MAX);
    // Rotating with no grace ends the old key now; revoking its successor then frees a slot
    // only if the expired key is not counted.
    const successor = await body<Created>(
      await admin(`/keys/${keys[0].id}/rotate`, { method: "POST", json: { gracePeriodSeconds: 0 } }),
      201,
    );
    await expectProblem(await post(ownerId), 409, "KEY_LIMIT_REACHED");
    expect((await revoke(successor.id)).status).toBe(200);
    expect((await keysOf(ownerId, { status: "expired" })).map((k) => k.id)).toEqual([keys[0].id]);
    expect((await post(ownerId)).status).toBe(201);
    await expectProblem(await post(ownerId), 409, "KEY_LIMIT_REACHED");
  });

  it("refuses to bring an expired key back to life past the limit", async () => {
    const ownerId = uniqueOwner();
    const keys = await fill(ownerId, MAX);
    // keys[0] expires on its own (a key a rotation retired never comes back: admin-retired.test.ts),
    // and another key takes its slot.
    await body<KeyRecord>(await patch(keys[0].id, { expiresAt: new Date(Date.now() + 1000).toISOString() }), 200);
    await sleep(1100);
    expect((await post(ownerId)).status).toBe(201);
    const expired = await getRecord(keys[0].id);
    expect(Date.parse(expired.expiresAt!)).toBeLessThanOrEqual(Date.now());
    const trail = await auditOf(keys[0].id);

    for (const expiresAt of [null, new Date(Date.now() + 86_400_000).toISOString()]) {
      const p = await expectProblem(await patch(keys[0].id, { expiresAt }), 409, "KEY_LIMIT_REACHED");
      expect(p.detail).toContain(String(MAX));
    }
    expect(await getRecord(keys[0].id)).toEqual(expired);
    expect(await auditOf(keys[0].id)).toEqual(trail);
    // Changes that leave it expired are fine.
    expect((await patch(keys[0].id, { name: "retired" })).status).toBe(200);

    expect((await revoke(keys[1].id)).status).toBe(200);
    const revived = await body<KeyRecord>(await patch(keys[0].id, { expiresAt: null }), 200);
    expect(revived.expiresAt).toBeNull();
    expect((await keysOf(ownerId, { status: "active" })).length).toBe(MAX);
  });
});
