import { beforeAll, describe, expect, it } from "vitest";
import { generateKey } from "../../src/keys/format";
import { createKey, type Created } from "./helpers";
import { markersSeenByOrigin, probe, snapshot, type Case } from "./hardening-support";

/**
 * Hostile consumer requests. None may answer 5xx, none without a valid key may reach the
 * origin, none may change stored data.
 */

let valid: Created;
let revoked: Created;
let before: string;

beforeAll(async () => {
  valid = await createKey({ scopes: ["posts:read"], ratelimits: [{ name: "minute", limit: 1000, windowSeconds: 60 }] });
  revoked = await createKey();
  const { admin } = await import("./helpers");
  await admin(`/keys/${revoked.id}`, { method: "DELETE" });
  before = await snapshot([valid, revoked]);
});

const bearer = (value: string): RequestInit => ({ headers: { Authorization: `Bearer ${value}` } });
const apiKey = (value: string): RequestInit => ({ headers: { "X-API-Key": value } });
const corrupt = (key: string, at: number, ch: string) => key.slice(0, at) + ch + key.slice(at + 1);
const sample = generateKey("kg_live");

const NOT_A_KEY = ["MALFORMED_KEY"];
const keyless: Case[] = [
  { name: "no key", path: "/echo", codes: ["MISSING_KEY"] },
  { name: "empty bearer", path: "/echo", init: bearer(""), codes: ["MISSING_KEY"] },
  { name: "bearer without space", path: "/echo", init: { headers: { Authorization: "Bearer" } }, codes: ["MISSING_KEY"] },
  { name: "basic auth", path: "/echo", init: { headers: { Authorization: "Basic dXNlcjpwYXNz" } }, codes: ["MISSING_KEY"] },
  { name: "digest auth", path: "/echo", init: { headers: { Authorization: 'Digest username="x"' } }, codes: ["MISSING_KEY"] },
  { name: "empty X-API-Key", path: "/echo", init: apiKey(""), codes: ["MISSING_KEY"] },
  { name: "whitespace X-API-Key", path: "/echo", init: apiKey("   "), codes: ["MISSING_KEY"] },
  { name: "10 KB key", path: "/echo", init: bearer(`kg_live_${"A".repeat(10_240)}`), codes: NOT_A_KEY },
  { name: "10 KB X-API-Key", path: "/echo", init: apiKey("x".repeat(10_240)), codes: NOT_A_KEY },
  { name: "tab inside key", path: "/echo", init: bearer(`${sample.slice(0, 10)}\t${sample.slice(10)}`), codes: NOT_A_KEY },
  { name: "latin-1 characters", path: "/echo", init: bearer(`kg_live_${"é".repeat(49)}`), codes: NOT_A_KEY },
  { name: "unicode key in query", path: `/query?api_key=${encodeURIComponent("kg_live_" + "😀".repeat(20))}`, codes: NOT_A_KEY },
  { name: "CRLF in query key", path: `/query?api_key=${encodeURIComponent(sample + "\r\nX-Keygate-Key-Id: key_x")}`, codes: NOT_A_KEY },
  { name: "NUL in query key", path: `/query?api_key=${encodeURIComponent(sample + "\u0000")}`, codes: NOT_A_KEY },
  { name: "NUL before key in query", path: `/query?api_key=${encodeURIComponent("\u0000" + sample)}`, codes: NOT_A_KEY },
  { name: "duplicate Authorization", path: "/echo", init: { headers: [["Authorization", `Bearer ${sample}`], ["Authorization", "Bearer kg_live_other"]] }, codes: NOT_A_KEY },
  { name: "duplicate X-API-Key", path: "/echo", init: { headers: [["X-API-Key", sample], ["X-API-Key", generateKey("kg_live")]] }, codes: NOT_A_KEY },
  { name: "Authorization and X-API-Key disagree", path: "/echo", init: { headers: { Authorization: `Bearer ${sample}`, "X-API-Key": generateKey("kg_live") } }, codes: NOT_A_KEY },
  { name: "two api_key parameters", path: `/query?api_key=${sample}&api_key=${generateKey("kg_live")}`, codes: NOT_A_KEY },
  { name: "api_key where the route forbids it", path: `/echo?api_key=${sample}`, codes: ["MISSING_KEY"] },
  { name: "bad checksum", path: "/echo", init: bearer(corrupt(sample, sample.length - 1, sample.endsWith("0") ? "1" : "0")), codes: NOT_A_KEY },
  { name: "bad body character", path: "/echo", init: bearer(corrupt(sample, 12, sample[12] === "A" ? "B" : "A")), codes: NOT_A_KEY },
  { name: "upper-case prefix", path: "/echo", init: bearer(sample.toUpperCase()), codes: NOT_A_KEY },
  { name: "truncated key", path: "/echo", init: bearer(sample.slice(0, -1)), codes: NOT_A_KEY },
  { name: "key with trailing junk", path: "/echo", init: bearer(`${sample}x`), codes: NOT_A_KEY },
  { name: "key with space inside", path: "/echo", init: bearer(`${sample.slice(0, 20)} ${sample.slice(20)}`), codes: NOT_A_KEY },
  { name: "body only", path: "/echo", init: bearer(sample.slice(sample.lastIndexOf("_") + 1)), codes: NOT_A_KEY },
  { name: "prefix only", path: "/echo", init: bearer("kg_live_"), codes: NOT_A_KEY },
  { name: "SQL in key", path: "/echo", init: bearer("' OR '1'='1"), codes: NOT_A_KEY },
  { name: "SQL after prefix", path: "/echo", init: bearer("kg_live_' OR 1=1; DROP TABLE keys; --"), codes: NOT_A_KEY },
  { name: "SQL in X-API-Key", path: "/echo", init: apiKey("1; DELETE FROM keys"), codes: NOT_A_KEY },
  { name: "JSON as key", path: "/echo", init: bearer('{"id":"key_1"}'), codes: NOT_A_KEY },
  { name: "JWT as key", path: "/echo", init: bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."), codes: NOT_A_KEY },
  { name: "percent-encoded key", path: "/echo", init: bearer(encodeURIComponent(sample).replace("_", "%5F")), codes: NOT_A_KEY },
  { name: "admin token as consumer key", path: "/echo", init: bearer("test-admin-token-0123456789"), codes: NOT_A_KEY },
  { name: "well-formed unknown key", path: "/echo", init: bearer(generateKey("kg_live")), codes: ["KEY_NOT_FOUND"] },
  { name: "well-formed unknown test key", path: "/echo", init: apiKey(generateKey("kg_test")), codes: ["KEY_NOT_FOUND"] },
  { name: "custom-prefix unknown key", path: "/echo", init: bearer(generateKey("acme_prod")), codes: ["KEY_NOT_FOUND"] },
  { name: "unknown key on unknown path", path: "/nowhere", init: bearer(generateKey("kg_live")), codes: ["KEY_NOT_FOUND"] },
  { name: "unknown key, spoofed identity", path: "/echo", init: { headers: { Authorization: `Bearer ${generateKey("kg_live")}`, "X-Keygate-Key-Id": "key_x", "X-Keygate-Owner-Id": "root" } }, codes: ["KEY_NOT_FOUND"] },
  { name: "no key, spoofed identity and assertion", path: "/echo", init: { headers: { "X-Keygate-Key-Id": "key_x", "X-Keygate-Assertion": "e30.e30.sig", "X-Keygate-Scopes": "*" } }, codes: ["MISSING_KEY"] },
  { name: "no key, spoofed request id", path: "/echo", init: { headers: { "X-Request-Id": "req_forged" } }, codes: ["MISSING_KEY"] },
  { name: "huge header beside no key", path: "/echo", init: { headers: { "X-Padding": "p".repeat(16_000) } }, codes: ["MISSING_KEY"] },
  { name: "many headers", path: "/echo", init: { headers: Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`X-H${i}`, "v"])) }, codes: ["MISSING_KEY"] },
  { name: "POST body without key", path: "/echo", init: { method: "POST", body: "x".repeat(100_000) }, codes: ["MISSING_KEY"] },
  { name: "traversal without key", path: "/echo/../../etc/passwd", codes: ["MISSING_KEY"] },
  { name: "encoded slash without key", path: "/echo%2F..%2Fadmin", codes: ["MISSING_KEY"] },
];

