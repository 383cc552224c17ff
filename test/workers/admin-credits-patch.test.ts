import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { call, createKey, type Created } from "./helpers";
import { auditOf, body, getRecord, patch, rotate, verify } from "./admin-helpers";

/**
 * DESIGN.md, "Key record": a PATCH of `credits` with `remaining` alone sets the balance and keeps
 * the refill; `refill: null` removes it; `credits: null` removes both.
 */
const REFILL = { amount: 100, interval: "monthly", day: 5 } as const;

describe("PATCH credits", () => {
  it("with remaining alone sets the balance and keeps the refill, in the record, the audit and the gateway", async () => {
    const created = await createKey({ credits: { remaining: 10, refill: REFILL } });
    expect((await call("/echo/x", created.key)).status).toBe(200);

    const updated = await body<KeyRecord>(await patch(created.id, { credits: { remaining: 7 } }), 200);
    expect(updated.credits).toEqual({ remaining: 7, refill: REFILL });
    expect((await getRecord(created.id)).credits).toEqual({ remaining: 7, refill: REFILL });
    const [entry] = await auditOf(created.id);
    expect(entry.changes.credits).toEqual({ from: { remaining: 10, refill: REFILL }, to: { remaining: 7, refill: REFILL } });
    // KeyState kept the refill too: the verdict still counts down to the next one.
    const verdict = await verify({ key: created.key });
    expect(verdict.credits).toMatchObject({ remaining: 7, refill: REFILL });
    expect(verdict.credits!.refillIn).toBeGreaterThan(0);
  });

  it("keeps the refill on every key of the lineage", async () => {
    const old = await createKey({ credits: { remaining: 10, refill: REFILL } });
    const next = await body<Created>(await rotate(old.id, { gracePeriodSeconds: 600 }), 201);
    await body<KeyRecord>(await patch(next.id, { credits: { remaining: 3 } }), 200);
    for (const id of [old.id, next.id]) expect((await getRecord(id)).credits).toEqual({ remaining: 3, refill: REFILL });
  });

  it("removes the refill with refill: null, and both with credits: null", async () => {
    const created = await createKey({ credits: { remaining: 10, refill: REFILL } });
    expect((await body<KeyRecord>(await patch(created.id, { credits: { remaining: 5, refill: null } }), 200)).credits).toEqual({
      remaining: 5,
      refill: null,
    });
    expect((await verify({ key: created.key })).credits).toMatchObject({ remaining: 5, refill: null, refillIn: null });
    // With no refill left, remaining alone still means "no refill".
    expect((await body<KeyRecord>(await patch(created.id, { credits: { remaining: 4 } }), 200)).credits).toEqual({ remaining: 4, refill: null });
    expect((await body<KeyRecord>(await patch(created.id, { credits: null }), 200)).credits).toBeNull();
    // From unlimited, remaining alone gives a balance with no refill.
    expect((await body<KeyRecord>(await patch(created.id, { credits: { remaining: 9 } }), 200)).credits).toEqual({ remaining: 9, refill: null });
  });

  it("replaces the refill when one is given", async () => {
    const created = await createKey({ credits: { remaining: 10, refill: REFILL } });
    const daily = { amount: 20, interval: "daily" } as const;
    expect((await body<KeyRecord>(await patch(created.id, { credits: { remaining: 1, refill: daily } }), 200)).credits).toEqual({
      remaining: 1,
      refill: daily,
    });
  });
});
