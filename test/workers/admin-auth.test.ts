import { describe, expect, it } from "vitest";
import { generateKey } from "../../src/keys/format";
import type { KeyRecord } from "../../src/keys/record";
import { ADMIN_TOKEN, admin, createKey, send, uniqueOwner, type Created } from "./helpers";
import { adminKey, auditBy, body, expectProblem, getRecord, keysOf, revoke } from "./admin-helpers";

async function expectUnauthorized(res: Response) {
  const p = await expectProblem(res, 401, "UNAUTHORIZED");
  expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer( |$)/);
  return p;
}

/** One call per admin route, as a client holding `token` would make it. */
function writes(target: string, token: string, ownerId: string) {
  return [
    admin("/keys", { method: "POST", json: { name: "k", ownerId }, token }),
    admin(`/keys/${target}`, { method: "PATCH", json: { name: "changed" }, token }),
    admin(`/keys/${target}`, { method: "DELETE", token }),
    admin(`/keys/${target}/rotate`, { method: "POST", json: {}, token }),
    admin("/keys/verify", { method: "POST", json: { key: "kg_live_x" }, token }),
  ];
}

describe("admin authentication", () => {
  it("refuses a missing, wrong or near-miss ADMIN_TOKEN with 401 and WWW-Authenticate", async () => {
    await expectUnauthorized(await send("/admin/keys"));
    for (const token of ["wrong", ADMIN_TOKEN.slice(0, -1), `${ADMIN_TOKEN}x`, ADMIN_TOKEN.toUpperCase()]) {
      await expectUnauthorized(await admin("/keys", { token }));
      await expectUnauthorized(await admin("/keys", { method: "POST", json: { name: "k", ownerId: "o" }, token }));
    }
    await expectUnauthorized(await admin("/keys", { headers: { Authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` } }));
  });

  it("refuses a well-formed key that was never issued", async () => {
    await expectUnauthorized(await admin("/keys", { token: generateKey("kg_live") }));
  });
});

describe("admin keys", () => {
  it("admin:read reads everything and changes nothing (403 FORBIDDEN)", async () => {
    const reader = await adminKey(["admin:read"]);
    const ownerId = uniqueOwner();
    const target = await createKey({ ownerId });
    for (const path of ["/keys", `/keys/${target.id}`, `/keys?ownerId=${ownerId}`, "/audit"]) {
      const res = await admin(path, { token: reader.key });
      expect(res.status, path).toBe(200);
    }
    for (const res of await Promise.all(writes(target.id, reader.key, ownerId))) {
      const p = await expectProblem(res, 403, "FORBIDDEN");
      expect(p.detail).toContain("admin:write");
    }
    const { key: _key, ...record } = target;
    expect(await getRecord(target.id)).toEqual(record);
    expect((await keysOf(ownerId)).length).toBe(1);
  });

  it("admin:write does everything and is the audit actor", async () => {
    const writer = await adminKey(["admin:write"]);
    const ownerId = uniqueOwner();
    const created = await body<Created>(await admin("/keys", { method: "POST", json: { name: "k", ownerId }, token: writer.key }), 201);
    expect((await admin(`/keys/${created.id}`, { token: writer.key })).status).toBe(200);
    expect((await admin("/audit", { token: writer.key })).status).toBe(200);
    await body<KeyRecord>(await admin(`/keys/${created.id}`, { method: "PATCH", json: { name: "n" }, token: writer.key }), 200);
    const next = await body<Created>(await admin(`/keys/${created.id}/rotate`, { method: "POST", json: {}, token: writer.key }), 201);
    await body<KeyRecord>(await admin(`/keys/${next.id}`, { method: "DELETE", token: writer.key }), 200);
    const verified = await admin("/keys/verify", { method: "POST", json: { key: next.key }, token: writer.key });
    expect((await body<{ code: string }>(verified, 200)).code).toBe("KEY_REVOKED");
    const entries = await auditBy(writer.id);
    expect(entries.map((e) => [e.action, e.targetId])).toEqual([
      ["key.revoke", next.id],
      ["key.create", next.id],
      ["key.rotate", created.id],
      ["key.update", created.id],
      ["key.create", created.id],
    ]);
  });

  it("is accepted in X-API-Key as well", async () => {
    const reader = await adminKey(["admin:read"]);
    const res = await send("/admin/keys?limit=1", { headers: { "X-API-Key": reader.key } });
    expect(res.status).toBe(200);
  });

  for (const scopes of [["*"], ["*:read"], ["*:write"], ["admin:*"], ["*:*"], ["posts:read"], []]) {
    it(`holding ${JSON.stringify(scopes)} is not an admin key`, async () => {
      const key = await createKey({ scopes });
      const ownerId = uniqueOwner();
      const p = await expectProblem(await admin("/keys", { token: key.key }), 403, "FORBIDDEN");
      expect(p.detail).toMatch(/admin:read/);
      for (const res of await Promise.all(writes(key.id, key.key, ownerId))) await expectProblem(res, 403, "FORBIDDEN");
      expect((await keysOf(ownerId)).length).toBe(0);
      expect((await getRecord(key.id)).version).toBe(1);
    });
  }

  it("is refused at once when revoked, disabled or expired", async () => {
    const writer = await adminKey(["admin:write"]);
    expect((await admin("/keys?limit=1", { token: writer.key })).status).toBe(200);
    expect((await revoke(writer.id)).status).toBe(200);
    await expectUnauthorized(await admin("/keys?limit=1", { token: writer.key }));
    await expectUnauthorized(await admin(`/keys/${writer.id}`, { method: "PATCH", json: { name: "x" }, token: writer.key }));

    const disabled = await adminKey(["admin:read"]);
    await admin(`/keys/${disabled.id}`, { method: "PATCH", json: { enabled: false } });
    await expectUnauthorized(await admin("/keys?limit=1", { token: disabled.key }));

    const rotated = await adminKey(["admin:read"]);
    const next = await body<Created>(await admin(`/keys/${rotated.id}/rotate`, { method: "POST", json: {} }), 201);
    await expectUnauthorized(await admin("/keys?limit=1", { token: rotated.key }));
    expect((await admin("/keys?limit=1", { token: next.key })).status).toBe(200);
  });

  it("honours the key's allowedIps", async () => {
    const reader = await createKey({ scopes: ["admin:read"], allowedIps: ["203.0.113.0/24"] });
    const from = (ip: string) => admin("/keys?limit=1", { token: reader.key, headers: { "CF-Connecting-IP": ip } });
    expect((await from("203.0.113.50")).status).toBe(200);
    await expectProblem(await from("198.51.100.1"), 403, "FORBIDDEN");
  });
});
