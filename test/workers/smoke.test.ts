import { describe, expect, it } from "vitest";
import { call, createKey, send } from "./helpers";

describe("smoke", () => {
  it("answers health", async () => {
    const res = await send("/healthz");
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Request-Id")).toMatch(/^req_/);
  });

  it("creates a key and proxies with it", async () => {
    const created = await createKey({ scopes: ["posts:read"] });
    expect(created.key).toMatch(/^kg_live_/);
    const res = await call("/echo/hello?x=1", created.key);
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const echo = JSON.parse(text);
    expect(echo.headers["x-keygate-key-id"]).toBe(created.id);
  });
});
