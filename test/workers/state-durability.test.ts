import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PERSIST_DELAY_MS } from "../../src/admission/object";
import { admin, call, createKey } from "./helpers";

/**
 * KeyState keeps counters in memory and persists rate-limit windows within PERSIST_DELAY_MS,
 * while a credit charge is durable before the answer leaves (docs/behaviour.md). These
 * tests end the object (as an eviction or a restart would) and look at what survived.
 */
const stateOf = (lineageId: string) => env.KEY_STATE.get(env.KEY_STATE.idFromName(lineageId));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("KeyState durability", () => {
  it("a spent rate limit stays spent across the object's end once it has been persisted", async () => {
    const created = await createKey({ ratelimits: [{ name: "hour", limit: 3, windowSeconds: 3600 }] });
    for (let i = 0; i < 3; i++) expect((await call("/echo", created.key)).status).toBe(200);
    await sleep(PERSIST_DELAY_MS + 300);
    await evictDurableObject(stateOf(created.id));
    const after = await call("/echo", created.key);
    expect(after.status).toBe(429);
    expect(after.headers.get("RateLimit")).toMatch(/^"hour";r=0;t=\d+$/);
  });

  it("a credit charge survives the object ending at once, with no delay", async () => {
    const created = await createKey({ credits: { remaining: 5, refill: null } });
    expect((await call("/costly", created.key)).status).toBe(200); // costs 5
    await evictDurableObject(stateOf(created.id));
    const refused = await call("/echo", created.key);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { code: string }).code).toBe("QUOTA_EXHAUSTED");
    const record = (await (await admin(`/keys/${created.id}`)).json()) as { credits: { remaining: number } };
    expect(record.credits.remaining).toBe(0);
  });

  it("usage counted in memory still reaches D1 through the alarm after the object ended", async () => {
    const created = await createKey();
    for (let i = 0; i < 4; i++) expect((await call("/echo", created.key)).status).toBe(200);
    await sleep(PERSIST_DELAY_MS + 300);
    await evictDurableObject(stateOf(created.id));
    const { runDurableObjectAlarm } = await import("cloudflare:test");
    expect(await runDurableObjectAlarm(stateOf(created.id))).toBe(true);
    const record = (await (await admin(`/keys/${created.id}`)).json()) as { usageCount: number; lastUsedAt: string | null };
    expect(record.usageCount).toBe(4);
    expect(record.lastUsedAt).not.toBeNull();
  });
});
