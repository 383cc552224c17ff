/**
 * DESIGN.md: "Admin answers are `Cache-Control: no-store`." Every answer under ADMIN_PATH, of
 * every status: the one-time key in a create or rotate answer, records, lists, figures, the
 * OpenAPI document, the pages and every problem. The dashboard's static assets are the one
 * exception (docs/behaviour.md, "Dashboard"): they hold no data and are revalidated each time.
 */
import { describe, expect, it } from "vitest";
import { admin, createKey, send, uniqueOwner } from "./helpers";

const NO_STORE = "no-store";

async function expectNoStore(res: Response, what: string, status?: number) {
  if (status !== undefined) expect(res.status, `${what}: ${await res.clone().text()}`).toBe(status);
  expect(res.headers.get("Cache-Control"), what).toBe(NO_STORE);
  await res.body?.cancel();
}

describe("Cache-Control on admin answers", () => {
  it("the answers that show a key, shown this once, are never stored", async () => {
    const create = await admin("/keys", { method: "POST", json: { name: "cached?", ownerId: uniqueOwner() } });
    const created = (await create.clone().json()) as { id: string; key: string };
    expect(created.key).toMatch(/^kg_/);
    await expectNoStore(create, "POST /admin/keys", 201);

    const rotate = await admin(`/keys/${created.id}/rotate`, { method: "POST", json: { gracePeriodSeconds: 0 } });
    expect(((await rotate.clone().json()) as { key: string }).key).toMatch(/^kg_/);
    await expectNoStore(rotate, "POST /admin/keys/{id}/rotate", 201);
  });

  it("every other API answer that succeeds", async () => {
    const ownerId = uniqueOwner();
    const key = await createKey({ ownerId });
    const answers: [string, string, RequestInit & { json?: unknown }, number][] = [
      ["GET", "/keys", {}, 200],
      ["GET", `/keys?ownerId=${ownerId}`, {}, 200],
      ["GET", `/keys/${key.id}`, {}, 200],
      ["PATCH", `/keys/${key.id}`, { json: { name: "renamed" } }, 200],
      ["POST", "/keys/verify", { json: { key: key.key } }, 200],
      ["GET", `/keys/${key.id}/usage`, {}, 200],
      ["GET", `/keys/${key.id}/requests`, {}, 200],
      ["GET", `/usage?ownerId=${ownerId}`, {}, 200],
      ["GET", `/audit?targetId=${key.id}`, {}, 200],
      ["GET", "/whoami", {}, 200],
      ["GET", "/metrics", {}, 200],
      ["DELETE", `/keys/${key.id}`, {}, 200],
    ];
    for (const [method, path, init, status] of answers) {
      await expectNoStore(await admin(path, { method, ...init }), `${method} /admin${path}`, status);
    }
  });

  it("the OpenAPI document, the dashboard and the API reference", async () => {
    await expectNoStore(await send("/admin/openapi.json"), "GET /admin/openapi.json", 200);
    await expectNoStore(await send("/admin/ui"), "GET /admin/ui", 200);
    await expectNoStore(await send("/admin/ui/keys/new"), "GET /admin/ui/keys/new", 200);
    await expectNoStore(await send("/admin/docs"), "GET /admin/docs", 200);
  });

  it("problems of every kind, and the admin path reached by another spelling", async () => {
    await expectNoStore(await admin("/keys/key_00000000000000000000000000"), "unknown key", 404);
    await expectNoStore(await admin("/nothing-here"), "unknown admin path", 404);
    await expectNoStore(await admin("/keys", { token: "" }), "no token", 401);
    await expectNoStore(await admin("/keys", { token: "wrong-token" }), "wrong token", 401);
    await expectNoStore(await admin("/keys", { method: "POST", json: { name: "" } }), "invalid body", 400);
    await expectNoStore(await admin("/assets/ui/none.js"), "unknown asset", 404);
    await expectNoStore(await send("//admin/keys", { headers: { Authorization: "Bearer test-admin-token-0123456789" } }), "//admin/keys", 200);
    await expectNoStore(await send("/ADMIN/whoami", { headers: { Authorization: "Bearer test-admin-token-0123456789" } }), "/ADMIN/whoami", 200);
  });

  it("a HEAD of a page or an admin route", async () => {
    await expectNoStore(await send("/admin/ui", { method: "HEAD" }), "HEAD /admin/ui", 200);
    await expectNoStore(await admin("/keys", { method: "HEAD" }), "HEAD /admin/keys", 200);
  });

  it("the dashboard's static assets, which hold no data, may be kept but are revalidated every time", async () => {
    for (const path of ["/admin/assets/ui/app.js", "/admin/assets/ui/app.css", "/admin/assets/docs/init.js"]) {
      const res = await send(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("Cache-Control"), path).toBe("no-cache");
      const etag = res.headers.get("ETag");
      await res.body?.cancel();
      expect(etag, path).toBeTruthy();
      const again = await send(path, { headers: { "If-None-Match": etag! } });
      expect(again.status, path).toBe(304);
      expect(again.headers.get("Cache-Control"), path).toBe("no-cache");
    }
  });
});
