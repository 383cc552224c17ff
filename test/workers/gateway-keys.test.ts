import { describe, expect, it } from "vitest";
import { call, createKey } from "./helpers";
import { echoed, expectProblem } from "./gateway-helpers";

/** Where the gateway takes the consumer's key from, and that the key never reaches the origin. */
describe("key sources", () => {
  it("accepts Authorization: Bearer and strips it before the origin", async () => {
    const { id, key } = await createKey();
    const echo = await echoed(await call("/echo", key));
    expect(echo.headers["x-keygate-key-id"]).toBe(id);
    expect(echo.headers.authorization).toBeUndefined();
    expect(JSON.stringify(echo)).not.toContain(key);
  });

  it("accepts the Bearer scheme in any case", async () => {
    const { id, key } = await createKey();
    const echo = await echoed(await call("/echo", null, { headers: { Authorization: `bearer ${key}` } }));
    expect(echo.headers["x-keygate-key-id"]).toBe(id);
  });

  it("accepts X-API-Key and strips it before the origin", async () => {
    const { id, key } = await createKey();
    const echo = await echoed(await call("/echo", null, { headers: { "X-API-Key": key } }));
    expect(echo.headers["x-keygate-key-id"]).toBe(id);
    expect(echo.headers["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(echo)).not.toContain(key);
  });

  it("accepts api_key on a route with allowQueryKey and keeps the rest of the query", async () => {
    const { id, key } = await createKey();
    const echo = await echoed(await call(`/query/items?a=1&api_key=${key}&b=x%20y&a=2`, null));
    expect(echo.headers["x-keygate-key-id"]).toBe(id);
    expect(echo.url).toBe("/query/items?a=1&b=x%20y&a=2");
  });

  it("drops the query entirely when api_key was its only parameter", async () => {
    const { key } = await createKey();
    expect((await echoed(await call(`/query?api_key=${key}`, null))).url).toBe("/query");
  });

  it("refuses api_key on routes without allowQueryKey, and strips it there too", async () => {
    const { key } = await createKey();
    const refused = await expectProblem(await call(`/echo?api_key=${key}`, null), 401, "MISSING_KEY");
    expect(refused.detail).toContain("api_key");
    const echo = await echoed(await call(`/echo?api_key=${key}&keep=1`, key));
    expect(echo.url).toBe("/echo?keep=1");
  });

  it("strips api_key however its name is percent-encoded", async () => {
    const { key } = await createKey();
    const echo = await echoed(await call(`/echo?api%5Fkey=${key}&api_%6bey=${key}&keep=1`, key));
    expect(echo.url).toBe("/echo?keep=1");
  });

  it("accepts the same key sent twice", async () => {
    const { id, key } = await createKey();
    const echo = await echoed(await call(`/query?api_key=${key}`, key, { headers: { "X-API-Key": key } }));
    expect(echo.headers["x-keygate-key-id"]).toBe(id);
  });

  it("refuses two different keys in one request", async () => {
    const a = await createKey();
    const b = await createKey();
    await expectProblem(await call("/echo", a.key, { headers: { "X-API-Key": b.key } }), 401, "MALFORMED_KEY");
    await expectProblem(await call(`/query?api_key=${b.key}`, a.key), 401, "MALFORMED_KEY");
    await expectProblem(await call(`/query?api_key=${a.key}&api_key=${b.key}`, null), 401, "MALFORMED_KEY");
  });
});