describe("hostile requests without a valid key", () => {
  it.each(keyless.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    await probe(c, `keyless:${c.name}`);
  });
});

describe("hostile requests with a key", () => {
  const withKey = (name: string, path: string, init: RequestInit, codes?: string[], mayReachOrigin = false): Case => ({
    name,
    path,
    init,
    codes,
    mayReachOrigin,
  });
  const auth = (extra: Record<string, string> = {}) => ({ headers: { Authorization: `Bearer ${valid.key}`, ...extra } });

  const cases = (): Case[] => [
    withKey("revoked key", "/echo", bearer(revoked.key), ["KEY_REVOKED"]),
    withKey("revoked key on unknown path", "/nowhere", bearer(revoked.key), ["KEY_REVOKED"]),
    withKey("revoked key in query", `/query?api_key=${revoked.key}`, {}, ["KEY_REVOKED"]),
    withKey("encoded slash", "/echo%2F..%2Fadmin%2Fkeys", auth(), ["NO_ROUTE"]),
    withKey("encoded slash inside route", "/echo/a%2Fb", auth(), ["NO_ROUTE"]),
    withKey("lower-case encoded slash", "/echo/..%2f..%2fadmin", auth(), ["NO_ROUTE"]),
    withKey("encoded backslash", "/echo/..%5C..%5Cadmin", auth(), ["NO_ROUTE"]),
    withKey("encoded NUL", "/echo/file%00.json", auth(), ["NO_ROUTE"]),
    withKey("dot segments out of the route", "/echo/../../nowhere", auth(), ["NO_ROUTE"]),
    withKey("encoded dot segments out of the route", "/echo/%2e%2e/%2e%2e/nowhere", auth(), ["NO_ROUTE"]),
    withKey("mixed encoded dots", "/echo/.%2e/nowhere", auth(), ["NO_ROUTE"]),
    withKey("traversal into admin", "/echo/../admin/keys", auth(), ["FORBIDDEN", "UNAUTHORIZED"]),
    withKey("prefix look-alike", "/echoes", auth(), ["NO_ROUTE"]),
    withKey("unknown path", "/definitely/not/routed", auth(), ["NO_ROUTE"]),
    withKey("scope missing for write", "/posts/1", { method: "DELETE", ...auth() }, ["INSUFFICIENT_SCOPE"]),
    withKey("scope missing for POST with body", "/posts", { method: "POST", body: "{}", ...auth() }, ["INSUFFICIENT_SCOPE"]),
    withKey("disallowed method on posts", "/posts", { method: "PUT", ...auth() }, ["INSUFFICIENT_SCOPE"]),
    withKey("spoofed identity headers", "/echo", auth({ "X-Keygate-Key-Id": "key_forged", "X-Keygate-Owner-Id": "root", "X-Keygate-Scopes": "*", "X-Keygate-Environment": "live" }), undefined, true),
    withKey("spoofed assertion", "/echo", auth({ "X-Keygate-Assertion": "eyJhbGciOiJFUzI1NiJ9.e30.AAAA" }), undefined, true),
    withKey("spoofed forwarded headers", "/echo", auth({ "X-Forwarded-For": "10.0.0.1", "X-Forwarded-Host": "evil.test" }), undefined, true),
    withKey("double slashes", "//echo//a", auth(), undefined, true),
    withKey("double-encoded traversal", "/echo/%252e%252e/%252e%252e/admin", auth(), ["NO_ROUTE"]),
    withKey("SQL in path", "/echo/'%20OR%201=1--", auth(), undefined, true),
    withKey("SQL in query", "/echo?id=1%27%20OR%20%271%27=%271", auth(), undefined, true),
    withKey("huge query string", `/echo?q=${"a".repeat(8000)}`, auth(), undefined, true),
  ];

  it("none answers 5xx; what reaches the origin stays in its route and carries only keygate's identity", async () => {
    for (const c of cases()) {
      const { status, text } = await probe(c, `keyed:${c.name}`);
      if (status >= 400) continue;
      const echo = JSON.parse(text) as { url: string; headers: Record<string, string> };
      expect(echo.url.startsWith("/echo"), c.name).toBe(true);
      expect(echo.headers["x-keygate-key-id"], c.name).toBe(valid.id);
      expect(echo.headers["x-keygate-owner-id"], c.name).toBe(valid.ownerId);
      expect(echo.headers["x-keygate-scopes"], c.name).toBe("posts:read");
      expect(echo.headers["x-keygate-assertion"], c.name).not.toContain("AAAA");
      expect(echo.headers["x-forwarded-for"], c.name).toBe("198.51.100.7");
      expect(echo.headers["x-forwarded-host"], c.name).toBe("gateway.test");
      expect(echo.headers.authorization, c.name).toBeUndefined();
    }
  });

  it("the origin saw none of the refused requests, and stored data is unchanged", async () => {
    const refusedMarkers = keyless.map((c) => `keyless:${c.name}`);
    const markers = await markersSeenByOrigin();
    expect(markers.filter((m) => refusedMarkers.includes(m))).toEqual([]);
    for (const m of markers.filter((m) => m.startsWith("keyed:"))) {
      expect(["spoofed identity headers", "spoofed assertion", "spoofed forwarded headers", "double slashes", "SQL in path", "SQL in query", "huge query string"]).toContain(m.slice(6));
    }
    expect(await snapshot([valid, revoked])).toBe(before);
  });
});
