import { describe, expect, it } from "vitest";
import { call, createKey } from "./helpers";
import { corrupted, expectProblem, gatewayWith, revokeKey, sleep, throwing, unknownKey } from "./gateway-helpers";

/** DESIGN.md "Consumer requests": each check's code, status and body, and the order they run in. */
describe("gateway checks, one code each", () => {
  it("MISSING_KEY: 401 with a bare Bearer challenge", async () => {
    const res = await call("/echo", null);
    await expectProblem(res, 401, "MISSING_KEY");
    expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="keygate"');
  });

  it("MISSING_KEY when Authorization uses another scheme or holds no key", async () => {
    await expectProblem(await call("/echo", null, { headers: { Authorization: "Basic dXNlcjpwYXNz" } }), 401, "MISSING_KEY");
    await expectProblem(await call("/echo", null, { headers: { Authorization: "Bearer " } }), 401, "MISSING_KEY");
  });

  it("MALFORMED_KEY for text that is not a key, a wrong checksum, or an oversized value", async () => {
    const { key } = await createKey();
    for (const bad of ["hello", corrupted(key), `${key}x`, "kg_live_" + "A".repeat(5000)]) {
      const res = await call("/echo", bad);
      const body = await expectProblem(res, 401, "MALFORMED_KEY");
      expect(res.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
      expect(body.detail).not.toContain(bad);
    }
  });

  it("KEY_NOT_FOUND for a well-formed key nobody created", async () => {
    await expectProblem(await call("/echo", unknownKey()), 401, "KEY_NOT_FOUND");
  });

  it("KEY_REVOKED, KEY_EXPIRED, KEY_DISABLED", async () => {
    const revoked = await createKey();
    await revokeKey(revoked.id);
    await expectProblem(await call("/echo", revoked.key), 401, "KEY_REVOKED");

    const expiring = await createKey({ expiresIn: 1 });
    expect((await call("/echo", expiring.key)).status).toBe(200);
    await sleep(1100);
    await expectProblem(await call("/echo", expiring.key), 401, "KEY_EXPIRED");

    const disabled = await createKey({ enabled: false });
    await expectProblem(await call("/echo", disabled.key), 403, "KEY_DISABLED");
  });

  it("NO_ROUTE for a path no route serves, including one that only shares a prefix", async () => {
    const { key } = await createKey();
    await expectProblem(await call("/nowhere", key), 404, "NO_ROUTE");
    await expectProblem(await call("/echoes", key), 404, "NO_ROUTE");
  });

  it("IP_NOT_ALLOWED for an address outside the key's ranges; inside them it passes", async () => {
    const { key } = await createKey({ allowedIps: ["203.0.113.0/24", "2001:db8::/32"] });
    await expectProblem(await call("/echo", key, { headers: { "CF-Connecting-IP": "198.51.100.7" } }), 403, "IP_NOT_ALLOWED");
    expect((await call("/echo", key, { headers: { "CF-Connecting-IP": "203.0.113.9" } })).status).toBe(200);
    expect((await call("/echo", key, { headers: { "CF-Connecting-IP": "2001:db8::5" } })).status).toBe(200);
  });

  it("INSUFFICIENT_SCOPE per method: GET needs posts:read, anything else posts:write", async () => {
    const { key } = await createKey({ scopes: ["posts:read"] });
    expect((await call("/posts/1", key)).status).toBe(200);
    const body = await expectProblem(await call("/posts/1", key, { method: "POST", body: "{}" }), 403, "INSUFFICIENT_SCOPE");
    expect(body.detail).toContain("posts:write");
    const writer = await createKey({ scopes: ["posts:*"] });
    expect((await call("/posts/1", writer.key, { method: "DELETE" })).status).toBe(200);
  });
});

describe("gateway check order", () => {
  it("a key is judged before the path: a revoked key on an unknown path is KEY_REVOKED", async () => {
    const { id, key } = await createKey();
    await revokeKey(id);
    await expectProblem(await call("/nowhere", key), 401, "KEY_REVOKED");
    await expectProblem(await call("/nowhere", null), 401, "MISSING_KEY");
  });

  it("revoked beats expired beats disabled", async () => {
    const both = await createKey({ expiresIn: 1, enabled: false });
    await sleep(1100);
    await expectProblem(await call("/echo", both.key), 401, "KEY_EXPIRED");
    await revokeKey(both.id);
    await expectProblem(await call("/echo", both.key), 401, "KEY_REVOKED");
  });

  it("a disabled key from a disallowed IP is KEY_DISABLED", async () => {
    const { key } = await createKey({ enabled: false, allowedIps: ["203.0.113.0/24"] });
    await expectProblem(await call("/echo", key), 403, "KEY_DISABLED");
  });

  it("NO_ROUTE before IP_NOT_ALLOWED before INSUFFICIENT_SCOPE before RATE_LIMITED", async () => {
    const { key } = await createKey({ allowedIps: ["203.0.113.0/24"], ratelimits: [{ name: "minute", limit: 1, windowSeconds: 60 }] });
    await expectProblem(await call("/nowhere", key), 404, "NO_ROUTE");
    await expectProblem(await call("/posts", key), 403, "IP_NOT_ALLOWED");
    const inside = { headers: { "CF-Connecting-IP": "203.0.113.1" } };
    expect((await call("/echo", key, inside)).status).toBe(200);
    await expectProblem(await call("/echo", key, inside), 429, "RATE_LIMITED");
    await expectProblem(await call("/posts", key, inside), 403, "INSUFFICIENT_SCOPE");
  });

  it("a malformed key is refused before any cache, database or KeyState is touched", async () => {
    const gateway = gatewayWith({
      DB: throwing<D1Database>("D1"),
      KEY_CACHE: throwing<KVNamespace>("KV"),
      KEY_STATE: throwing<Env["KEY_STATE"]>("KeyState"),
    });
    const { key } = await createKey();
    for (const bad of ["nope", corrupted(key), `${key}${key}`]) {
      await expectProblem(await gateway.call("/echo", bad), 401, "MALFORMED_KEY");
    }
    await expectProblem(await gateway.call("/echo", null), 401, "MISSING_KEY");
    await expectProblem(await gateway.call("/echo", null, { headers: { "X-API-Key": corrupted(key) } }), 401, "MALFORMED_KEY");
  });
});
