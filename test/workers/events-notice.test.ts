import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createKey } from "./helpers";
import { aboutKey, deliveriesTo, endpointWithReceiver, payloadOf } from "./webhook-helpers";
import { creditsLowEvent, enqueueEvent, noticeCredits, noticeRateLimited, rateLimitedEvent, type CreditNotices, type RateLimitNotices } from "../../src/events/notice";

/**
 * DESIGN.md, "Events and webhooks": `key.rate_limited` (the first RATE_LIMITED refusal of a key
 * in a window: once per key, limit and window) and `key.credits_low` (the balance falls to 20 %
 * of its last set or refilled amount, and again at 0: once each per refill), noticed inside the
 * admission objects with these functions and handed to `enqueueEvent`.
 */

describe("noticeRateLimited", () => {
  it("is true for the first refusal of each limit's window, and never again in that window", () => {
    const noticed: RateLimitNotices = {};
    const minute = { name: "minute" };
    const day = { name: "day" };
    expect(noticeRateLimited(noticed, minute, 60_000)).toBe(true);
    expect(noticeRateLimited(noticed, minute, 60_000)).toBe(false);
    expect(noticeRateLimited(noticed, day, 0)).toBe(true);
    expect(noticeRateLimited(noticed, minute, 60_000)).toBe(false);
    expect(noticeRateLimited(noticed, minute, 120_000)).toBe(true);
    expect(noticeRateLimited(noticed, day, 0)).toBe(false);
  });

  it("gives the same event id for the same key, limit and window wherever it is noticed", async () => {
    const limit = { name: "minute", limit: 10, windowSeconds: 60 };
    const a = await rateLimitedEvent("key_A", limit, 60_000);
    const b = await rateLimitedEvent("key_A", limit, 60_000, Date.now() + 5);
    expect(a.id).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(b.id).toBe(a.id);
    expect((await rateLimitedEvent("key_A", limit, 120_000)).id).not.toBe(a.id);
    expect((await rateLimitedEvent("key_B", limit, 60_000)).id).not.toBe(a.id);
    expect(a.data).toEqual({
      limit: { name: "minute", limit: 10, windowSeconds: 60, windowStart: new Date(60_000).toISOString(), resetAt: new Date(120_000).toISOString() },
    });
  });
});

describe("noticeCredits", () => {
  it("notices 20 % once and 0 once per refill", () => {
    const state: CreditNotices = { epoch: 0, low: false, empty: false };
    expect(noticeCredits(state, 1, 100, 90)).toBeNull();
    expect(noticeCredits(state, 1, 100, 21)).toBeNull();
    expect(noticeCredits(state, 1, 100, 20)).toBe("low");
    expect(noticeCredits(state, 1, 100, 10)).toBeNull();
    expect(noticeCredits(state, 1, 100, 0)).toBe("empty");
    expect(noticeCredits(state, 1, 100, 0)).toBeNull();
    // refilled: both again
    expect(noticeCredits(state, 2, 50, 40)).toBeNull();
    expect(noticeCredits(state, 2, 50, 10)).toBe("low");
    expect(noticeCredits(state, 2, 50, 0)).toBe("empty");
  });

  it("a charge from above 20 % straight to 0 is noticed as empty only", () => {
    const state: CreditNotices = { epoch: 0, low: false, empty: false };
    expect(noticeCredits(state, 7, 10, 0)).toBe("empty");
    expect(noticeCredits(state, 7, 10, 0)).toBeNull();
  });

  it("gives one event id per key, refill and threshold", async () => {
    const low = await creditsLowEvent("key_A", "low", { remaining: 20, amount: 100, epoch: 3 });
    expect((await creditsLowEvent("key_A", "low", { remaining: 19, amount: 100, epoch: 3 })).id).toBe(low.id);
    expect((await creditsLowEvent("key_A", "empty", { remaining: 0, amount: 100, epoch: 3 })).id).not.toBe(low.id);
    expect((await creditsLowEvent("key_A", "low", { remaining: 20, amount: 100, epoch: 4 })).id).not.toBe(low.id);
    expect(low.data).toEqual({ credits: { remaining: 20, amount: 100, threshold: "low" } });
  });
});

describe("enqueueEvent", () => {
  it("delivers an event raised with only the key's id, with its record filled in", async () => {
    const { name } = await endpointWithReceiver(["key.rate_limited", "key.credits_low"]);
    const key = await createKey({ ratelimits: [{ name: "minute", limit: 10, windowSeconds: 60 }] });
    const limited = await rateLimitedEvent(key.id, { name: "minute", limit: 10, windowSeconds: 60 }, 60_000);
    await enqueueEvent(env, limited);
    await enqueueEvent(env, await creditsLowEvent(key.id, "low", { remaining: 2, amount: 10, epoch: 1 }));
    const [r] = await deliveriesTo(name, aboutKey(key.id, "key.rate_limited"));
    expect(r.verified).toEqual([true]);
    expect(r.id).toBe(limited.id);
    expect(payloadOf(r).data).toMatchObject({ key: { id: key.id, ratelimits: [{ name: "minute" }] }, limit: { name: "minute" } });
    const [c] = await deliveriesTo(name, aboutKey(key.id, "key.credits_low"));
    expect(payloadOf(c).data).toMatchObject({ key: { id: key.id }, credits: { threshold: "low", remaining: 2, amount: 10 } });
  });
});
