import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, call, createKey } from "./helpers";
import { body } from "./admin-helpers";
import { expectProblem, getRecord, patchKey } from "./gateway-helpers";
import { aboutKey, deliveriesTo, endpointWithReceiver, eventually, payloadOf, sleep } from "./webhook-helpers";
import { abusePolicyFor, countRateLimited, newAbuseCount, requestSuspension } from "../../src/events/notice";
import { getConfig } from "../../src/config";
import type { SuspensionRequest } from "../../src/events/types";

/**
 * DESIGN.md, "Lifecycle rules", abuse: a key refused RATE_LIMITED more than
 * `rateLimitedPerMinute` times within a minute is suspended for `suspendSeconds`. The admission
 * objects count (src/admission/, with `countRateLimited`) and ask for the suspension with
 * `requestSuspension`; these tests call both as the objects will.
 */

const POLICY = { rateLimitedPerMinute: 5, suspendSeconds: 120 };

describe("countRateLimited", () => {
  it("suspends on the refusal past the limit within a minute, once until the suspension ends", () => {
    const count = newAbuseCount();
    const t0 = 1_000_000 * 60_000 + 10_000;
    for (let i = 0; i < 5; i++) expect(countRateLimited(count, t0 + i, POLICY)).toBeNull();
    expect(countRateLimited(count, t0 + 5, POLICY)).toBe(t0 + 5 + 120_000);
    for (let i = 6; i < 50; i++) expect(countRateLimited(count, t0 + i, POLICY)).toBeNull();
    // after the suspension, counting starts over
    const later = t0 + 200_000;
    for (let i = 0; i < 5; i++) expect(countRateLimited(count, later + i, POLICY)).toBeNull();
    expect(countRateLimited(count, later + 5, POLICY)).toBe(later + 5 + 120_000);
  });

  it("counts the sliding minute: refusals late in one minute and early in the next add up", () => {
    const count = newAbuseCount();
    const minute = 2_000_000 * 60_000;
    for (let i = 0; i < 4; i++) expect(countRateLimited(count, minute + 55_000 + i, POLICY)).toBeNull();
    // 5 s into the next minute, 55/60 of the last minute's 4 still count: 3.67 + 1 is within, 3.67 + 2 is not
    expect(countRateLimited(count, minute + 65_000, POLICY)).toBeNull();
    expect(countRateLimited(count, minute + 65_001, POLICY)).toBe(minute + 65_001 + 120_000);
  });

  it("refusals spread thinner than the limit never suspend", () => {
    const count = newAbuseCount();
    for (let i = 0; i < 100; i++) expect(countRateLimited(count, i * 15_000, POLICY)).toBeNull();
  });

  it("a route's own abuse rule wins over ABUSE_POLICY; null turns it off on the route", () => {
    const config = { abusePolicy: POLICY };
    expect(abusePolicyFor(config, null)).toEqual(POLICY);
    expect(abusePolicyFor(config, { abuse: undefined })).toEqual(POLICY);
    expect(abusePolicyFor(config, { abuse: { rateLimitedPerMinute: 50, suspendSeconds: 10 } })).toEqual({ rateLimitedPerMinute: 50, suspendSeconds: 10 });
    expect(abusePolicyFor(config, { abuse: null })).toBeNull();
    expect(abusePolicyFor({ abusePolicy: null }, null)).toBeNull();
  });

  it("ABUSE_POLICY and a route's abuse are parsed with the config", () => {
    const parsed = getConfig({
      ...env,
      ABUSE_POLICY: JSON.stringify(POLICY),
      ROUTES: JSON.stringify([{ name: "a", prefix: "/a", upstream: "https://example.com", abuse: { rateLimitedPerMinute: 9, suspendSeconds: 60 } }]),
    } as Env);
    expect(parsed.abusePolicy).toEqual(POLICY);
    expect(parsed.routes[0].abuse).toEqual({ rateLimitedPerMinute: 9, suspendSeconds: 60 });
    expect(() => getConfig({ ...env, ABUSE_POLICY: '{"rateLimitedPerMinute":0,"suspendSeconds":10}' } as Env)).toThrow(/ABUSE_POLICY/);
  });
});

const suspension = (keyId: string, at = Date.now()): SuspensionRequest => ({
  keyId,
  until: at + POLICY.suspendSeconds * 1000,
  at,
  policy: POLICY,
  refusals: 6,
  request: { ip: "203.0.113.9", country: "NL", userAgent: "flood/1.0", method: "GET", path: "/posts", route: "posts", requestId: "req_0123456789abcdef0123456789abcdef" },
});

/** Waits until the suspension reached the record. */
const suspended = (id: string) => eventually(async () => ((await getRecord(id)).suspendedUntil !== null ? getRecord(id) : null));

