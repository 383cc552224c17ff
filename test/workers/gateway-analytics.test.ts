import { describe, expect, it } from "vitest";
import { createKey } from "./helpers";
import { gatewayWith, getRecord } from "./gateway-helpers";

/** DESIGN.md "Analytics Engine data point": one per gateway request, in the contract's layout. */
function recordingGateway() {
  const points: AnalyticsEngineDataPoint[] = [];
  const gateway = gatewayWith({ USAGE: { writeDataPoint: (point?: AnalyticsEngineDataPoint) => void points.push(point!) } });
  /** Sends one request and returns it with the single data point it wrote. */
  const request = async (path: string, key: string | null, init?: RequestInit) => {
    const before = points.length;
    const res = await gateway.call(path, key, init);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(points.length - before).toBe(1);
    const point = points[before];
    const [status, gatewayMs, upstreamMs, requestBytes, responseBytes, creditsUsed] = point.doubles!;
    return { res, body, point, doubles: { status, gatewayMs, upstreamMs, requestBytes, responseBytes, creditsUsed } };
  };
  return { request };
}

describe("analytics data points", () => {
  const { request } = recordingGateway();

  it("a proxied request: key id, owner, environment, route, method, OK, status, path, client, request id and sizes", async () => {
    const created = await createKey({ environment: "test", credits: { remaining: 50 } });
    const payload = "x".repeat(1234);
    const { res, body, point, doubles } = await request("/costly/a?b=c", created.key, {
      method: "POST",
      body: payload,
      headers: { "Content-Length": String(payload.length), "User-Agent": "acme-sdk/1.2" },
    });
    expect(res.status).toBe(200);
    expect(point.indexes).toEqual([created.id]);
    expect(point.blobs).toHaveLength(12);
    expect(point.blobs!.slice(0, 6)).toEqual([created.ownerId, "test", "costly", "POST", "OK", "200"]);
    expect(point.blobs!.slice(6, 8).every((b) => typeof b === "string")).toBe(true);
    expect(point.blobs!.slice(8)).toEqual(["/costly/a", "198.51.100.7", "acme-sdk/1.2", res.headers.get("X-Request-Id")]);
    expect(point.doubles).toHaveLength(6);
    expect(doubles).toMatchObject({ status: 200, requestBytes: 1234, responseBytes: body.length, creditsUsed: 5 });
    expect(doubles.gatewayMs).toBeGreaterThanOrEqual(0);
    expect(doubles.upstreamMs).toBeGreaterThanOrEqual(0);
  });

  it("path and user agent keep their first 256 bytes, never a query or its api_key", async () => {
    const created = await createKey();
    const long = `/query/${"é".repeat(200)}`;
    const agent = `agent-${"z".repeat(400)}`;
    const { res, point } = await request(`${long}?api_key=${created.key}`, null, { headers: { "User-Agent": agent } });
    expect(res.status).toBe(200);
    const [path, , userAgent] = point.blobs!.slice(8, 11) as string[];
    const bytes = (s: string) => new TextEncoder().encode(s).length;
    expect(bytes(path)).toBeLessThanOrEqual(256);
    expect(bytes(path)).toBeGreaterThan(250);
    expect(encodeURI(long).startsWith(path)).toBe(true);
    expect(userAgent).toBe(agent.slice(0, 256));
    expect(JSON.stringify(point)).not.toContain(created.key);
  });

  it("credits are counted only where the key has a balance and the route costs something", async () => {
    const metered = await createKey({ credits: { remaining: 50 } });
    const unmetered = await createKey();
    expect((await request("/echo", metered.key)).doubles.creditsUsed).toBe(1);
    expect((await request("/free", metered.key)).doubles.creditsUsed).toBe(0);
    expect((await request("/costly", unmetered.key)).doubles.creditsUsed).toBe(0);
  });

  it("a request without a key is anonymous, with its route and the error code", async () => {
    const { res, body, point, doubles } = await request("/echo/x", null, { method: "DELETE" });
    expect(res.status).toBe(401);
    expect(point.indexes).toEqual(["anonymous"]);
    expect(point.blobs!.slice(0, 6)).toEqual(["", "", "echo", "DELETE", "MISSING_KEY", "401"]);
    expect(doubles).toMatchObject({ status: 401, upstreamMs: 0, responseBytes: body.length, creditsUsed: 0 });
    expect(body.length).toBeGreaterThan(0);
  });

  it("a refused request names the key and its refusal", async () => {
    const created = await createKey({ ratelimits: [{ name: "minute", limit: 1, windowSeconds: 60 }], credits: { remaining: 9 } });
    await request("/echo", created.key);
    const { point, doubles, body } = await request("/echo", created.key);
    expect(point.indexes).toEqual([created.id]);
    expect(point.blobs!.slice(0, 6)).toEqual([created.ownerId, "live", "echo", "GET", "RATE_LIMITED", "429"]);
    expect(doubles).toMatchObject({ status: 429, creditsUsed: 0, responseBytes: body.length });

    const lost = await request("/nowhere", created.key);
    expect(lost.point.indexes).toEqual([created.id]);
    expect(lost.point.blobs!.slice(0, 6)).toEqual([created.ownerId, "live", "", "GET", "NO_ROUTE", "404"]);
  });

  it("credits used reports exactly what the request took from the balance, also when the origin fails", async () => {
    const created = await createKey({ credits: { remaining: 10 } });
    const { res, doubles } = await request("/down", created.key);
    expect(res.status).toBe(502);
    const left = (await getRecord(created.id)).credits!.remaining;
    expect(doubles.creditsUsed).toBe(10 - left);
  });

  it("time spent waiting on the origin is upstream time, also when it times out", async () => {
    const { key } = await createKey();
    const { res, doubles } = await request("/slow", key);
    expect(res.status).toBe(504);
    expect(doubles.upstreamMs).toBeGreaterThanOrEqual(290);
    expect(doubles.gatewayMs).toBeLessThan(doubles.upstreamMs);
  });
});
