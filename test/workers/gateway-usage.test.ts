import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createKey } from "./helpers";
import { flushUsage, gatewayWith, getRecord, rotateKey, uncache } from "./gateway-helpers";

/** A D1 binding that notes every statement it is asked to run. */
function recordingD1(db: D1Database, statements: string[]): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") {
        return (query: string) => {
          statements.push(query);
          return target.prepare(query);
        };
      }
      if (prop === "batch" || prop === "exec") {
        return () => {
          throw new Error(`D1 ${String(prop)} on the hot path`);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("usage write-back", () => {
  it("usage reaches D1 when the lineage's KeyState flushes, not per request", async () => {
    const { id, key } = await createKey();
    const started = Date.now();
    for (let i = 0; i < 3; i++) expect((await call("/echo", key)).status).toBe(200);
    const unflushed = await getRecord(id);
    expect(unflushed).toMatchObject({ usageCount: 0, lastUsedAt: null });

    expect(await flushUsage(id)).toBe(true);
    const flushed = await getRecord(id);
    expect(flushed.usageCount).toBe(3);
    const lastUsed = Date.parse(flushed.lastUsedAt!);
    expect(lastUsed).toBeGreaterThanOrEqual(started);
    expect(lastUsed).toBeLessThanOrEqual(Date.now());
    expect(flushed.version).toBe(unflushed.version);

    for (let i = 0; i < 2; i++) expect((await call("/echo", key)).status).toBe(200);
    expect(await flushUsage(id)).toBe(true);
    expect((await getRecord(id)).usageCount).toBe(5);
    expect(await flushUsage(id)).toBe(false);
  });

  it("the hot path reads D1 at most once per key and never writes to it", async () => {
    const { key } = await createKey({ credits: { remaining: 100 }, ratelimits: [{ name: "minute", limit: 100, windowSeconds: 60 }] });
    await uncache(key);
    const statements: string[] = [];
    const gateway = gatewayWith({ DB: recordingD1(env.DB, statements) });
    for (let i = 0; i < 5; i++) expect((await gateway.call("/echo", key)).status).toBe(200);
    expect(statements.length).toBe(1);
    expect(statements[0]).toMatch(/^select /i);
  });

  it("a rotated lineage records each key's own usage", async () => {
    const old = await createKey();
    expect((await call("/echo", old.key)).status).toBe(200);
    const successor = await rotateKey(old.id, 60);
    for (let i = 0; i < 2; i++) expect((await call("/echo", successor.key)).status).toBe(200);
    expect(await flushUsage(old.id)).toBe(true);
    expect((await getRecord(old.id)).usageCount).toBe(1);
    expect((await getRecord(successor.id)).usageCount).toBe(2);
    expect((await getRecord(successor.id)).lastUsedAt).not.toBeNull();
  });
});
