import { describe, expect, it } from "vitest";
import { admin, ADMIN_TOKEN, createKey, uniqueOwner } from "./helpers";
import { auditOf, expectInvalid, getRecord, keysOf } from "./admin-helpers";

/**
 * What keygate stores is what the client sent, or the request is refused naming the field: a
 * lone surrogate (which D1's UTF-8 would turn into U+FFFD), a `__proto__` key (which JavaScript
 * objects drop or turn into a prototype) or a number JSON cannot write back (1e999) is a 400
 * VALIDATION_FAILED, never a 201 with something else stored.
 */

/** Raw JSON text, so `__proto__` stays a key (an object literal would make it a prototype). */
const raw = (method: string, path: string, text: string) =>
  admin(path, { method, body: text, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" } });

const LONE = ["\\ud800", "\\udfff", "a\\ud83d", "\\ude00b"];

describe("create and PATCH bodies", () => {
  it("refuse a lone surrogate in any string field, naming the field", async () => {
    const ownerId = uniqueOwner("lone");
    for (const lone of LONE) {
      const create = (fields: string) => raw("POST", "/keys", `{"name":"n","ownerId":"${ownerId}",${fields}}`);
      await expectInvalid(await raw("POST", "/keys", `{"name":"${lone}","ownerId":"${ownerId}"}`), "name");
      await expectInvalid(await raw("POST", "/keys", `{"name":"n","ownerId":"${ownerId}${lone}"}`), "ownerId");
      await expectInvalid(await create(`"scopes":["posts:read${lone}"]`), "scopes.0");
      await expectInvalid(await create(`"metadata":{"plan":"pro${lone}"}`), "metadata.plan");
      await expectInvalid(await create(`"metadata":{"a":{"list":["ok","x${lone}"]}}`), "metadata.a.list.1");
      await expectInvalid(await create(`"allowedIps":["10.0.0.1${lone}"]`), "allowedIps.0");
      await expectInvalid(await create(`"ratelimits":[{"name":"m${lone}","limit":1,"windowSeconds":1}]`), "ratelimits.0.name");
    }
    expect(await keysOf(ownerId)).toEqual([]);
  });

  it("refuse a lone surrogate in a metadata key, naming it", async () => {
    const ownerId = uniqueOwner("lone");
    const res = await raw("POST", "/keys", `{"name":"n","ownerId":"${ownerId}","metadata":{"k\\ud800":1}}`);
    const p = await expectInvalid(res, "metadata.k\ud800");
    expect(p.issues!.find((i) => i.path === "metadata.k\ud800")!.message).toMatch(/surrogate/);
    expect(await keysOf(ownerId)).toEqual([]);
  });

  it("keep well-formed text exactly, astral characters included", async () => {
    const name = "Ключ 🔑 \u{1F600} ✓";
    const metadata = { "名前": "値 😀", nested: { list: ["𝄞", "e\u0301"] }, constructor: "kept", prototype: 1 };
    const created = await createKey({ name, metadata });
    expect(created).toMatchObject({ name, metadata });
    expect(await getRecord(created.id)).toMatchObject({ name, metadata });
  });

  it("refuse a __proto__ key in metadata at any depth, naming it", async () => {
    const ownerId = uniqueOwner("proto");
    const create = (metadata: string) => raw("POST", "/keys", `{"name":"n","ownerId":"${ownerId}","metadata":${metadata}}`);
    await expectInvalid(await create(`{"__proto__":{"admin":true}}`), "metadata.__proto__");
    await expectInvalid(await create(`{"a":{"__proto__":{"admin":true}}}`), "metadata.a.__proto__");
    await expectInvalid(await create(`{"a":[1,{"b":{"__proto__":null}}]}`), "metadata.a.1.b.__proto__");
    expect(await keysOf(ownerId)).toEqual([]);
  });

  it("refuse a number JSON cannot write back", async () => {
    const ownerId = uniqueOwner("inf");
    await expectInvalid(await raw("POST", "/keys", `{"name":"n","ownerId":"${ownerId}","metadata":{"big":1e999}}`), "metadata.big");
    expect(await keysOf(ownerId)).toEqual([]);
  });

  it("apply to PATCH alike, changing nothing", async () => {
    const created = await createKey({ metadata: { plan: "pro" } });
    const trail = await auditOf(created.id);
    const path = `/keys/${created.id}`;
    await expectInvalid(await raw("PATCH", path, `{"name":"x\\udc00"}`), "name");
    await expectInvalid(await raw("PATCH", path, `{"metadata":{"__proto__":{"plan":"free"}}}`), "metadata.__proto__");
    await expectInvalid(await raw("PATCH", path, `{"metadata":{"a":{"__proto__":{}}}}`), "metadata.a.__proto__");
    await expectInvalid(await raw("PATCH", path, `{"metadata":{"note":"\\ud800"}}`), "metadata.note");
    await expectInvalid(await raw("PATCH", path, `{"scopes":["a:\\ud800"]}`), "scopes.0");
    const { key: _key, ...record } = created;
    expect(await getRecord(created.id)).toEqual(record);
    expect(await auditOf(created.id)).toEqual(trail);
  });
});