describe("requestSuspension: the suspension the objects ask for, carried out by the key lifecycle", () => {
  it("suspends the key on the next request everywhere: 429 KEY_SUSPENDED with Retry-After, never reaching the origin", async () => {
    const { name } = await endpointWithReceiver(["key.suspended"]);
    const key = await createKey({ scopes: ["posts:read"], ratelimits: [{ name: "minute", limit: 100, windowSeconds: 60 }] });
    const ok = await call("/posts", key.key);
    expect(ok.status).toBe(200);
    const remaining = Number(ok.headers.get("X-RateLimit-Remaining"));
    const request = suspension(key.id);
    await requestSuspension(env, request);
    const record = await suspended(key.id);
    expect(record.suspendedUntil).toBe(new Date(request.until).toISOString());
    expect(record.version).toBe(2);

    const refused = await call("/posts", key.key);
    const problem = await expectProblem(refused, 429, "KEY_SUSPENDED");
    expect(problem.detail).toContain(record.suspendedUntil);
    const retryAfter = Number(refused.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(100);
    expect(retryAfter).toBeLessThanOrEqual(120);
    expect(refused.headers.get("X-Origin")).toBeNull();

    // audited by keygate, sent as key.suspended
    const audit = await body<{ data: { action: string; actor: string; changes: Record<string, unknown> }[] }>(await admin(`/audit?targetId=${key.id}&action=key.suspend`), 200);
    expect(audit.data).toHaveLength(1);
    expect(audit.data[0]).toMatchObject({ actor: "keygate", changes: { suspendedUntil: { from: null, to: record.suspendedUntil } } });
    const [event] = await deliveriesTo(name, aboutKey(key.id, "key.suspended"));
    expect(event.verified).toEqual([true]);
    expect(payloadOf(event).data).toMatchObject({ key: { suspendedUntil: record.suspendedUntil }, abuse: { rateLimitedPerMinute: 5, suspendSeconds: 120, refusals: 6 } });

    // no window moved while it was suspended
    for (let i = 0; i < 3; i++) await expectProblem(await call("/posts", key.key), 429, "KEY_SUSPENDED");
    const verdict = await body<{ code: string; valid: boolean }>(await admin("/keys/verify", { method: "POST", json: { key: key.key } }), 200);
    expect(verdict).toMatchObject({ valid: false, code: "KEY_SUSPENDED" });

    // PATCH { suspendedUntil: null } lifts it
    const lifted = await patchKey(key.id, { suspendedUntil: null });
    expect(lifted.suspendedUntil).toBeNull();
    const again = await call("/posts", key.key);
    expect(again.status).toBe(200);
    expect(Number(again.headers.get("X-RateLimit-Remaining"))).toBe(remaining - 1);
  });

  it("is a security event, with the request that tipped it", async () => {
    const key = await createKey();
    const request = suspension(key.id);
    await requestSuspension(env, request);
    await suspended(key.id);
    const events = await eventually(async () => {
      const page = await body<{ data: { keyId: string | null; code: string }[] }>(await admin("/security-events?code=KEY_SUSPENDED&ip=203.0.113.9&limit=100"), 200);
      const mine = page.data.filter((e) => e.keyId === key.id);
      return mine.length ? mine : null;
    });
    expect(events[0]).toMatchObject({ code: "KEY_SUSPENDED", ip: "203.0.113.9", country: "NL", userAgent: "flood/1.0", method: "GET", path: "/posts", route: "posts", keyStart: key.key.slice(0, 12), requestId: request.request!.requestId });
  });

  it("a suspension decided before an operator lifted it does not come back", async () => {
    const key = await createKey();
    const first = suspension(key.id);
    await requestSuspension(env, first);
    await suspended(key.id);
    await patchKey(key.id, { suspendedUntil: null });
    // the same decision delivered again (the queue is at least once)
    await requestSuspension(env, first);
    await sleep(2500);
    expect((await getRecord(key.id)).suspendedUntil).toBeNull();
  });

  it("a revoked key is not suspended, and a shorter suspension never cuts a longer one", async () => {
    const revoked = await createKey();
    expect((await admin(`/keys/${revoked.id}`, { method: "DELETE" })).status).toBe(200);
    await requestSuspension(env, suspension(revoked.id));
    const key = await createKey();
    const long = suspension(key.id);
    await requestSuspension(env, long);
    await suspended(key.id);
    await requestSuspension(env, { ...long, until: long.until - 60_000, at: Date.now() });
    await sleep(2500);
    expect((await getRecord(revoked.id)).suspendedUntil).toBeNull();
    expect((await getRecord(key.id)).suspendedUntil).toBe(new Date(long.until).toISOString());
  });

  it("only the abuse rule sets a suspension: PATCH takes null alone", async () => {
    const key = await createKey();
    const problem = await expectProblem(
      await admin(`/keys/${key.id}`, { method: "PATCH", json: { suspendedUntil: new Date(Date.now() + 60_000).toISOString() } }),
      400,
      "VALIDATION_FAILED",
    );
    expect(problem.detail).toContain("suspendedUntil");
  });
});
