import { describe, expect, it } from "vitest";
import { admin, ADMIN_TOKEN, createKey, uniqueOwner } from "./helpers";
import { auditOf, body, getRecord, keysOf } from "./admin-helpers";
import { expectProblem } from "./gateway-helpers";
import { aboutKey, deliveriesTo, endpointWithReceiver, payloadOf } from "./webhook-helpers";
import { base64Hash, foreignKey, hexHash, importGateway, imported, postImport, PREFIXES, rows } from "./import-helpers";
import { generateKey } from "../../src/keys/format";

/**
 * DESIGN.md, "Importing keys": POST /admin/keys/import takes up to 1,000 items, each the fields
 * of a create and exactly one of `key` and `hash`, and answers one result per item, in order.
 */

const gateway = importGateway();
const item = (fields: Record<string, unknown> = {}) => ({ name: "imported", ownerId: uniqueOwner("imp"), key: foreignKey(), ...fields });

describe("POST /admin/keys/import: what each item gets", () => {
  it("creates imported keys from a plaintext, a hex hash and a base64 hash, in order, each with its record", async () => {
    const ownerId = uniqueOwner("imp");
    const [plain, hex, b64] = [foreignKey(), foreignKey("bs_", 30), foreignKey()];
    const results = await imported(gateway, {
      keys: [
        { name: "plain", ownerId, key: plain, scopes: ["posts:read"], metadata: { tier: "gold" } },
        { name: "hex", ownerId, hash: await hexHash(hex) },
        { name: "b64", ownerId, environment: "test", hash: await base64Hash(b64) },
      ],
    });
    expect(results.map((r) => [r.index, r.status])).toEqual([
      [0, "created"],
      [1, "created"],
      [2, "created"],
    ]);
    const [a, b, c] = await Promise.all(results.map((r) => getRecord(r.id!)));
    expect(a).toMatchObject({ name: "plain", ownerId, imported: true, start: `sk_live_${plain.slice(8, 12)}`, scopes: ["posts:read"], metadata: { tier: "gold" }, version: 1 });
    expect(b).toMatchObject({ name: "hex", imported: true, start: null, environment: "live" });
    expect(c).toMatchObject({ name: "b64", imported: true, start: null, environment: "test" });
    expect(JSON.stringify([a, b, c])).not.toContain(plain.slice(12));
  });

  it("keys created with POST /admin/keys are not imported", async () => {
    const created = await createKey();
    expect(created.imported).toBe(false);
    expect((await getRecord(created.id)).imported).toBe(false);
  });

  it("an item with both key and hash, with neither, or with a malformed hash is invalid; the others are created", async () => {
    const key = foreignKey();
    const results = await imported(gateway, {
      keys: [
        item({ key, hash: await hexHash(key) }),
        { name: "neither", ownerId: uniqueOwner() },
        item({ key: undefined, hash: "sha256:abc" }),
        item({ key: undefined, hash: "md5:0123456789abcdef0123456789abcdef" }),
        item({ key: undefined, hash: `sha256-base64:${"A".repeat(42)}B=` }),
        item(),
      ],
    });
    expect(results.map((r) => r.status)).toEqual(["invalid", "invalid", "invalid", "invalid", "invalid", "created"]);
    expect(results[0].problem).toMatchObject({ code: "VALIDATION_FAILED", title: "Validation failed" });
    expect(results[0].problem!.issues!.map((i) => i.path)).toContain("hash");
    expect(results[0].problem!.detail).toMatch(/not both/);
    expect(results[1].problem!.issues!.map((i) => i.path)).toContain("key");
    expect(results[1].problem!.detail).toMatch(/key .* or hash/);
    for (const r of results.slice(2, 5)) expect(r.problem!.issues!.map((i) => i.path)).toContain("hash");
    expect(results[4].problem!.detail).toMatch(/canonical base64/);
    expect(await rows("keys", "hash = ?", (await hexHash(key)).slice(7))).toBe(0);
  });

  it("an item that fails a create's rules is invalid, with the problem's paths inside the item", async () => {
    const results = await imported(gateway, {
      keys: [item({ scopes: ["not a scope"] }), item({ name: "" }), item({ ratelimits: [{ name: "m", limit: 0, windowSeconds: 60 }] }), item({ unknownField: 1 }), "a string", null],
    });
    expect(results.every((r) => r.status === "invalid" && r.problem?.code === "VALIDATION_FAILED")).toBe(true);
    expect(results[0].problem!.issues![0].path).toBe("scopes.0");
    expect(results[1].problem!.issues![0].path).toBe("name");
    expect(results[2].problem!.issues![0].path).toBe("ratelimits.0.limit");
  });

  it("a key in keygate's own format keeps its checksum check; one of another format needs its prefix in IMPORTED_KEY_PREFIXES", async () => {
    const own = await createKey(); // a real key, to take a well-formed body from
    const corrupted = own.key.slice(0, -1) + (own.key.at(-1) === "0" ? "1" : "0");
    const results = await imported(gateway, {
      keys: [item({ key: corrupted }), item({ key: foreignKey("pk_live_") }), item({ key: "sk_live_short" }), item({ key: `sk_live_${"a b".repeat(8)}` })],
    });
    expect(results.map((r) => r.problem?.code)).toEqual(["MALFORMED_KEY", "MALFORMED_KEY", "MALFORMED_KEY", "MALFORMED_KEY"]);
    expect(results[0].problem!.detail).toMatch(/checksum/);
    expect(results[1].problem!.detail).toContain("IMPORTED_KEY_PREFIXES");
    expect(results[1].problem!.detail).toContain(JSON.stringify(PREFIXES[0]));
    expect(results[2].problem!.detail).toMatch(/16 to 256 printable ASCII/);
    expect(results[3].problem!.detail).toMatch(/16 to 256 printable ASCII/);
    // without the var, no foreign key is taken at all
    const bare = await imported(importGateway({ IMPORTED_KEY_PREFIXES: "" } as Partial<Env>), { keys: [item()] });
    expect(bare[0].problem!.detail).toContain("IMPORTED_KEY_PREFIXES (none)");
  });

  it("a key in keygate's format from another deployment is imported with its own prefix and start", async () => {
    const elsewhere = await createKey({ environment: "test" });
    await admin(`/keys/${elsewhere.id}`, { method: "DELETE" });
    // the same plaintext under another owner is the same hash: it exists, even revoked
    const [again] = await imported(gateway, { keys: [item({ key: elsewhere.key, environment: "test" })] });
    expect(again).toMatchObject({ status: "exists", id: elsewhere.id });
    const fresh = generateKey("acme_test");
    const results = await imported(gateway, { keys: [item({ key: fresh })], dryRun: false });
    expect(results[0].problem!.issues![0].path).toBe("environment");
    const [made] = await imported(gateway, { keys: [item({ key: fresh, environment: "test" })] });
    expect((await getRecord(made.id!)).start).toBe(`acme_test_${fresh.slice(10, 14)}`);
  });

  it("a plaintext whose hash a key already holds is exists, with that key's id, and never a second key", async () => {
    const held = await createKey();
    const foreign = foreignKey();
    const ownerId = uniqueOwner("imp");
    const first = await imported(gateway, { keys: [{ name: "one", ownerId, key: foreign }] });
    expect(first[0].status).toBe("created");
    const results = await imported(gateway, {
      keys: [
        { name: "theirs", ownerId, key: held.key },
        { name: "again", ownerId, key: foreign },
        { name: "again by hash", ownerId, hash: await hexHash(foreign) },
        { name: "again by base64", ownerId, hash: await base64Hash(foreign) },
      ],
    });
    expect(results).toEqual([
      { index: 0, status: "exists", id: held.id },
      { index: 1, status: "exists", id: first[0].id },
      { index: 2, status: "exists", id: first[0].id },
      { index: 3, status: "exists", id: first[0].id },
    ]);
    expect(await keysOf(ownerId)).toHaveLength(1);
  });

  it("the same key twice in one call is created once; the second item is exists", async () => {
    const key = foreignKey();
    const ownerId = uniqueOwner("imp");
    const results = await imported(gateway, { keys: [{ name: "a", ownerId, key }, { name: "b", ownerId, hash: await hexHash(key) }] });
    expect(results).toEqual([
      { index: 0, status: "created", id: results[0].id },
      { index: 1, status: "exists", id: results[0].id },
    ]);
    expect(await keysOf(ownerId)).toHaveLength(1);
  });

  it("an owner over MAX_KEYS_PER_OWNER: the items past the limit are invalid, counting the keys it holds and those before them", async () => {
    const limited = importGateway({ MAX_KEYS_PER_OWNER: "3" });
    const ownerId = uniqueOwner("full");
    await createKey({ ownerId });
    const results = await imported(limited, { keys: Array.from({ length: 4 }, (_, i) => ({ name: `k${i}`, ownerId, key: foreignKey() })) });
    expect(results.map((r) => r.status)).toEqual(["created", "created", "invalid", "invalid"]);
    expect(results[2].problem).toMatchObject({ code: "KEY_LIMIT_REACHED", title: "Key limit reached" });
    expect(results[2].problem!.detail).toContain("MAX_KEYS_PER_OWNER");
    expect(await keysOf(ownerId)).toHaveLength(3);
    // another owner in the same call is not held back
    const other = await imported(limited, { keys: [{ name: "x", ownerId, key: foreignKey() }, item()] });
    expect(other.map((r) => r.status)).toEqual(["invalid", "created"]);
  });

  it("an owner over its plan's maxKeys: invalid, naming the plan", async () => {
    const planId = `few-${Date.now().toString(36)}`;
    expect((await admin("/plans", { method: "POST", json: { id: planId, name: "Few", maxKeys: 2 } })).status).toBe(201);
    const ownerId = uniqueOwner("planned");
    expect((await admin(`/owners/${ownerId}`, { method: "PUT", json: { plan: planId } })).status).toBe(201);
    const results = await imported(gateway, { keys: Array.from({ length: 3 }, (_, i) => ({ name: `k${i}`, ownerId, key: foreignKey() })) });
    expect(results.map((r) => r.status)).toEqual(["created", "created", "invalid"]);
    expect(results[2].problem!.code).toBe("KEY_LIMIT_REACHED");
    expect(results[2].problem!.detail).toContain(`plan ${planId}'s maxKeys`);
  });

  it("a plan's scope ceiling applies: SCOPE_NOT_ALLOWED is the item's problem", async () => {
    const planId = `narrow-${Date.now().toString(36)}`;
    expect((await admin("/plans", { method: "POST", json: { id: planId, name: "Narrow", scopes: ["posts:read"] } })).status).toBe(201);
    const ownerId = uniqueOwner("narrow");
    expect((await admin(`/owners/${ownerId}`, { method: "PUT", json: { plan: planId } })).status).toBe(201);
    const results = await imported(gateway, {
      keys: [
        { name: "ok", ownerId, key: foreignKey(), scopes: ["posts:read"] },
        { name: "too much", ownerId, key: foreignKey(), scopes: ["posts:write"] },
      ],
    });
    expect(results.map((r) => r.status)).toEqual(["created", "invalid"]);
    expect(results[1].problem).toMatchObject({ code: "SCOPE_NOT_ALLOWED", title: "Scope not allowed" });
    expect(results[1].problem!.detail).toContain("posts:write");
  });

  it("KEY_POLICY applies as on create: a key without an expiry gets maxLifetimeDays, a longer one is invalid naming the rule", async () => {
    const policed = importGateway({ KEY_POLICY: JSON.stringify({ live: { maxLifetimeDays: 30, requireExpiry: true } }) });
    const results = await imported(policed, { keys: [item(), item({ expiresIn: 40 * 86_400 })] });
    expect(results.map((r) => r.status)).toEqual(["created", "invalid"]);
    const record = await getRecord(results[0].id!);
    expect(Date.parse(record.expiresAt!) - Date.parse(record.createdAt)).toBe(30 * 86_400_000);
    expect(results[1].problem!.code).toBe("VALIDATION_FAILED");
    expect(results[1].problem!.detail).toContain("KEY_POLICY.live.maxLifetimeDays");
  });

  it("every created key has its key.import audit entry (never the key), its owner row, and its key.created event", async () => {
    const { name } = await endpointWithReceiver(["key.created"]);
    const ownerId = uniqueOwner("fresh");
    const key = foreignKey();
    const [byKey, byHash] = await imported(gateway, {
      keys: [
        { name: "audited", ownerId, key, ratelimits: [{ name: "minute", limit: 5, windowSeconds: 60 }] },
        { name: "audited by hash", ownerId, hash: await hexHash(foreignKey()) },
      ],
    });
    const [entry] = await auditOf(byKey.id!);
    expect(entry).toMatchObject({ action: "key.import", actor: "root", targetId: byKey.id });
    expect(entry.changes).toMatchObject({ name: { from: null, to: "audited" }, ownerId: { from: null, to: ownerId }, imported: { from: null, to: "key" } });
    expect(JSON.stringify(entry)).not.toContain(key.slice(12));
    expect((await auditOf(byHash.id!))[0].changes.imported).toEqual({ from: null, to: "hash" });
    expect((await body<{ id: string; keys: number }>(await admin(`/owners/${ownerId}`), 200)).keys).toBe(2);
    const [delivery] = await deliveriesTo(name, aboutKey(byKey.id!, "key.created"));
    const payload = payloadOf(delivery);
    expect(payload.data.key).toMatchObject({ id: byKey.id, imported: true, ratelimits: [{ name: "minute", limit: 5, windowSeconds: 60 }] });
    expect(delivery.body).not.toContain(key.slice(12));
    await deliveriesTo(name, aboutKey(byHash.id!, "key.created"));
  });

  it("a dry run decides every item as the import would and writes nothing: no key, owner, audit entry or event", async () => {
    const ownerId = uniqueOwner("dry");
    const held = await createKey();
    const key = foreignKey();
    const results = await imported(gateway, {
      dryRun: true,
      keys: [{ name: "would", ownerId, key }, { name: "twice", ownerId, hash: await hexHash(key) }, { name: "held", ownerId, key: held.key }, { name: "bad", ownerId, key: "nope" }],
    });
    expect(results).toEqual([
      { index: 0, status: "created" },
      { index: 1, status: "exists" },
      { index: 2, status: "exists", id: held.id },
      expect.objectContaining({ index: 3, status: "invalid" }),
    ]);
    expect(await rows("keys", "owner_id = ?", ownerId)).toBe(0);
    expect(await rows("owners", "id = ?", ownerId)).toBe(0);
    expect(await rows("audit_log", "action = 'key.import' AND changes LIKE ?", `%${ownerId}%`)).toBe(0);
    expect(await rows("event_outbox", "event LIKE ?", `%${ownerId}%`)).toBe(0);
    // and the same items, for real
    const real = await imported(gateway, { keys: [{ name: "would", ownerId, key }] });
    expect(real[0].status).toBe("created");
  });
});

