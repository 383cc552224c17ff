import { env, evictDurableObject, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, call, createKey, type Created } from "./helpers";
import { d1FailingWrites, expectProblem, flushUsage, getRecord, patchKey, rotateKey, serveStale, storedRecord } from "./gateway-helpers";
import { commitChange, loadLineageOf } from "../../src/store/lineage";
import { newId } from "../../src/store/db";
import type { KeyState } from "../../src/admission/home";

/**
 * The protocol between the admin API and KeyState (docs/consistency.md), piece by piece: who
 * creates the object, how it learns what changed, and the interleavings that must lose nothing.
 */

const stateOf = (lineageId: string) => env.KEY_STATE.get(env.KEY_STATE.idFromName(lineageId));

async function objectExists(lineageId: string): Promise<boolean> {
  const wanted = env.KEY_STATE.idFromName(lineageId);
  return (await listDurableObjectIds(env.KEY_STATE)).some((id) => id.equals(wanted));
}

const audit = { actor: "root", requestId: "req_test", clientIp: null };

describe("the lineage's KeyState object lives where its consumers are", () => {
  it("no admin call creates it; the first consumer request does, and finds every change made before", async () => {
    const created = await createKey({ credits: { remaining: 50 }, ratelimits: [{ name: "minute", limit: 10, windowSeconds: 60 }] });
    expect((await admin(`/keys/${created.id}`)).status).toBe(200);
    await patchKey(created.id, { credits: { remaining: 2 }, scopes: ["posts:read"] });
    const verified = await admin("/keys/verify", { method: "POST", json: { key: created.key } });
    expect(await verified.json()).toMatchObject({ valid: true, credits: { remaining: 2 }, ratelimits: [{ remaining: 10 }] });
    const successor = await rotateKey(created.id, 60);
    expect(successor.credits).toMatchObject({ remaining: 2 });
    expect(await objectExists(created.id)).toBe(false);

    expect((await call("/posts", successor.key)).status).toBe(200);
    expect(await objectExists(created.id)).toBe(true);
    expect((await call("/posts", created.key)).status).toBe(200);
    await expectProblem(await call("/posts", successor.key), 429, "QUOTA_EXHAUSTED");
  });

  it("an admin change read before the object claimed its lineage cannot commit past it", async () => {
    const created = await createKey();
    const lineage = (await loadLineageOf(env.DB, created.id))!;
    expect(lineage.hasState).toBe(false);
    // A consumer request creates the object, which claims the lineage in D1 ...
    expect((await call("/echo", created.key)).status).toBe(200);
    // ... so a change planned from the earlier read (which would not have told the object) is refused.
    const target = lineage.keys[0];
    const after = { ...target, enabled: false, version: target.version + 1, updatedAt: Date.now() };
    const outcome = await commitChange(env.DB, {
      lineage,
      token: newId("chg"),
      writes: [{ before: target, after, action: "key.update" }],
      audit,
      at: Date.now(),
      until: Date.now() + 10_000,
    });
    expect(outcome).toBe("conflict");
    expect((await storedRecord(created.key)).enabled).toBe(true);
    expect((await loadLineageOf(env.DB, created.id))!.hasState).toBe(true);
  });

  /** A change its home had started to commit (marker written, batch sent) when it ended, its deadline `deadlineMs` ahead. */
  async function interrupted(created: Created, deadlineMs = 1_000) {
    const lineage = (await loadLineageOf(env.DB, created.id))!;
    const target = lineage.keys[0];
    const until = Date.now() + deadlineMs;
    const change = {
      lineage,
      token: newId("chg"),
      writes: [{ before: target, after: { ...target, scopes: [], version: target.version + 1 }, action: "key.update" as const }],
      audit: { ...audit, requestId: `req_${crypto.randomUUID().replaceAll("-", "")}` },
      at: Date.now(),
      until,
    };
    await runInDurableObject(stateOf(created.id), (_: KeyState, state) => {
      state.storage.kv.put("committing", { until, audit: change.audit, writes: change.writes.map((w) => ({ after: w.after })) });
    });
    await evictDurableObject(stateOf(created.id)); // it reads its storage afresh
    return change;
  }

  it("a change its home was committing when it ended blocks the key only until its deadline, and cannot land after it", async () => {
    const created = await createKey({ scopes: ["posts:read"] });
    expect((await call("/posts", created.key)).status).toBe(200);
    const change = await interrupted(created);
    // The batch never arrived: once D1's clock is past the deadline the home knows it never will.
    expect((await call("/posts", created.key)).status).toBe(200);
    expect(Date.now()).toBeGreaterThanOrEqual(change.until);
    expect(await commitChange(env.DB, change)).toBe("expired");
    expect((await call("/posts", created.key)).status).toBe(200);
    expect((await storedRecord(created.key)).scopes).toEqual(["posts:read"]);
  });

  it("a change its home was committing when it ended, whose batch landed, is in force on the next request", async () => {
    const created = await createKey({ scopes: ["posts:read"] });
    expect((await call("/posts", created.key)).status).toBe(200);
    const before = await storedRecord(created.key);
    // room enough for the eviction before the batch, which must land before the deadline
    const change = await interrupted(created, 3_000);
    expect(await commitChange(env.DB, change)).toBe("committed");
    await serveStale(before); // this isolate still holds the record from before
    await expectProblem(await call("/posts", created.key), 403, "INSUFFICIENT_SCOPE");
  });
});

