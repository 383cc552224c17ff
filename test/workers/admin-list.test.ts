import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { admin, createKey, uniqueOwner } from "./helpers";
import { body, expectInvalid, keysOf, revoke, rotate, sleep, walk, type Page } from "./admin-helpers";

describe("GET /admin/keys", () => {
  it("lists an owner's keys newest first as { data, nextCursor }", async () => {
    const ownerId = uniqueOwner();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await createKey({ ownerId, name: `k${i}` })).id);
    const page = await body<Page<KeyRecord>>(await admin(`/keys?ownerId=${ownerId}`), 200);
    expect(Object.keys(page).sort()).toEqual(["data", "nextCursor"]);
    expect(page.data.map((k) => k.id)).toEqual(ids.reverse());
    expect(page.nextCursor).toBeNull();
    for (const record of page.data) expect(record).not.toHaveProperty("key");
  });

  it("filters by environment", async () => {
    const ownerId = uniqueOwner();
    const live = await createKey({ ownerId });
    const test = await createKey({ ownerId, environment: "test" });
    expect((await keysOf(ownerId, { environment: "live" })).map((k) => k.id)).toEqual([live.id]);
    expect((await keysOf(ownerId, { environment: "test" })).map((k) => k.id)).toEqual([test.id]);
  });

  it("filters by status active, revoked and expired", async () => {
    const ownerId = uniqueOwner();
    const active = await createKey({ ownerId });
    const revoked = await createKey({ ownerId });
    const expired = await createKey({ ownerId });
    expect((await revoke(revoked.id)).status).toBe(200);
    // Rotating with no grace period ends the old key's life now.
    const successor = await body<KeyRecord>(await rotate(expired.id, { gracePeriodSeconds: 0 }), 201);
    await sleep(5);
    const ids = async (status: string) => (await keysOf(ownerId, { status })).map((k) => k.id);
    expect(await ids("active")).toEqual([successor.id, active.id]);
    expect(await ids("revoked")).toEqual([revoked.id]);
    expect(await ids("expired")).toEqual([expired.id]);
    expect((await keysOf(ownerId)).length).toBe(4);
  });

  it("counts a key past its expiresAt as expired", async () => {
    const ownerId = uniqueOwner();
    const key = await createKey({ ownerId, expiresIn: 1 });
    expect((await keysOf(ownerId, { status: "active" })).map((k) => k.id)).toEqual([key.id]);
    await sleep(1100);
    expect((await keysOf(ownerId, { status: "active" })).length).toBe(0);
    expect((await keysOf(ownerId, { status: "expired" })).map((k) => k.id)).toEqual([key.id]);
  });

  it("honours limit and walks every page without duplicates or gaps", async () => {
    const ownerId = uniqueOwner();
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await createKey({ ownerId })).id);
    const first = await body<Page<KeyRecord>>(await admin(`/keys?ownerId=${ownerId}&limit=3`), 200);
    expect(first.data.length).toBe(3);
    expect(typeof first.nextCursor).toBe("string");
    const { items, pages } = await walk<KeyRecord>("/keys", { ownerId, limit: "3" });
    expect(pages).toBe(3);
    expect(items.map((k) => k.id)).toEqual([...created].reverse());
  });

  it("ends with a null cursor when the last page is exactly full", async () => {
    const ownerId = uniqueOwner();
    for (let i = 0; i < 2; i++) await createKey({ ownerId });
    const page = await body<Page<KeyRecord>>(await admin(`/keys?ownerId=${ownerId}&limit=2`), 200);
    expect(page.data.length).toBe(2);
    expect(page.nextCursor).toBeNull();
  });

  it("continues where the previous page ended when keys are added meanwhile", async () => {
    const ownerId = uniqueOwner();
    const older = [await createKey({ ownerId }), await createKey({ ownerId }), await createKey({ ownerId })];
    const first = await body<Page<KeyRecord>>(await admin(`/keys?ownerId=${ownerId}&limit=2`), 200);
    await createKey({ ownerId });
    const query = new URLSearchParams({ ownerId, limit: "2", cursor: first.nextCursor! });
    const second = await body<Page<KeyRecord>>(await admin(`/keys?${query}`), 200);
    expect([...first.data, ...second.data].map((k) => k.id)).toEqual(older.map((k) => k.id).reverse());
  });

  it("q finds keys whose name or owner contains the text, ASCII case ignored, with the other filters and cursors", async () => {
    const tag = uniqueOwner("Q").replaceAll("-", "");
    const owner = `acct_${tag}_x`;
    const byName = await createKey({ ownerId: uniqueOwner(), name: `Billing ${tag} prod` });
    const byOwner = await createKey({ ownerId: owner, name: "Reports" });
    const testEnv = await createKey({ ownerId: owner, name: "Reports (test)", environment: "test" });
    await createKey({ ownerId: uniqueOwner(), name: "Unrelated" });
    const ids = async (params: Record<string, string>) => (await walk<KeyRecord>("/keys", { limit: "1", ...params })).items.map((k) => k.id);
    expect(await ids({ q: tag.toLowerCase() })).toEqual([testEnv.id, byOwner.id, byName.id]);
    expect(await ids({ q: tag.toUpperCase() })).toEqual([testEnv.id, byOwner.id, byName.id]);
    expect(await ids({ q: `billing ${tag}` })).toEqual([byName.id]);
    expect(await ids({ q: tag, environment: "test" })).toEqual([testEnv.id]);
    expect(await ids({ q: tag, ownerId: owner })).toEqual([testEnv.id, byOwner.id]);
    // Matched as text, not as a pattern: % and _ are not wildcards.
    expect(await ids({ q: `${tag}%` })).toEqual([]);
    expect(await ids({ q: "q_%" })).toEqual([]);
  });

  it("refuses an empty or overlong q", async () => {
    await expectInvalid(await admin("/keys?q="), "q");
    await expectInvalid(await admin(`/keys?q=${"a".repeat(201)}`), "q");
  });
});
