import { beforeAll, describe, expect, it } from "vitest";
import type { KeyRecord } from "../../src/keys/record";
import { admin, createKey, uniqueOwner, type Created } from "./helpers";
import { adminKey, auditBy, body, expectInvalid, expectProblem, keysOf } from "./admin-helpers";

const JSON_TYPE = { "Content-Type": "application/json" };

/** Requests a client library gets wrong before any field is read; none may change anything. */
describe("admin requests that are not well-formed JSON", () => {
  let operator: Created;
  let ownerId: string;
  let key: Created;
  beforeAll(async () => {
    operator = await adminKey(["admin:write"]);
    ownerId = uniqueOwner();
    key = await createKey({ ownerId });
  });
  const send = (path: string, init: RequestInit) => admin(path, { ...init, token: operator.key });
  const valid = () => JSON.stringify({ name: "k", ownerId });

  it("refuses malformed JSON, saying the body is not JSON", async () => {
    for (const [path, method] of [["/keys", "POST"], [`/keys/${key.id}`, "PATCH"], ["/keys/verify", "POST"]]) {
      const p = await expectInvalid(await send(path, { method, body: '{"name": "k",', headers: JSON_TYPE }), "");
      expect(p.detail).toMatch(/JSON/);
    }
  });

  it("refuses a body that is JSON but not an object", async () => {
    for (const text of ["[1]", "null", '"name"', "42"]) {
      await expectProblem(await send("/keys", { method: "POST", body: text, headers: JSON_TYPE }), 400, "VALIDATION_FAILED");
    }
  });

  it("refuses another content type with 415, naming application/json", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
      const res = await send("/keys", { method: "POST", body: valid(), headers: { "Content-Type": type } });
      const p = await expectProblem(res, 415, "UNSUPPORTED_MEDIA_TYPE");
      expect(p.detail).toContain("application/json");
    }
    const res = await send(`/keys/${key.id}`, { method: "PATCH", body: '{"name":"x"}', headers: { "Content-Type": "text/plain" } });
    expect((await expectProblem(res, 415, "UNSUPPORTED_MEDIA_TYPE")).detail).toContain("application/json");
    // Bytes carry no Content-Type of their own.
    const untyped = await send("/keys", { method: "POST", body: new TextEncoder().encode(valid()) });
    expect((await expectProblem(untyped, 415, "UNSUPPORTED_MEDIA_TYPE")).detail).toContain("application/json");
  });

  it("takes a JSON content type with parameters", async () => {
    const res = await admin("/keys", {
      method: "POST",
      body: JSON.stringify({ name: "k", ownerId: uniqueOwner() }),
      headers: { "Content-Type": "application/json; charset=utf-8" },
    });
    expect(res.status, await res.text()).toBe(201);
  });

  it("refuses a missing body where one is required, saying a JSON body is needed", async () => {
    for (const [path, method] of [["/keys", "POST"], [`/keys/${key.id}`, "PATCH"], ["/keys/verify", "POST"]]) {
      const p = await expectProblem(await send(path, { method }), 400, "VALIDATION_FAILED");
      expect(p.detail).toMatch(/JSON body/);
      const empty = await expectProblem(await send(path, { method, body: "", headers: JSON_TYPE }), 400, "VALIDATION_FAILED");
      expect(empty.detail).toMatch(/JSON/);
    }
  });

  it("refuses a 1 MiB body with 413 before reading it", async () => {
    const big = JSON.stringify({ name: "k", ownerId, metadata: { blob: "x".repeat(1 << 20) } });
    const p = await expectProblem(await send("/keys", { method: "POST", body: big, headers: JSON_TYPE }), 413, "PAYLOAD_TOO_LARGE");
    expect(p.detail).toMatch(/\d+ bytes/);
    const patch = await send(`/keys/${key.id}`, { method: "PATCH", body: big, headers: JSON_TYPE });
    await expectProblem(patch, 413, "PAYLOAD_TOO_LARGE");
  });

  it("refuses a 1 MiB body sent without Content-Length", async () => {
    const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 16; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await send("/keys", { method: "POST", body: stream, headers: JSON_TYPE });
    await expectProblem(res, 413, "PAYLOAD_TOO_LARGE");
  });

  it("left the key unchanged, created nothing and wrote no audit entry", async () => {
    const { key: _key, ...record } = key;
    expect((await keysOf(ownerId)).map((k) => k.id)).toEqual([key.id]);
    expect(await body<KeyRecord>(await admin(`/keys/${key.id}`), 200)).toEqual(record);
    expect(await auditBy(operator.id)).toEqual([]);
  });
});

describe("admin requests naming what does not exist", () => {
  it("answers 404 NOT_FOUND for unknown and malformed ids, on every key route", async () => {
    const unknown = "key_00000000000000000000000000";
    for (const id of [unknown, "nope", "key_0000000000000000000000000I", "aud_00000000000000000000000000"]) {
      for (const [path, method, json] of [
        [`/keys/${id}`, "GET"],
        [`/keys/${id}`, "PATCH", { name: "x" }],
        [`/keys/${id}`, "DELETE"],
        [`/keys/${id}/rotate`, "POST", {}],
      ] as const) {
        const p = await expectProblem(await admin(path, { method, json }), 404, "NOT_FOUND");
        expect(p.detail).toContain(id);
      }
    }
  });

  it("answers 404 for a path outside the admin API's routes", async () => {
    await expectProblem(await admin("/nothing-here"), 404, "NOT_FOUND");
    await expectProblem(await admin(`/keys/${(await createKey()).id}`, { method: "PUT", json: {} }), 404, "NOT_FOUND");
  });

  it("refuses impossible list filters, naming each", async () => {
    for (const [query, path] of [
      ["limit=0", "limit"],
      ["limit=-3", "limit"],
      ["limit=2.5", "limit"],
      ["limit=101", "limit"],
      ["status=gone", "status"],
      ["environment=prod", "environment"],
      [`ownerId=${"o".repeat(201)}`, "ownerId"],
    ]) {
      await expectInvalid(await admin(`/keys?${query}`), path);
    }
  });
});

describe("a request with no body", () => {
  it("takes an empty body with a JSON Content-Type as no body where the body is optional", async () => {
    const rotating = await createKey();
    const res = await admin(`/keys/${rotating.id}/rotate`, { method: "POST", body: "", headers: JSON_TYPE });
    expect(res.status, await res.clone().text()).toBe(201);
    // Text that is only white space is not "no body": it is JSON that does not parse.
    const blank = await expectProblem(await admin(`/keys/${rotating.id}/rotate`, { method: "POST", body: " ", headers: JSON_TYPE }), 400, "VALIDATION_FAILED");
    expect(blank.detail).toMatch(/JSON/);
  });
});
