import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { describe, expect, it } from "vitest";
import { BASE, call, createKey, send } from "./helpers";
import { decodeMetadata, echoed, gatewayWith, patchKey } from "./gateway-helpers";

async function jwks(): Promise<JSONWebKeySet> {
  const res = await send("/.well-known/jwks.json");
  expect(res.status).toBe(200);
  return res.json();
}

async function verifyAssertion(token: string, audience: string, issuer = BASE) {
  return jwtVerify(token, createLocalJWKSet(await jwks()), { issuer, audience, algorithms: ["ES256"] });
}

/** DESIGN.md "What the origin receives". */
describe("identity headers", () => {
  it("tells the origin who called: key id, owner, environment, scopes, metadata, request id", async () => {
    const metadata = { plan: "pro", note: "café ✓", nested: { n: 1 } };
    const created = await createKey({ environment: "test", scopes: ["posts:read", "posts:write"], metadata });
    const res = await call("/echo/who", created.key);
    const echo = await echoed(res);
    expect(echo.headers["x-keygate-key-id"]).toBe(created.id);
    expect(echo.headers["x-keygate-owner-id"]).toBe(created.ownerId);
    expect(echo.headers["x-keygate-environment"]).toBe("test");
    expect(echo.headers["x-keygate-scopes"]).toBe("posts:read posts:write");
    expect(echo.headers["x-keygate-metadata"]).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeMetadata(echo.headers["x-keygate-metadata"]!)).toEqual(metadata);
    expect(echo.headers["x-request-id"]).toBe(res.headers.get("X-Request-Id"));
    expect(echo.headers["x-keygate-assertion"]).toBeTruthy();
  });

  it("removes every inbound X-Keygate-* header and the key, so none can be spoofed", async () => {
    const created = await createKey({ scopes: ["posts:read"] });
    const res = await call("/echo", null, {
      headers: {
        "X-API-Key": created.key,
        "X-Keygate-Key-Id": "key_01AAAAAAAAAAAAAAAAAAAAAAAA",
        "X-Keygate-Owner-Id": "root",
        "X-Keygate-Environment": "live-admin",
        "X-Keygate-Scopes": "*",
        "X-Keygate-Metadata": "eyJhZG1pbiI6dHJ1ZX0",
        "X-Keygate-Assertion": "forged.token.here",
        "X-Keygate-Anything": "spoofed",
        "X-Request-Id": "req_spoofed",
      },
    });
    const echo = await echoed(res);
    expect(echo.headers["x-keygate-key-id"]).toBe(created.id);
    expect(echo.headers["x-keygate-owner-id"]).toBe(created.ownerId);
    expect(echo.headers["x-keygate-environment"]).toBe("live");
    expect(echo.headers["x-keygate-scopes"]).toBe("posts:read");
    expect(decodeMetadata(echo.headers["x-keygate-metadata"]!)).toEqual({});
    expect(echo.headers["x-keygate-assertion"]).not.toBe("forged.token.here");
    expect(echo.headers["x-keygate-anything"]).toBeUndefined();
    expect(echo.headers["x-request-id"]).toBe(res.headers.get("X-Request-Id"));
    expect(echo.headers["x-request-id"]).not.toBe("req_spoofed");
    expect(echo.headers["x-api-key"]).toBeUndefined();
    expect(echo.headers.authorization).toBeUndefined();
  });

  it("passes ordinary request headers through", async () => {
    const { key } = await createKey();
    const echo = await echoed(await call("/echo", key, { headers: { Accept: "application/json", "X-Custom": "kept" } }));
    expect(echo.headers.accept).toBe("application/json");
    expect(echo.headers["x-custom"]).toBe("kept");
  });
});

