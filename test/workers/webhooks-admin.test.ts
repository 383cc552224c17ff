import { describe, expect, it } from "vitest";
import { admin, createKey } from "./helpers";
import { body } from "./admin-helpers";
import { expectProblem } from "./gateway-helpers";
import { endpointWithReceiver, forget, type Webhook } from "./webhook-helpers";

/** DESIGN.md, "Events and webhooks": the endpoints' admin routes. */

const WEBHOOK_FIELDS = ["id", "url", "description", "events", "enabled", "disabledReason", "failingSince", "createdAt", "updatedAt"];

async function create(json: unknown) {
  const res = await admin("/webhooks", { method: "POST", json });
  if (res.status === 201) forget(((await res.clone().json()) as Webhook).id);
  return res;
}

describe("POST /admin/webhooks", () => {
  it("answers 201 with the endpoint and its secret, once", async () => {
    const res = await create({ url: "https://example.com/hooks/keygate", events: ["key.revoked", "key.leaked"], description: "Fraud desk" });
    const created = await body<Webhook & { secret: string }>(res, 201);
    expect(created.id).toMatch(/^whk_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(created).toMatchObject({ url: "https://example.com/hooks/keygate", events: ["key.revoked", "key.leaked"], description: "Fraud desk", enabled: true, disabledReason: null, failingSince: null });
    // whsec_ and the base64 of 32 random bytes
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(atob(created.secret.slice("whsec_".length))).toHaveLength(32);
    const { secret, ...shown } = created;
    const fetched = await body<Webhook>(await admin(`/webhooks/${created.id}`), 200);
    expect(Object.keys(fetched).sort()).toEqual([...WEBHOOK_FIELDS].sort());
    expect(fetched).toEqual(shown);
    const listed = await body<{ data: Webhook[] }>(await admin("/webhooks?limit=100"), 200);
    expect(listed.data.find((w) => w.id === created.id)).toEqual(shown);
    expect(JSON.stringify(listed)).not.toContain(secret);
  });

  it("takes every event type, or * alone", async () => {
    expect((await create({ url: "https://example.com/a", events: ["*"] })).status).toBe(201);
    await expectProblem(await create({ url: "https://example.com/a", events: ["*", "key.created"] }), 400, "VALIDATION_FAILED");
    await expectProblem(await create({ url: "https://example.com/a", events: ["key.exploded"] }), 400, "VALIDATION_FAILED");
    await expectProblem(await create({ url: "https://example.com/a", events: [] }), 400, "VALIDATION_FAILED");
  });

  it.each([
    ["http: to a host that is not loopback", "http://example.com/hooks"],
    ["http: to a private address", "http://10.0.0.8/hooks"],
    ["credentials", "https://user:secret@example.com/hooks"],
    ["a user name alone", "https://user@example.com/hooks"],
    ["another scheme", "ftp://example.com/hooks"],
    ["no URL at all", "example.com/hooks"],
  ])("refuses %s: 400, nothing created", async (_, url) => {
    const problem = await expectProblem(await create({ url, events: ["*"] }), 400, "VALIDATION_FAILED");
    expect(problem.detail).toMatch(/url/);
    const after = await body<{ data: Webhook[] }>(await admin("/webhooks?limit=100"), 200);
    expect(after.data.filter((w) => w.url === url)).toEqual([]);
  });

  it.each([["http://127.0.0.1:8788/hooks"], ["http://localhost:3000/hooks"], ["http://[::1]:3000/hooks"], ["https://hooks.example.com/x"]])("takes %s", async (url) => {
    expect((await create({ url, events: ["*"] })).status).toBe(201);
  });

  it("audits the creation, never with the secret", async () => {
    const created = await body<Webhook & { secret: string }>(await create({ url: "https://example.com/audited", events: ["key.created"] }), 201);
    const audit = await body<{ data: { action: string; actor: string; changes: unknown }[] }>(await admin(`/audit?targetId=${created.id}`), 200);
    expect(audit.data).toHaveLength(1);
    expect(audit.data[0]).toMatchObject({ action: "webhook.create", actor: "root" });
    expect(JSON.stringify(audit.data)).not.toContain(created.secret);
  });

  it("needs write access: an admin:read key is refused", async () => {
    const reader = await createKey({ scopes: ["admin:read"] });
    await expectProblem(await admin("/webhooks", { method: "POST", json: { url: "https://example.com/x", events: ["*"] }, token: reader.key }), 403, "FORBIDDEN");
    expect((await admin("/webhooks", { token: reader.key })).status).toBe(200);
  });
});

describe("PATCH, DELETE and rotate-secret", () => {
  it("changes url, events, description and enabled, audited", async () => {
    const { webhook } = await endpointWithReceiver(["key.created"]);
    const changed = await body<Webhook>(
      await admin(`/webhooks/${webhook.id}`, { method: "PATCH", json: { url: "https://example.com/elsewhere", events: ["*"], description: "moved", enabled: false } }),
      200,
    );
    expect(changed).toMatchObject({ url: "https://example.com/elsewhere", events: ["*"], description: "moved", enabled: false });
    expect(await body<Webhook>(await admin(`/webhooks/${webhook.id}`), 200)).toEqual(changed);
    const audit = await body<{ data: { action: string; changes: Record<string, unknown> }[] }>(await admin(`/audit?targetId=${webhook.id}&action=webhook.update`), 200);
    expect(Object.keys(audit.data[0].changes).sort()).toEqual(["description", "enabled", "events", "url"]);
    await expectProblem(await admin(`/webhooks/${webhook.id}`, { method: "PATCH", json: { url: "http://example.com/x" } }), 400, "VALIDATION_FAILED");
    await expectProblem(await admin(`/webhooks/${webhook.id}`, { method: "PATCH", json: { secret: "whsec_x" } }), 400, "VALIDATION_FAILED");
  });

  it("rotates the secret: the new one is shown once and differs", async () => {
    const { webhook, secret } = await endpointWithReceiver(["key.created"]);
    const rotated = await body<Webhook & { secret: string; previousSecretExpiresAt: string }>(await admin(`/webhooks/${webhook.id}/rotate-secret`, { method: "POST" }), 200);
    expect(rotated.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(rotated.secret).not.toBe(secret);
    const inADay = Date.parse(rotated.previousSecretExpiresAt) - Date.now();
    expect(inADay).toBeGreaterThan(23.9 * 3_600_000);
    expect(inADay).toBeLessThanOrEqual(24 * 3_600_000);
    expect(JSON.stringify(await body(await admin(`/webhooks/${webhook.id}`), 200))).not.toContain(rotated.secret);
  });

  it("deletes: then 404 everywhere", async () => {
    const { webhook } = await endpointWithReceiver(["key.created"]);
    expect(await body(await admin(`/webhooks/${webhook.id}`, { method: "DELETE" }), 200)).toEqual({ id: webhook.id, deleted: true });
    for (const [method, path] of [
      ["GET", ""],
      ["PATCH", ""],
      ["DELETE", ""],
      ["POST", "/rotate-secret"],
      ["POST", "/test"],
      ["GET", "/deliveries"],
    ]) {
      const res = await admin(`/webhooks/${webhook.id}${path}`, { method, ...(method === "PATCH" ? { json: { description: "x" } } : {}) });
      await expectProblem(res, 404, "NOT_FOUND");
    }
  });

  it("answers 404 for ids that are not endpoints'", async () => {
    for (const id of ["whk_00000000000000000000000000", "key_00000000000000000000000000", "nope"]) {
      await expectProblem(await admin(`/webhooks/${id}`), 404, "NOT_FOUND");
    }
  });
});

describe("GET /admin/webhooks/{id}/deliveries", () => {
  it("lists attempts newest first, filtered by status, paged", async () => {
    const { webhook } = await endpointWithReceiver(["webhook.test"]);
    for (let i = 0; i < 3; i++) expect((await admin(`/webhooks/${webhook.id}/test`, { method: "POST" })).status).toBe(200);
    const page = await body<{ data: { eventId: string; status: string; attempt: number }[]; nextCursor: string | null }>(
      await admin(`/webhooks/${webhook.id}/deliveries?limit=2`),
      200,
    );
    expect(page.data).toHaveLength(2);
    expect(page.data.every((d) => d.status === "succeeded" && d.attempt === 1)).toBe(true);
    const rest = await body<{ data: unknown[]; nextCursor: string | null }>(await admin(`/webhooks/${webhook.id}/deliveries?limit=2&cursor=${encodeURIComponent(page.nextCursor!)}`), 200);
    expect(rest.data).toHaveLength(1);
    expect(rest.nextCursor).toBeNull();
    expect((await body<{ data: unknown[] }>(await admin(`/webhooks/${webhook.id}/deliveries?status=failed`), 200)).data).toEqual([]);
    await expectProblem(await admin(`/webhooks/${webhook.id}/deliveries?status=pending`), 400, "VALIDATION_FAILED");
  });
});
