import { describe, expect, it } from "vitest";
import { admin, call, createKey, send } from "./helpers";
import { body } from "./admin-helpers";
import { corrupted, gatewayWith, sleep, unknownKey } from "./gateway-helpers";
import { eventually } from "./webhook-helpers";
import { INVALID_KEYS } from "../../src/store/invalid-keys";

/**
 * DESIGN.md, "Security events": what a security reviewer looks for, newest first, written in
 * batches with usage, a flood of one code from one address summarised with a `count`.
 */

interface SecurityEvent {
  at: string;
  code: string;
  ip: string | null;
  country: string | null;
  userAgent: string | null;
  method: string | null;
  path: string | null;
  route: string | null;
  keyStart: string | null;
  keyId: string | null;
  requestId: string;
  count?: number;
}

const FIELDS = ["at", "code", "ip", "country", "userAgent", "method", "path", "route", "keyStart", "keyId", "requestId"];

let addresses = 0;
/** A fresh client address per test, so each reads only its own events. */
const freshIp = () => `198.18.${Math.floor(Math.random() * 200)}.${++addresses}`;

async function eventsFrom(ip: string, query = ""): Promise<SecurityEvent[]> {
  return (await body<{ data: SecurityEvent[] }>(await admin(`/security-events?ip=${ip}&limit=100${query}`), 200)).data;
}

const waitForEvents = (ip: string, count: number, query = "") =>
  eventually(async () => {
    const events = await eventsFrom(ip, query);
    return events.length >= count ? events : null;
  }, 10_000);

const from = (ip: string, headers: Record<string, string> = {}) => ({ headers: { "CF-Connecting-IP": ip, "User-Agent": "scanner/2.1", ...headers } });