describe("identity assertion", () => {
  it("is an ES256 JWT that verifies against /.well-known/jwks.json with the contract's claims", async () => {
    const created = await createKey({ scopes: ["posts:read"] });
    const before = Math.floor(Date.now() / 1000);
    const echo = await echoed(await call("/posts/7", created.key));
    const token = echo.headers["x-keygate-assertion"]!;

    const header = decodeProtectedHeader(token);
    expect(header.alg).toBe("ES256");
    expect((await jwks()).keys.map((k) => k.kid)).toContain(header.kid);

    const { payload } = await verifyAssertion(token, "posts");
    expect(payload).toMatchObject({
      iss: BASE,
      aud: "posts",
      sub: created.ownerId,
      kid: created.id,
      scope: "posts:read",
      env: "live",
      ver: created.version,
    });
    expect(payload.iat).toBeGreaterThanOrEqual(before - 31);
    expect(payload.iat).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
    expect(payload.exp).toBe(payload.iat! + 60);
  });

  it("names the route it was issued for, so it is refused by another route's audience", async () => {
    const { key } = await createKey();
    const token = (await echoed(await call("/echo", key))).headers["x-keygate-assertion"]!;
    await expect(verifyAssertion(token, "posts")).rejects.toThrow();
    await expect(verifyAssertion(token, "echo")).resolves.toBeTruthy();
  });

  it("fails verification once tampered with", async () => {
    const created = await createKey();
    const token = (await echoed(await call("/echo", created.key))).headers["x-keygate-assertion"]!;
    const [head, body, signature] = token.split(".");
    const claims = JSON.parse(atob(body.replaceAll("-", "+").replaceAll("_", "/")));
    const forged = btoa(JSON.stringify({ ...claims, sub: "someone-else", scope: "*" }))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "");
    await expect(verifyAssertion(`${head}.${forged}.${signature}`, "echo")).rejects.toThrow();
    const flipped = signature.slice(0, 10) + (signature[10] === "A" ? "B" : "A") + signature.slice(11);
    await expect(verifyAssertion(`${head}.${body}.${flipped}`, "echo")).rejects.toThrow();
  });

  it("carries the new scopes and version on the request right after a change", async () => {
    const created = await createKey({ scopes: ["posts:read"] });
    await echoed(await call("/echo", created.key));
    const changed = await patchKey(created.id, { scopes: ["posts:read", "comments:read"] });
    const echo = await echoed(await call("/echo", created.key));
    const { payload } = await verifyAssertion(echo.headers["x-keygate-assertion"]!, "echo");
    expect(payload).toMatchObject({ scope: "posts:read comments:read", ver: changed.version });
    expect(echo.headers["x-keygate-scopes"]).toBe("posts:read comments:read");
  });
});

describe("PUBLIC_URL: the gateway's public origin", () => {
  it("is the assertion's iss and what X-Forwarded-Host and -Proto tell the origin, whatever Host the client sent", async () => {
    const created = await createKey();
    const publicGateway = gatewayWith({ PUBLIC_URL: "https://API.Example.com:8443/" });
    for (const host of [undefined, "evil.example", "gateway.test"]) {
      const echo = await echoed(await publicGateway.call("/echo", created.key, { headers: host ? { Host: host } : {} }));
      const { payload } = await verifyAssertion(echo.headers["x-keygate-assertion"]!, "echo", "https://api.example.com:8443");
      expect(payload.iss, host).toBe("https://api.example.com:8443");
      expect(echo.headers["x-forwarded-host"], host).toBe("api.example.com:8443");
      expect(echo.headers["x-forwarded-proto"], host).toBe("https");
    }
  });

  it("when unset, the request's own origin is the issuer", async () => {
    const created = await createKey();
    const echo = await echoed(await gatewayWith({ PUBLIC_URL: undefined }).call("/echo", created.key));
    expect((await verifyAssertion(echo.headers["x-keygate-assertion"]!, "echo")).payload.iss).toBe(BASE);
    expect(echo.headers["x-forwarded-host"]).toBe(new URL(BASE).host);
    expect(echo.headers["x-forwarded-proto"]).toBe("https");
  });
});
