import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { createKey, uniqueOwner } from "./helpers";
import { auditOf, expectProblem, getRecord, keysOf, patch, revoke, rotate, sleep } from "./admin-helpers";

/** The audit trail accounts for every version: one entry per change that landed. */
async function expectConsistent(id: string) {
  const record = await getRecord(id);
  const trail = await auditOf(id);
  expect(trail.at(-1)?.action).toBe("key.create");
  expect(record.version, JSON.stringify(trail.map((e) => e.action))).toBe(trail.length);
  return { record, trail };
}

/** How long the second request waits, so both orders of landing occur across rounds. */
const HEAD_STARTS = [0, 0, 1, 2, 4, 8];
const later = async <T>(ms: number, start: () => Promise<T>) => (ms > 0 ? sleep(ms).then(start) : start());

describe("concurrent admin changes", () => {
  it("rotate and revoke of the same key leave one consistent record per key", async () => {
    for (const head of HEAD_STARTS) {
      const ownerId = uniqueOwner("race");
      const key = await createKey({ ownerId });
      const [rotated, revoked] = await Promise.all([rotate(key.id, { gracePeriodSeconds: 600 }), later(head, () => revoke(key.id))]);
      expect(revoked.status, await revoked.clone().text()).toBe(200);
      expect([201, 409]).toContain(rotated.status);

      const { record, trail } = await expectConsistent(key.id);
      expect(record.revokedAt).not.toBeNull();
      const actions = trail.map((e) => e.action);
      expect(actions.filter((a) => a === "key.revoke").length).toBe(1);
      const keys = await keysOf(ownerId);
      if (rotated.status === 201) {
        const successor = (await rotated.json()) as KeyRecord;
        expect(actions.filter((a) => a === "key.rotate").length).toBe(1);
        expect(keys.map((k) => k.id).sort()).toEqual([key.id, successor.id].sort());
        const next = await expectConsistent(successor.id);
        expect(next.record).toMatchObject({ rotatedFrom: key.id, revokedAt: null, version: 1 });
      } else {
        await expectProblem(rotated, 409, "CONFLICT");
        expect(actions).toEqual(["key.revoke", "key.create"]);
        expect(keys.map((k) => k.id)).toEqual([key.id]);
      }
    }
  });

  it("two concurrent revokes write one audit entry", async () => {
    const key = await createKey();
    const results = await Promise.all([revoke(key.id), revoke(key.id), revoke(key.id)]);
    const bodies = (await Promise.all(results.map((r) => r.json()))) as KeyRecord[];
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(new Set(bodies.map((b) => b.revokedAt)).size).toBe(1);
    const { trail } = await expectConsistent(key.id);
    expect(trail.map((e) => e.action)).toEqual(["key.revoke", "key.create"]);
  });

  it("two concurrent rotations with no grace produce one successor", async () => {
    const ownerId = uniqueOwner("race");
    const key = await createKey({ ownerId });
    const results = await Promise.all([rotate(key.id, {}), rotate(key.id, {})]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    expect((await keysOf(ownerId)).length).toBe(2);
    const { trail } = await expectConsistent(key.id);
    expect(trail.map((e) => e.action)).toEqual(["key.rotate", "key.create"]);
  });

  it("concurrent PATCHes all land or get 409, and the version counts the landed ones", async () => {
    for (let round = 0; round < 3; round++) {
      const key = await createKey();
      const names = Array.from({ length: 6 }, (_, i) => `name-${round}-${i}`);
      const results = await Promise.all(names.map((name) => patch(key.id, { name })));
      const landed: string[] = [];
      for (const [i, res] of results.entries()) {
        if (res.status === 200) landed.push(names[i]);
        else await expectProblem(res, 409, "CONFLICT");
      }
      expect(landed.length).toBeGreaterThan(0);
      const { record, trail } = await expectConsistent(key.id);
      expect(record.version).toBe(1 + landed.length);
      const updates = trail.filter((e) => e.action === "key.update");
      expect(updates.map((e) => e.changes.name.to).sort()).toEqual([...landed].sort());
      expect(record.name).toBe(updates[0].changes.name.to);
      // Each entry's "from" is the name the one before it set: no change was lost in between.
      const chain = [...updates].reverse();
      chain.forEach((entry, i) => expect(entry.changes.name.from).toBe(i === 0 ? "test key" : chain[i - 1].changes.name.to));
    }
  });

  it("a PATCH racing a revoke either lands first or is refused", async () => {
    for (const head of HEAD_STARTS) {
      const key = await createKey();
      const [patched, revoked] = await Promise.all([patch(key.id, { name: "late" }), later(head, () => revoke(key.id))]);
      expect(revoked.status).toBe(200);
      const { record, trail } = await expectConsistent(key.id);
      expect(record.revokedAt).not.toBeNull();
      if (patched.status === 200) {
        expect(record.name).toBe("late");
        expect(trail.map((e) => e.action)).toEqual(["key.revoke", "key.update", "key.create"]);
      } else {
        await expectProblem(patched, 409, "CONFLICT");
        expect(record.name).toBe("test key");
      }
    }
  });
});