describe("ratelimits and credits belong to the lineage", () => {
  async function inGrace(fields: Record<string, unknown>): Promise<{ old: Created; next: Created }> {
    const old = await createKey(fields);
    expect((await call("/echo", old.key)).status).toBe(200);
    return { old, next: await rotateKey(old.id, 3600) };
  }

  it("a limit changed on the old key applies to its successor too, in one audited change", async () => {
    const { old, next } = await inGrace({ ratelimits: [{ name: "minute", limit: 100, windowSeconds: 60 }] });
    const limits = [{ name: "minute", limit: 3, windowSeconds: 60 }];
    await patchKey(old.id, { ratelimits: limits });
    expect((await getRecord(next.id)).ratelimits).toEqual(limits);
    const entries = (await (await admin(`/audit?action=key.update`)).json()) as { data: { targetId: string; requestId: string }[] };
    const mine = entries.data.filter((e) => e.targetId === old.id || e.targetId === next.id);
    expect(mine.map((e) => e.targetId).sort()).toEqual([old.id, next.id].sort());
    expect(new Set(mine.map((e) => e.requestId)).size).toBe(1);
  });

  it("alternating between the two keys never resets a window", async () => {
    const { old, next } = await inGrace({ ratelimits: [{ name: "minute", limit: 4, windowSeconds: 60 }] });
    await patchKey(next.id, { ratelimits: [{ name: "minute", limit: 3, windowSeconds: 30 }] });
    const statuses = [];
    for (const key of [old.key, next.key, old.key, next.key, old.key]) statuses.push((await call("/echo", key)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it("credits removed on one key are removed for both, and set on one are the balance of both", async () => {
    const { old, next } = await inGrace({ credits: { remaining: 1 } });
    await patchKey(old.id, { credits: null });
    expect((await getRecord(next.id)).credits).toBeNull();
    for (let i = 0; i < 3; i++) expect((await call("/echo", next.key)).status).toBe(200);
    await patchKey(next.id, { credits: { remaining: 2 } });
    expect((await call("/echo", old.key)).status).toBe(200);
    expect((await call("/echo", next.key)).status).toBe(200);
    await expectProblem(await call("/echo", old.key), 429, "QUOTA_EXHAUSTED");
  });

  it("setting credits to what D1's lagging copy already says still sets the live balance", async () => {
    const created = await createKey({ credits: { remaining: 10 } });
    for (let i = 0; i < 4; i++) expect((await call("/echo", created.key)).status).toBe(200);
    expect((await storedRecord(created.key)).credits?.remaining).toBe(10); // not flushed yet
    const record = await patchKey(created.id, { credits: { remaining: 10 } });
    expect(record.credits?.remaining).toBe(10);
    expect((await getRecord(created.id)).credits?.remaining).toBe(10);
  });

  it("an object from before credits were versioned keeps its live balance through a change that sets no credits", async () => {
    const created = await createKey({ credits: { remaining: 10 } });
    for (let i = 0; i < 3; i++) expect((await call("/echo", created.key)).status).toBe(200);
    // Such an object held its balance, but neither a credits version nor a claim on its lineage.
    await runInDurableObject(stateOf(created.id), (_: KeyState, state) => {
      expect(state.storage.kv.get<{ remaining: number }>("credits")?.remaining).toBe(7);
      state.storage.kv.delete("creditsVersion");
      state.storage.kv.delete("claimed");
    });
    await evictDurableObject(stateOf(created.id));
    await patchKey(created.id, { name: "renamed" }); // confirmed to the object; credits untouched
    expect((await call("/echo", created.key)).status).toBe(200); // the object claims its lineage again
    expect((await getRecord(created.id)).credits?.remaining).toBe(6);
  });
});

describe("rotation keeps at most two usable keys per lineage", () => {
  it("a key in its grace period cannot be rotated again; its successor can, which ends the grace at once", async () => {
    const first = await createKey();
    const second = await rotateKey(first.id, 3600);
    const again = await admin(`/keys/${first.id}/rotate`, { method: "POST", json: { gracePeriodSeconds: 3600 } });
    const problem = await expectProblem(again, 409, "CONFLICT");
    expect(problem.detail).toContain(second.id);

    const third = await rotateKey(second.id, 3600);
    await expectProblem(await call("/echo", first.key), 401, "KEY_EXPIRED");
    expect((await call("/echo", second.key)).status).toBe(200);
    expect((await call("/echo", third.key)).status).toBe(200);
    const usable = (await loadLineageOf(env.DB, first.id))!.keys.filter(
      (k) => k.revokedAt === null && (k.expiresAt === null || k.expiresAt > Date.now()),
    );
    expect(usable.map((k) => k.id).sort()).toEqual([second.id, third.id].sort());
  });
});

describe("usageCount and lastUsedAt are never lost or counted twice", () => {
  it("an admin change planned before a usage flush landed does not write the old counts back", async () => {
    const created = await createKey();
    const lineage = (await loadLineageOf(env.DB, created.id))!;
    for (let i = 0; i < 3; i++) expect((await call("/echo", created.key)).status).toBe(200);
    expect(await flushUsage(created.id)).toBe(true);
    const target = lineage.keys[0];
    expect(target.usageCount).toBe(0);
    const after = { ...target, name: "renamed", version: target.version + 1, updatedAt: Date.now() };
    const fresh = (await loadLineageOf(env.DB, created.id))!;
    const outcome = await commitChange(env.DB, { lineage: fresh, token: newId("chg"), writes: [{ before: target, after, action: "key.update" }], audit, at: Date.now(), until: Date.now() + 10_000 });
    expect(outcome).toBe("committed");
    const stored = await storedRecord(created.key);
    expect(stored).toMatchObject({ name: "renamed", usageCount: 3 });
    expect(stored.lastUsedAt).not.toBeNull();
  });

  it("a flush whose D1 answer was lost is retried, counts once, and is armed again until it lands", async () => {
    const created = await createKey();
    for (let i = 0; i < 5; i++) expect((await call("/echo", created.key)).status).toBe(200);
    const stub = stateOf(created.id);
    await runInDurableObject(stub, async (instance: KeyState, state) => {
      const real = (instance as unknown as { env: Env }).env;
      (instance as unknown as { env: Env }).env = { ...real, DB: d1FailingWrites("lose-answer") };
      await instance.alarm();
      expect(await state.storage.getAlarm()).not.toBeNull();
      (instance as unknown as { env: Env }).env = real;
    });
    expect((await storedRecord(created.key)).usageCount).toBe(5); // it did land, once
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await storedRecord(created.key)).usageCount).toBe(5);
    for (let i = 0; i < 2; i++) expect((await call("/echo", created.key)).status).toBe(200);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await storedRecord(created.key)).usageCount).toBe(7);
  });

  it("a flush that keeps failing keeps its counts and lands once D1 is back", async () => {
    const created = await createKey();
    for (let i = 0; i < 3; i++) expect((await call("/echo", created.key)).status).toBe(200);
    const stub = stateOf(created.id);
    await runInDurableObject(stub, async (instance: KeyState, state) => {
      const real = (instance as unknown as { env: Env }).env;
      (instance as unknown as { env: Env }).env = { ...real, DB: d1FailingWrites("fail") };
      for (let i = 0; i < 3; i++) {
        await instance.alarm();
        expect(await state.storage.getAlarm()).not.toBeNull();
      }
      (instance as unknown as { env: Env }).env = real;
    });
    expect((await storedRecord(created.key)).usageCount).toBe(0);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await storedRecord(created.key)).usageCount).toBe(3);
  });
});
