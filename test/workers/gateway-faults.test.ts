import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createKey } from "./helpers";
import { echoed, expectProblem, gatewayWith, throwing, uncache, unknownKey } from "./gateway-helpers";

type KeyStateNamespace = Env["KEY_STATE"];

/** A KeyState namespace whose objects answer every call with `answer()`. */
function keyStateAnswering(answer: () => unknown): KeyStateNamespace {
  const stub = new Proxy({}, { get: () => answer });
  return {
    idFromName: (name: string) => env.KEY_STATE.idFromName(name),
    get: () => stub,
  } as unknown as KeyStateNamespace;
}

describe("D1 unreachable", () => {
  const gateway = gatewayWith({ DB: throwing<D1Database>("D1") });

  it("a key this isolate has cached still works", async () => {
    const { id, key } = await createKey();
    expect((await call("/echo", key)).status).toBe(200);
    expect((await echoed(await gateway.call("/echo", key))).headers["x-keygate-key-id"]).toBe(id);
  });

  it("a key found nowhere in cache is 503 GATEWAY_UNAVAILABLE, not KEY_NOT_FOUND", async () => {
    const { key } = await createKey();
    await uncache(key);
    const res = await gateway.call("/echo", key);
    await expectProblem(res.clone(), 503, "GATEWAY_UNAVAILABLE");
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    await expectProblem(await gateway.call("/echo", unknownKey()), 503, "GATEWAY_UNAVAILABLE");
    expect((await call("/echo", key)).status).toBe(200);
  });
});

describe("KV unreachable", () => {
  it("lookups fall through to D1 and the request is served", async () => {
    const gateway = gatewayWith({ KEY_CACHE: throwing<KVNamespace>("KV") });
    const { id, key } = await createKey();
    await uncache(key);
    expect((await echoed(await gateway.call("/echo", key))).headers["x-keygate-key-id"]).toBe(id);
    await expectProblem(await gateway.call("/echo", unknownKey()), 401, "KEY_NOT_FOUND");
  });

  it("a KV that rejects instead of throwing is survived too", async () => {
    const rejecting = new Proxy({}, { get: () => () => Promise.reject(new Error("KV is unreachable")) });
    const gateway = gatewayWith({ KEY_CACHE: rejecting as KVNamespace });
    const { key } = await createKey();
    await uncache(key);
    expect((await gateway.call("/echo", key)).status).toBe(200);
  });
});

describe("KeyState unreachable", () => {
  const scenarios = {
    "its calls reject": keyStateAnswering(() => Promise.reject(new Error("object reset"))),
    "its calls throw": keyStateAnswering(() => {
      throw new Error("object reset");
    }),
    "the namespace throws": throwing<KeyStateNamespace>("KeyState"),
  };
  for (const [how, KEY_STATE] of Object.entries(scenarios)) {
    const gateway = gatewayWith({ KEY_STATE });

    it(`when ${how}: 503 GATEWAY_UNAVAILABLE on normal routes, proxied on a failOpen route`, async () => {
      const { id, key } = await createKey({ ratelimits: [{ name: "minute", limit: 5, windowSeconds: 60 }] });
      const res = await gateway.call("/echo", key);
      await expectProblem(res.clone(), 503, "GATEWAY_UNAVAILABLE");
      expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
      const open = await gateway.call("/open/x", key);
      expect((await echoed(open)).headers["x-keygate-key-id"]).toBe(id);
    });

    it(`when ${how}: the key checks that need no KeyState still answer`, async () => {
      await expectProblem(await gateway.call("/echo", null), 401, "MISSING_KEY");
      const { key } = await createKey();
      await expectProblem(await gateway.call("/nowhere", key), 404, "NO_ROUTE");
    });
  }

  it("a KeyState that never answers is 503 within STATE_TIMEOUT_MS", async () => {
    const gateway = gatewayWith({ KEY_STATE: keyStateAnswering(() => new Promise(() => {})) });
    const { key } = await createKey();
    const started = Date.now();
    const res = await gateway.call("/echo", key);
    const elapsed = Date.now() - started;
    await expectProblem(res, 503, "GATEWAY_UNAVAILABLE");
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(3000);
  });
});

describe("Analytics Engine unreachable", () => {
  it("a throwing writeDataPoint changes nothing in the response", async () => {
    const gateway = gatewayWith({ USAGE: { writeDataPoint: () => { throw new Error("dataset gone"); } } });
    const { id, key } = await createKey();
    expect((await echoed(await gateway.call("/echo", key))).headers["x-keygate-key-id"]).toBe(id);
    await expectProblem(await gateway.call("/nowhere", key), 404, "NO_ROUTE");
    await expectProblem(await gateway.call("/echo", null), 401, "MISSING_KEY");
  });

  it("a missing dataset binding changes nothing either", async () => {
    const gateway = gatewayWith({ USAGE: throwing<AnalyticsEngineDataset>("USAGE") });
    const { key } = await createKey();
    expect((await gateway.call("/echo", key)).status).toBe(200);
  });
});
