import { describe, expect, it } from "vitest";
import { call, createKey } from "./helpers";
import { expectProblem, gatewayWith, statusCounts } from "./gateway-helpers";
import { callFrom } from "./region-helpers";
import { aboutKey, deliveriesTo, endpointWithReceiver, payloadOf, received, sleep } from "./webhook-helpers";

/**
 * DESIGN.md, "Events and webhooks": events a consumer request causes are noticed where the
 * decision is made (the admission objects) and handed on from there, off the request's path:
 * `key.rate_limited` once per key, limit and window; `key.credits_low` at 20 % and at 0, once each
 * per refill; `key.suspended` when the abuse rule suspends a key. Every delivery is verified by
 * the `standardwebhooks` package at the test origin's receiver.
 */

const verified = (name: string) => async () => (await received(name)).every((d) => d.error === null && d.verified.every(Boolean));

/** The distinct events (by webhook-id) of a type about a key a receiver got. */
async function distinct(name: string, keyId: string, type: string) {
  const all = (await received(name)).filter((d) => payloadOf(d).type === type && (payloadOf(d).data.key?.id === keyId || (d.body.includes(keyId) && type !== "key.updated")));
  return [...new Map(all.map((d) => [d.id, d])).values()];
}

describe("events a consumer request causes", () => {
  it("key.rate_limited: once for the key's window under a flood of refusals, naming the limit and the window", async () => {
    const { name } = await endpointWithReceiver(["key.rate_limited"]);
    const key = await createKey({ ratelimits: [{ name: "minute", limit: 3, windowSeconds: 60 }] });
    const responses = await Promise.all(Array.from({ length: 40 }, () => call("/echo", key.key)));
    expect(statusCounts(responses)).toEqual({ 200: 3, 429: 37 });
    const [event] = await deliveriesTo(name, aboutKey(key.id, "key.rate_limited"));
    await sleep(500); // nothing more may come of the other 36 refusals
    expect(await distinct(name, key.id, "key.rate_limited")).toHaveLength(1);
    expect(payloadOf(event).data.limit).toMatchObject({ name: "minute", limit: 3, windowSeconds: 60 });
    expect(await verified(name)()).toBe(true);
  });

  it("key.rate_limited: refusals in two regions raise one event (the same webhook-id) for the window", async () => {
    const { name } = await endpointWithReceiver(["key.rate_limited"]);
    const key = await createKey({ ratelimits: [{ name: "minute", limit: 4, windowSeconds: 60 }] });
    expect((await callFrom("weur", "/echo", key.key)).status).toBe(200);
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => callFrom(i % 2 ? "apac" : "weur", "/echo", key.key)));
    expect(statusCounts(responses)[429]).toBeGreaterThan(0);
    await deliveriesTo(name, aboutKey(key.id, "key.rate_limited"));
    await sleep(500);
    expect(await distinct(name, key.id, "key.rate_limited")).toHaveLength(1);
  });

  it("key.credits_low: once when the balance falls to 20 %, once at 0, and never again until it is set again", async () => {
    const { name } = await endpointWithReceiver(["key.credits_low"]);
    const key = await createKey({ credits: { remaining: 10 } });
    for (let i = 0; i < 7; i++) expect((await call("/echo", key.key)).status).toBe(200);
    await sleep(300);
    expect(await distinct(name, key.id, "key.credits_low")).toHaveLength(0);
    expect((await call("/echo", key.key)).status).toBe(200); // 2 left: 20 %
    const [low] = await deliveriesTo(name, (p) => p.type === "key.credits_low" && JSON.stringify(p.data).includes(key.id));
    expect(payloadOf(low).data.credits).toMatchObject({ remaining: 2, amount: 10, threshold: "low" });
    for (let i = 0; i < 2; i++) expect((await call("/echo", key.key)).status).toBe(200);
    for (let i = 0; i < 3; i++) await expectProblem(await call("/echo", key.key), 429, "QUOTA_EXHAUSTED");
    await deliveriesTo(name, (p) => p.type === "key.credits_low" && JSON.stringify(p.data).includes(key.id), 2);
    await sleep(300);
    const events = await distinct(name, key.id, "key.credits_low");
    expect(events.map((e) => (payloadOf(e).data.credits as { threshold: string }).threshold).sort()).toEqual(["empty", "low"]);
  });

  it("key.suspended: a key refused RATE_LIMITED more often than ABUSE_POLICY allows is suspended and answered KEY_SUSPENDED with Retry-After", async () => {
    const { name } = await endpointWithReceiver(["key.suspended"]);
    const abusive = gatewayWith({ ABUSE_POLICY: JSON.stringify({ rateLimitedPerMinute: 5, suspendSeconds: 60 }) });
    const key = await createKey({ ratelimits: [{ name: "minute", limit: 2, windowSeconds: 60 }] });
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await abusive.call("/echo", key.key)).status);
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    const [event] = await deliveriesTo(name, aboutKey(key.id, "key.suspended"));
    expect(payloadOf(event).data.key).toMatchObject({ id: key.id });
    const suspended = await abusive.call("/echo", key.key);
    await expectProblem(suspended, 429, "KEY_SUSPENDED");
    expect(Number(suspended.headers.get("Retry-After"))).toBeGreaterThan(0);
  });
});