describe("GET /admin/security-events", () => {
  it("records refusals before a key is known, uses of dead keys and IP_NOT_ALLOWED, each with the contract's fields", async () => {
    const ip = freshIp();
    const live = await createKey({ scopes: ["posts:read"] });
    const revoked = await createKey({ scopes: ["posts:read"] });
    expect((await admin(`/keys/${revoked.id}`, { method: "DELETE" })).status).toBe(200);
    const expired = await createKey({ scopes: ["posts:read"], expiresIn: 1 });
    const fenced = await createKey({ scopes: ["posts:read"], allowedIps: ["203.0.113.0/24"] });
    await sleep(1100);
    const stranger = unknownKey();
    const sent: [string, string | null][] = [
      ["MALFORMED_KEY", corrupted(live.key)],
      ["KEY_NOT_FOUND", stranger],
      ["KEY_REVOKED", revoked.key],
      ["KEY_EXPIRED", expired.key],
      ["IP_NOT_ALLOWED", fenced.key],
    ];
    for (const [, key] of sent) await call("/posts/1?api_key=secret", key, from(ip));
    // neither an answered request nor one without a key is a security event
    expect((await call("/posts/1", live.key, from(ip))).status).toBe(200);
    expect((await call("/posts/1", null, from(ip))).status).toBe(401);

    const events = await waitForEvents(ip, 5);
    await sleep(300);
    const all = await eventsFrom(ip);
    expect(all.map((e) => e.code).sort()).toEqual(sent.map(([code]) => code).sort());
    for (const event of all) {
      expect(Object.keys(event).sort()).toEqual([...FIELDS].sort());
      expect(event).toMatchObject({ ip, userAgent: "scanner/2.1", method: "GET", path: "/posts/1", route: "posts" });
      expect(event.keyStart!.length).toBeLessThanOrEqual(12);
      expect(event.requestId).toMatch(/^req_/);
    }
    const byCode = Object.fromEntries(events.map((e) => [e.code, e]));
    expect(byCode.KEY_NOT_FOUND).toMatchObject({ keyStart: stranger.slice(0, 12), keyId: null });
    expect(byCode.MALFORMED_KEY.keyStart).toBe(live.key.slice(0, 12));
    expect(byCode.KEY_REVOKED).toMatchObject({ keyId: revoked.id, keyStart: revoked.key.slice(0, 12) });
    expect(byCode.KEY_EXPIRED.keyId).toBe(expired.id);
    expect(byCode.IP_NOT_ALLOWED.keyId).toBe(fenced.id);
    // newest first
    const times = all.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // never more of a key than its first 12 characters, nor the query it came with
    const text = JSON.stringify(all);
    for (const [, key] of sent) expect(text).not.toContain(key!.slice(0, 13));
    expect(text).not.toContain("api_key");
  });

  it("records TOO_MANY_INVALID_KEYS", async () => {
    const ip = freshIp();
    for (let i = 0; i <= INVALID_KEYS.perClient; i++) await call("/posts", unknownKey(), from(ip));
    const limited = await waitForEvents(ip, 1, "&code=TOO_MANY_INVALID_KEYS");
    expect(limited[0]).toMatchObject({ code: "TOO_MANY_INVALID_KEYS", ip, keyId: null });
  });

  it("records admin sign-ins that failed, keeping no part of a token that is not a key", async () => {
    const ip = freshIp();
    await send("/admin/keys", { headers: { Authorization: "Bearer kgadm_wrongwrongwrongwrongwrongwrong00", "CF-Connecting-IP": ip } });
    const stranger = unknownKey();
    await send("/admin/whoami", { headers: { Authorization: `Bearer ${stranger}`, "CF-Connecting-IP": ip } });
    // no credentials at all is no sign-in
    await send("/admin/keys", { headers: { "CF-Connecting-IP": ip } });
    const events = await waitForEvents(ip, 2, "&code=UNAUTHORIZED");
    await sleep(300);
    const all = await eventsFrom(ip);
    expect(all).toHaveLength(2);
    const byPath = Object.fromEntries(all.map((e) => [e.path, e]));
    expect(byPath["/admin/keys"]).toMatchObject({ code: "UNAUTHORIZED", keyStart: null, method: "GET" });
    expect(byPath["/admin/whoami"]).toMatchObject({ code: "UNAUTHORIZED", keyStart: stranger.slice(0, 12) });
    expect(JSON.stringify(events)).not.toContain("kgadm_");
  });

  it("summarises a flood: past 100 a minute for one code and address, one entry carries the count", async () => {
    const ip = freshIp();
    // all in one minute
    const second = new Date().getUTCSeconds();
    if (second > 45) await sleep((61 - second) * 1000);
    // one batch for all of them: it stays open two seconds
    const gateway = gatewayWith({ USAGE_FLUSH_MS: "2000" });
    const malformed = corrupted(unknownKey());
    await Promise.all(Array.from({ length: 150 }, () => gateway.call("/posts", malformed, from(ip))));
    const everything = async () => {
      const first = await body<{ data: SecurityEvent[]; nextCursor: string | null }>(await admin(`/security-events?ip=${ip}&limit=100`), 200);
      if (!first.nextCursor) return first.data;
      return [...first.data, ...(await body<{ data: SecurityEvent[] }>(await admin(`/security-events?ip=${ip}&limit=100&cursor=${encodeURIComponent(first.nextCursor)}`), 200)).data];
    };
    await eventually(async () => ((await everything()).length >= 101 ? true : null), 10_000);
    await sleep(300);
    const entries = await everything();
    expect(entries).toHaveLength(101);
    expect(entries.filter((e) => e.count !== undefined)).toEqual([expect.objectContaining({ code: "MALFORMED_KEY", count: 50 })]);
    expect(entries.reduce((n, e) => n + (e.count ?? 1), 0)).toBe(150);
  });

  it("filters by code, address and time, and pages newest first", async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) await call("/posts", corrupted(unknownKey()), from(ip));
    await sleep(20); // workerd's clock moves on with I/O and timers only
    const between = new Date().toISOString();
    await sleep(20);
    for (let i = 0; i < 2; i++) await call("/posts", unknownKey(), from(ip));
    await waitForEvents(ip, 5);
    expect((await eventsFrom(ip, "&code=KEY_NOT_FOUND")).map((e) => e.code)).toEqual(["KEY_NOT_FOUND", "KEY_NOT_FOUND"]);
    expect((await eventsFrom(ip, `&to=${encodeURIComponent(between)}`)).map((e) => e.code)).toEqual(["MALFORMED_KEY", "MALFORMED_KEY", "MALFORMED_KEY"]);
    expect((await eventsFrom(ip, `&from=${encodeURIComponent(between)}`))).toHaveLength(2);
    const first = await body<{ data: SecurityEvent[]; nextCursor: string }>(await admin(`/security-events?ip=${ip}&limit=2`), 200);
    expect(first.data.map((e) => e.code)).toEqual(["KEY_NOT_FOUND", "KEY_NOT_FOUND"]);
    const second = await body<{ data: SecurityEvent[]; nextCursor: string | null }>(await admin(`/security-events?ip=${ip}&limit=2&cursor=${encodeURIComponent(first.nextCursor)}`), 200);
    const third = await body<{ data: SecurityEvent[]; nextCursor: string | null }>(await admin(`/security-events?ip=${ip}&limit=2&cursor=${encodeURIComponent(second.nextCursor!)}`), 200);
    expect([...first.data, ...second.data, ...third.data].map((e) => e.requestId)).toEqual((await eventsFrom(ip)).map((e) => e.requestId));
    expect(third.nextCursor).toBeNull();
    const bad = await admin(`/security-events?code=OK`);
    expect(bad.status).toBe(400);
    expect((await admin(`/security-events?cursor=garbage`)).status).toBe(400);
    expect((await admin(`/security-events?from=${encodeURIComponent(between)}&to=${encodeURIComponent(between)}`)).status).toBe(400);
  });

  it("an admin:read key may read them", async () => {
    const reader = await createKey({ scopes: ["admin:read"] });
    expect((await admin("/security-events", { token: reader.key })).status).toBe(200);
  });
});
