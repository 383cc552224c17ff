import { describe, expect, it } from "vitest";
import { generateKey } from "../../src/keys/format";
import { admin, createKey, send, uniqueOwner } from "./helpers";
import { adminKey, auditBy, body, expectProblem, revoke } from "./admin-helpers";

describe("GET /admin/whoami", () => {
  it("names the caller and whether it may change anything, for the root token and both kinds of admin key", async () => {
    expect(await body(await admin("/whoami"), 200)).toEqual({ actor: "root", role: "admin", canWrite: true });
    const writer = await adminKey(["admin:write"]);
    expect(await body(await admin("/whoami", { token: writer.key }), 200)).toEqual({ actor: writer.id, role: "admin", canWrite: true });
    const reader = await adminKey(["admin:read"]);
    expect(await body(await admin("/whoami", { token: reader.key }), 200)).toEqual({ actor: reader.id, role: "viewer", canWrite: false });
  });

  it("changes nothing: no audit entry, no version bump", async () => {
    const reader = await adminKey(["admin:read"]);
    const before = (await body<{ version: number }>(await admin(`/keys/${reader.id}`), 200)).version;
    await admin("/whoami", { token: reader.key });
    expect(await auditBy(reader.id)).toEqual([]);
    expect((await body<{ version: number }>(await admin(`/keys/${reader.id}`), 200)).version).toBe(before);
  });

  it("refuses what admin auth refuses: no token, an unknown or revoked key (401), a key without admin scope (403)", async () => {
    await expectProblem(await send("/admin/whoami"), 401, "UNAUTHORIZED");
    await expectProblem(await admin("/whoami", { token: generateKey("kg_live") }), 401, "UNAUTHORIZED");
    const gone = await adminKey(["admin:read"]);
    await revoke(gone.id);
    await expectProblem(await admin("/whoami", { token: gone.key }), 401, "UNAUTHORIZED");
    const consumer = await createKey({ ownerId: uniqueOwner(), scopes: ["*"] });
    await expectProblem(await admin("/whoami", { token: consumer.key }), 403, "FORBIDDEN");
  });

  it("is in the OpenAPI document", async () => {
    const doc = await body<{ paths: Record<string, Record<string, { operationId: string }>> }>(await send("/admin/openapi.json"), 200);
    expect(doc.paths["/whoami"].get.operationId).toBe("whoami");
  });
});
