import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { admin, createKey, uniqueOwner } from "./helpers";
import {
  adminKey,
  auditBy,
  auditOf,
  body,
  expectInvalid,
  isIso,
  walk,
  type AuditEntry,
  type Page,
} from "./admin-helpers";

const IP = "203.0.113.9";
const AUDIT_FIELDS = ["action", "actor", "at", "changes", "clientIp", "id", "requestId", "targetId"];

/** An admin call from a known address; answers the response and its request id. */
async function mutate(path: string, method: string, json?: unknown, token?: string) {
  const res = await admin(path, { method, json, token, headers: { "CF-Connecting-IP": IP } });
  return { res, requestId: res.headers.get("X-Request-Id")! };
}

describe("audit entries", () => {
  it("record every mutation with actor, action, target, request id, client IP and a field diff", async () => {
    const ownerId = uniqueOwner();
    const create = await mutate("/keys", "POST", { name: "audited", ownerId, scopes: ["posts:read"] });
    const key = await body<KeyRecord & { key: string }>(create.res, 201);
    const update = await mutate(`/keys/${key.id}`, "PATCH", { name: "renamed", enabled: false });
    expect(update.res.status).toBe(200);
    const rotation = await mutate(`/keys/${key.id}/rotate`, "POST", { gracePeriodSeconds: 60 });
    const successor = await body<KeyRecord>(rotation.res, 201);
    const revocation = await mutate(`/keys/${key.id}`, "DELETE");
    const revoked = await body<KeyRecord>(revocation.res, 200);

    const trail = await auditOf(key.id);
    expect(trail.map((e) => e.action)).toEqual(["key.revoke", "key.rotate", "key.update", "key.create"]);
    const [revokeEntry, rotateEntry, updateEntry, createEntry] = trail;
    for (const entry of trail) {
      expect(Object.keys(entry).sort()).toEqual(AUDIT_FIELDS);
      expect(entry).toMatchObject({ actor: "root", targetId: key.id, clientIp: IP });
      expect(isIso(entry.at)).toBe(true);
    }
    expect(createEntry.requestId).toBe(create.requestId);
    expect(createEntry.changes).toMatchObject({
      name: { from: null, to: "audited" },
      ownerId: { from: null, to: ownerId },
      scopes: { from: null, to: ["posts:read"] },
      start: { from: null, to: key.start },
    });
    expect(updateEntry.requestId).toBe(update.requestId);
    expect(updateEntry.changes).toEqual({
      name: { from: "audited", to: "renamed" },
      enabled: { from: true, to: false },
    });
    expect(rotateEntry.requestId).toBe(rotation.requestId);
    expect(rotateEntry.changes.expiresAt).toMatchObject({ from: null });
    expect(isIso(rotateEntry.changes.expiresAt.to)).toBe(true);
    expect(revokeEntry.requestId).toBe(revocation.requestId);
    expect(revokeEntry.changes).toEqual({ revokedAt: { from: null, to: revoked.revokedAt } });

    const successorTrail = await auditOf(successor.id);
    expect(successorTrail.map((e) => e.action)).toEqual(["key.create"]);
    expect(successorTrail[0]).toMatchObject({ requestId: rotation.requestId, clientIp: IP });
    expect(successorTrail[0].changes.rotatedFrom).toEqual({ from: null, to: key.id });
  });

  it("are not written for calls that change nothing", async () => {
    const key = await createKey({ name: "same" });
    await mutate(`/keys/${key.id}`, "PATCH", { name: "same" });
    await mutate(`/keys/${key.id}`, "PATCH", {});
    await mutate(`/keys/${key.id}`, "DELETE");
    await mutate(`/keys/${key.id}`, "DELETE");
    expect((await auditOf(key.id)).map((e) => e.action)).toEqual(["key.revoke", "key.create"]);
  });

  it("name an admin key's id as the actor", async () => {
    const operator = await adminKey(["admin:write"]);
    const { res } = await mutate("/keys", "POST", { name: "by key", ownerId: uniqueOwner() }, operator.key);
    const key = await body<KeyRecord>(res, 201);
    await mutate(`/keys/${key.id}`, "DELETE", undefined, operator.key);
    const entries = await auditBy(operator.id);
    expect(entries.map((e) => [e.action, e.targetId])).toEqual([
      ["key.revoke", key.id],
      ["key.create", key.id],
    ]);
  });
});

describe("GET /admin/audit", () => {
  it("filters by action and target, newest first", async () => {
    const key = await createKey();
    for (const name of ["a", "b", "c"]) await mutate(`/keys/${key.id}`, "PATCH", { name });
    const { items } = await walk<AuditEntry>("/audit", { targetId: key.id, action: "key.update" });
    expect(items.map((e) => e.changes.name.to)).toEqual(["c", "b", "a"]);
    const times = items.map((e) => Date.parse(e.at));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
  });

  it("filters by action alone", async () => {
    const key = await createKey();
    await mutate(`/keys/${key.id}`, "DELETE");
    const page = await body<Page<AuditEntry>>(await admin("/audit?action=key.revoke&limit=100"), 200);
    expect(page.data.length).toBeGreaterThan(0);
    for (const entry of page.data) expect(entry.action).toBe("key.revoke");
    expect(page.data.map((e) => e.targetId)).toContain(key.id);
  });

  it("walks pages by cursor without duplicates or gaps", async () => {
    const key = await createKey();
    for (let i = 0; i < 4; i++) await mutate(`/keys/${key.id}`, "PATCH", { name: `n${i}` });
    const whole = await auditOf(key.id);
    expect(whole.length).toBe(5);
    const paged = await walk<AuditEntry>("/audit", { targetId: key.id, limit: "2" });
    expect(paged.pages).toBe(3);
    expect(paged.items).toEqual(whole);
  });

  it("refuses a cursor it did not issue, or one issued for keys", async () => {
    const ownerId = uniqueOwner();
    await createKey({ ownerId });
    await createKey({ ownerId });
    const keysPage = await body<Page<KeyRecord>>(await admin(`/keys?ownerId=${ownerId}&limit=1`), 200);
    await expectInvalid(await admin(`/audit?cursor=${encodeURIComponent(keysPage.nextCursor!)}`), "cursor");
    await expectInvalid(await admin("/audit?cursor=bogus"), "cursor");
  });

  it("refuses an impossible limit", async () => {
    for (const limit of ["0", "-1", "1.5", "101", "ten"]) await expectInvalid(await admin(`/audit?limit=${limit}`), "limit");
  });
});