describe("POST /admin/keys/import: the call", () => {
  it("more than 1,000 items is 400 VALIDATION_FAILED naming keys, and nothing is written", async () => {
    const ownerId = uniqueOwner("many");
    const keys = Array.from({ length: 1001 }, () => ({ name: "n", ownerId, hash: `sha256:${"0".repeat(64)}` }));
    const problem = await expectProblem(await postImport(gateway, { keys }), 400, "VALIDATION_FAILED");
    expect(problem.detail).toMatch(/^keys: at most 1000 keys/);
    expect(await rows("keys", "owner_id = ?", ownerId)).toBe(0);
  });

  it("1,000 items is one call: every one answered, in order", async () => {
    const ownerId = uniqueOwner("thousand");
    const limited = importGateway({ MAX_KEYS_PER_OWNER: "2000" });
    const keys = Array.from({ length: 1000 }, (_, i) => ({ name: `k${i}`, ownerId, key: foreignKey() }));
    const results = await imported(limited, { keys });
    expect(results.map((r) => r.index)).toEqual(keys.map((_, i) => i));
    expect(results.every((r) => r.status === "created")).toBe(true);
    expect(await rows("keys", "owner_id = ? AND imported = 1", ownerId)).toBe(1000);
    expect(await rows("lineages", "id IN (SELECT id FROM keys WHERE owner_id = ?)", ownerId)).toBe(1000);
    expect(await rows("audit_log", "action = 'key.import' AND target_id IN (SELECT id FROM keys WHERE owner_id = ?)", ownerId)).toBe(1000);
  });

  it("its body may be up to 1 MiB; any other admin body keeps its 64 KiB limit", async () => {
    const ownerId = uniqueOwner("big");
    const metadata = { note: "x".repeat(3_000) };
    const keys = Array.from({ length: 300 }, (_, i) => ({ name: `k${i}`, ownerId, hash: `sha256:${[...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("")}`, metadata }));
    expect(JSON.stringify({ keys }).length).toBeGreaterThan(800_000);
    const results = await imported(importGateway({ MAX_KEYS_PER_OWNER: "1000" }), { keys });
    expect(results.filter((r) => r.status === "created")).toHaveLength(300);
    const tooBig = JSON.stringify({ keys: [{ name: "n", ownerId, key: foreignKey(), metadata: { pad: "y".repeat(1_100_000) } }] });
    await expectProblem(await postImport(gateway, tooBig), 413, "PAYLOAD_TOO_LARGE");
    const create = await gateway.call("/admin/keys", ADMIN_TOKEN, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "n", ownerId, metadata: { pad: "z".repeat(70_000) } }),
    });
    await expectProblem(create, 413, "PAYLOAD_TOO_LARGE");
  });

  it("what a body cannot keep as sent inside one item is that item's problem", async () => {
    const text = `{"keys":[{"name":"ok","ownerId":"${uniqueOwner()}","hash":"sha256:${"b".repeat(64)}"},{"name":"\\ud800","ownerId":"x","hash":"sha256:${"c".repeat(64)}"}]}`;
    const results = await imported(gateway, text);
    expect(results.map((r) => r.status)).toEqual(["created", "invalid"]);
    expect(results[1].problem!.issues![0]).toMatchObject({ path: "name" });
    // outside the items, the whole body is refused as before
    await expectProblem(await postImport(gateway, `{"keys":[],"__proto__":{}}`), 400, "VALIDATION_FAILED");
  });

  it("needs an operator: an admin:write key imports, with its id as the audit actor; an admin:read key is refused 403", async () => {
    const post = (key: string) =>
      gateway.call("/admin/keys/import", key, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ keys: [item()] }) });
    const writer = await createKey({ scopes: ["admin:write"] });
    const res = await post(writer.key);
    const [result] = (await body<{ results: { status: string; id: string }[] }>(res, 200)).results;
    expect(result.status).toBe("created");
    expect((await auditOf(result.id))[0].actor).toBe(writer.id);
    const viewer = await createKey({ scopes: ["admin:read"] });
    await expectProblem(await post(viewer.key), 403, "FORBIDDEN");
  });

  it("the record lists imported and a nullable start in the OpenAPI document", async () => {
    const doc = await body<{ components: { schemas: { KeyRecord: { properties: Record<string, { type: unknown }>; required: string[] } } } }>(
      await admin("/openapi.json"),
      200,
    );
    const record = doc.components.schemas.KeyRecord;
    expect(record.required).toContain("imported");
    expect(record.properties.start.type).toEqual(["string", "null"]);
  });
});
