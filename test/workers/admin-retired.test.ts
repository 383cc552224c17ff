import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { call, createKey, type Created } from "./helpers";
import { auditOf, body, expectProblem, getRecord, patch, rotate, sleep, verify } from "./admin-helpers";

/**
 * DESIGN.md, "Consistency": a lineage has at most two usable keys however the calls are
 * ordered, and no PATCH brings back a key that a rotation retired. keygate refuses a PATCH that
 * would extend or remove a retired key's expiry with 409 CONFLICT naming its successor; one that
 * brings the expiry forward, or changes anything else, is fine.
 */

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
const inTwoHours = () => new Date(Date.now() + 7_200_000).toISOString();

/** Which of these keys the gateway would admit now, asked without using them up. */
async function usable(keys: Created[]): Promise<string[]> {
  const verdicts = await Promise.all(keys.map((k) => verify({ key: k.key })));
  return keys.filter((_, i) => verdicts[i].valid).map((k) => k.id);
}

/** A refusal that names the successor, leaving the retired key's record and audit trail as they were. */
async function expectRefusedNaming(res: Response, retired: string, successor: string, before: KeyRecord) {
  const trail = await auditOf(retired);
  const p = await expectProblem(res, 409, "CONFLICT");
  expect(p.detail).toContain(successor);
  expect(await getRecord(retired)).toEqual(before);
  expect(await auditOf(retired)).toEqual(trail);
}

describe("a key a rotation retired", () => {
  it("stays retired once a second rotation ended its grace, whatever the PATCH", async () => {
    const a = await createKey();
    const b = await body<Created>(await rotate(a.id, { gracePeriodSeconds: 3600 }), 201);
    const c = await body<Created>(await rotate(b.id, { gracePeriodSeconds: 3600 }), 201);
    expect(await usable([a, b, c])).toEqual([b.id, c.id]);
    const ended = await getRecord(a.id);

    for (const json of [{ expiresAt: null }, { expiresAt: inAnHour() }, { enabled: true, expiresAt: null }, { name: "back", expiresAt: null }]) {
      await expectRefusedNaming(await patch(a.id, json), a.id, b.id, ended);
    }
    // Changes that leave it retired are fine, and leave it retired.
    expect((await patch(a.id, { enabled: true })).status).toBe(200);
    expect((await patch(a.id, { name: "old one" })).status).toBe(200);
    await expectProblem(await call("/echo/x", a.key), 401, "KEY_EXPIRED");
    expect(await usable([a, b, c])).toEqual([b.id, c.id]);
  });

  it("keeps no more than the grace the rotation gave, but may end it sooner", async () => {
    const a = await createKey();
    const b = await body<Created>(await rotate(a.id, { gracePeriodSeconds: 3600 }), 201);
    const inGrace = await getRecord(a.id);
    await expectRefusedNaming(await patch(a.id, { expiresAt: null }), a.id, b.id, inGrace);
    await expectRefusedNaming(await patch(a.id, { expiresAt: inTwoHours() }), a.id, b.id, inGrace);

    const sooner = new Date(Date.now() + 600_000).toISOString();
    expect(await body<KeyRecord>(await patch(a.id, { expiresAt: sooner }), 200)).toMatchObject({ expiresAt: sooner });
    // The one it set is now the bound: no moving it back out either.
    await expectRefusedNaming(await patch(a.id, { expiresAt: inAnHour() }), a.id, b.id, await getRecord(a.id));
    // Disabling and enabling again within the grace is the operator's to do.
    expect((await patch(a.id, { enabled: false })).status).toBe(200);
    expect((await patch(a.id, { enabled: true })).status).toBe(200);
    expect(await usable([a, b])).toEqual([a.id, b.id]);
  });

  it("stays ended after a rotation with no grace", async () => {
    const a = await createKey();
    const b = await body<Created>(await rotate(a.id, {}), 201);
    await expectRefusedNaming(await patch(a.id, { expiresAt: inAnHour() }), a.id, b.id, await getRecord(a.id));
    await expectProblem(await call("/echo/x", a.key), 401, "KEY_EXPIRED");
  });

  it("never leaves three usable keys when PATCHes that would revive race a rotation", async () => {
    for (const head of [0, 0, 1, 2, 4, 8]) {
      const a = await createKey();
      const b = await body<Created>(await rotate(a.id, { gracePeriodSeconds: 3600 }), 201);
      const later = (start: () => Promise<Response>) => (head > 0 ? sleep(head).then(start) : start());
      const [rotated, ...patched] = await Promise.all([
        rotate(b.id, { gracePeriodSeconds: 3600 }),
        later(() => patch(a.id, { expiresAt: null })),
        later(() => patch(a.id, { enabled: true, expiresAt: inTwoHours() })),
      ]);
      const c = await body<Created>(rotated, 201);
      expect(await usable([a, b, c])).toEqual([b.id, c.id]);
      for (const res of patched) await expectProblem(res, 409, "CONFLICT");
      expect((await getRecord(a.id)).expiresAt).not.toBeNull();
    }
  });
});
