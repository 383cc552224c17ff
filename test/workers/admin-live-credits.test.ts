import { describe, expect, it } from "vitest";
import { admin, call, createKey } from "./helpers";

/** D1's copy of credits.remaining lags; every single-record answer shows KeyState's live balance. */
describe("live credit balance in admin answers", () => {
  it("get, patch, rotate and revoke report the balance after charges", async () => {
    const created = await createKey({ credits: { remaining: 4, refill: null } });
    for (let i = 0; i < 2; i++) expect((await call("/echo", created.key)).status).toBe(200);

    const remaining = async (res: Response) => ((await res.json()) as { credits: { remaining: number } }).credits.remaining;
    expect(await remaining(await admin(`/keys/${created.id}`))).toBe(2);
    expect(await remaining(await admin(`/keys/${created.id}`, { method: "PATCH", json: { name: "renamed" } }))).toBe(2);

    const rotated = await admin(`/keys/${created.id}/rotate`, { method: "POST", json: { gracePeriodSeconds: 60 } });
    expect(rotated.status).toBe(201);
    const successor = (await rotated.clone().json()) as { id: string };
    expect(await remaining(rotated)).toBe(2);
    expect(await remaining(await admin(`/keys/${successor.id}`, { method: "DELETE" }))).toBe(2);
  });
});
