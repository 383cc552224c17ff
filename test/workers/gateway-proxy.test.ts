import { describe, expect, it } from "vitest";
import { call, createKey, send } from "./helpers";
import { echoed, expectProblem, sha256Hex } from "./gateway-helpers";

const allScopes = () => createKey({ scopes: ["*"] });

describe("proxying to the origin", () => {
  it("streams a 5 MB request body to the origin byte for byte", async () => {
    const { key } = await allScopes();
    const body = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
    const echo = await echoed(await call("/echo/upload", key, { method: "PUT", body }));
    expect(echo.method).toBe("PUT");
    expect(echo.bodyBytes).toBe(body.length);
    expect(echo.bodySha256).toBe(await sha256Hex(body));
  });

  it("returns the origin's status, headers and body, with X-Request-Id", async () => {
    const { key } = await allScopes();
    const res = await call("/echo/x?y=1", key, { method: "PATCH", body: "hi" });
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(res.headers.get("X-Request-Id")).toMatch(/^req_/);
    const echo = await echoed(res);
    expect(echo).toMatchObject({ method: "PATCH", url: "/echo/x?y=1", bodyBytes: 2 });
  });

  it("stripPrefix forwards the rest of the path under the upstream's base path", async () => {
    const { key } = await allScopes();
    expect((await echoed(await call("/strip/a/b?c=1", key))).url).toBe("/base/a/b?c=1");
    expect((await echoed(await call("/strip", key))).url).toBe("/base/");
  });

  it("keeps the query exactly as sent", async () => {
    const { key } = await allScopes();
    const echo = await echoed(await call("/echo/q?b=2&a=1&a=x%2By&empty=&flag", key));
    expect(echo.url).toBe("/echo/q?b=2&a=1&a=x%2By&empty=&flag");
  });
});

describe("path normalisation never lets a request leave its route", () => {
  it("dot segments, plain or percent-encoded, are resolved before the route is chosen", async () => {
    const reader = await createKey({ scopes: ["posts:read"] });
    const nobody = await createKey();
    for (const path of ["/echo/../posts/1", "/echo/%2e%2e/posts/1", "/echo/.%2E/posts/1", "/echo/x/../../posts/1"]) {
      const echo = await echoed(await call(path, reader.key));
      expect(echo.url).toBe("/posts/1");
      await expectProblem(await call(path, nobody.key), 403, "INSUFFICIENT_SCOPE");
    }
    const admin = await send("/echo/../admin/keys", { headers: { Authorization: `Bearer ${reader.key}` } });
    expect([401, 403]).toContain(admin.status);
    expect(admin.headers.get("X-Origin")).toBeNull();
  });

  it("encoded slashes, backslashes and NULs are NO_ROUTE", async () => {
    const { key } = await allScopes();
    for (const path of ["/echo/..%2Fposts", "/echo%2F..%2Fposts", "/echo/%2e%2e%2fadmin", "/echo/..%5Cposts", "/echo/%5C%5Cevil", "/echo/a%00b"]) {
      await expectProblem(await call(path, key), 404, "NO_ROUTE");
    }
  });

  it("runs of slashes collapse, and cannot name another host", async () => {
    const { key } = await allScopes();
    expect((await echoed(await call("/echo//a///b", key))).url).toBe("/echo/a/b");
    expect((await echoed(await call("//echo/a", key))).url).toBe("/echo/a");
    await expectProblem(await call("//evil.example/echo", key), 404, "NO_ROUTE");
  });

  it("backslashes are path separators", async () => {
    const { key } = await allScopes();
    expect((await echoed(await call("/echo\\..\\strip\\x", key))).url).toBe("/base/x");
  });
});

describe("origin failures", () => {
  it("an origin slower than the route's timeout is 504 UPSTREAM_TIMEOUT, soon after the timeout", async () => {
    const { key } = await allScopes();
    const started = Date.now();
    const res = await call("/slow", key);
    const elapsed = Date.now() - started;
    await expectProblem(res, 504, "UPSTREAM_TIMEOUT");
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2000);
  });

  it("an origin nobody listens on is 502 UPSTREAM_UNAVAILABLE", async () => {
    const { key } = await allScopes();
    await expectProblem(await call("/down", key), 502, "UPSTREAM_UNAVAILABLE");
  });

  it("an origin that drops the connection is 502 UPSTREAM_UNAVAILABLE", async () => {
    const { key } = await allScopes();
    await expectProblem(await call("/reset", key), 502, "UPSTREAM_UNAVAILABLE");
  });
});
