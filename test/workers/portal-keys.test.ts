import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createKey, send, uniqueOwner, type Created } from "./helpers";
import { auditBy, auditOf, body, expectInvalid, expectProblem, getRecord, KEY_ID, RECORD_FIELDS, revoke } from "./admin-helpers";
import { drainUsage } from "./usage-helpers";
import { claimsFor, newTenant, workerWith, type Tenant } from "./identity-helpers";
import { portal, signedIn } from "./portal-helpers";

/** The portal API (DESIGN.md, "Key holders: the portal"): an owner manages its own keys, and only those. */

const PORTAL_FIELDS = RECORD_FIELDS.filter((f) => f !== "metadata");

interface PortalKey {
  id: string;
  name: string;
  ownerId: string;
  scopes: string[];
  allowedIps: string[];
  ratelimits: unknown[];
  credits: unknown;
  expiresAt: string | null;
  enabled: boolean;
  revokedAt: string | null;
  rotatedFrom: string | null;
  version: number;
}
type CreatedPortalKey = PortalKey & { key: string };

let ownerId: string;
let cookie: string;
let issued: Created;

beforeAll(async () => {
  ownerId = uniqueOwner("acct");
  // The key the operator issued this owner: its scopes are what the owner may give its own keys.
  issued = await createKey({ ownerId, name: "Issued by the operator", scopes: ["posts:*", "comments:read"], metadata: { tier: "gold" } });
  cookie = await signedIn(ownerId);
});

const create = (json: unknown, as = cookie) => portal("/keys", { method: "POST", cookie: as, json });

describe("GET /api/me", () => {
  it("names the owner, what its keys share, and how many usable keys it holds", async () => {
    expect(await body(await portal("/me", { cookie }), 200)).toEqual({
      ownerId,
      name: null,
      plan: null,
      limits: [],
      credits: null,
      keys: 1,
      returnUrl: null,
    });
  });
});

describe("GET /api/keys", () => {
  it("lists the owner's keys only, newest first, without metadata", async () => {
    await createKey({ ownerId: uniqueOwner(), name: "someone else's" });
    const mine = await body<CreatedPortalKey>(await create({ name: "Mine" }), 201);
    const list = await body<{ data: PortalKey[]; nextCursor: string | null }>(await portal("/keys", { cookie }), 200);
    expect(list.data.map((k) => k.id)).toEqual([mine.id, issued.id]);
    expect(list.nextCursor).toBeNull();
    for (const key of list.data) expect(Object.keys(key).sort()).toEqual([...PORTAL_FIELDS].sort());
    expect(JSON.stringify(list)).not.toContain("gold");
  });

  it("pages with a cursor bound to the owner", async () => {
    const owner = uniqueOwner();
    await createKey({ ownerId: owner, name: "a" });
    await createKey({ ownerId: owner, name: "b" });
    const session = await signedIn(owner);
    const first = await body<{ data: PortalKey[]; nextCursor: string }>(await portal("/keys?limit=1", { cookie: session }), 200);
    expect(first.data.map((k) => k.name)).toEqual(["b"]);
    const second = await body<{ data: PortalKey[]; nextCursor: string | null }>(
      await portal(`/keys?limit=1&cursor=${encodeURIComponent(first.nextCursor)}`, { cookie: session }),
      200,
    );
    expect(second.data.map((k) => k.name)).toEqual(["a"]);
    // the other owner's session cannot walk this owner's list with that cursor
    await expectInvalid(await portal(`/keys?limit=1&cursor=${encodeURIComponent(first.nextCursor)}`, { cookie }), "cursor");
  });
});

describe("POST /api/keys", () => {
  it("creates a key for the owner, shown once, that works at the gateway; audited as owner:<ownerId> via the portal", async () => {
    const created = await body<CreatedPortalKey>(await create({ name: "CLI key", scopes: ["posts:read"], environment: "test", expiresIn: 86_400 }), 201);
    expect(created.id).toMatch(KEY_ID);
    expect(created).toMatchObject({ name: "CLI key", ownerId, scopes: ["posts:read"], ratelimits: [], credits: null, enabled: true });
    expect(created.key).toMatch(/^kg_test_/);
    expect(Date.parse(created.expiresAt!) - Date.now()).toBeGreaterThan(86_000_000);
    expect(Object.keys(created).sort()).toEqual([...PORTAL_FIELDS, "key"].sort());
    expect((await call("/posts/1", created.key)).status).toBe(200);
    const [entry] = await auditOf(created.id);
    expect(entry).toMatchObject({ actor: `owner:${ownerId}`, action: "key.create", via: "portal" });
    // The operator's own changes carry no via.
    const [operators] = await auditOf(issued.id);
    expect(operators).not.toHaveProperty("via");
  });

  it("refuses scopes beyond what the owner's keys hold: 403 SCOPE_NOT_ALLOWED, and nothing is created", async () => {
    for (const scopes of [["users:read"], ["*"], ["comments:*"], ["*:read"], ["posts:read", "billing:write"]]) {
      const p = await expectProblem(await create({ name: "too much", scopes }), 403, "SCOPE_NOT_ALLOWED");
      expect(p.detail).toContain(scopes.at(-1)!);
    }
    for (const scopes of [["posts:read"], ["posts:*"], ["comments:read"], []]) {
      expect((await create({ name: "fits", scopes })).status, JSON.stringify(scopes)).toBe(201);
    }
    expect((await auditBy(`owner:${ownerId}`)).filter((e) => e.changes.name?.to === "too much")).toEqual([]);
  });

  it("never gives an admin scope, whatever the owner's keys hold", async () => {
    const owner = uniqueOwner();
    await createKey({ ownerId: owner, scopes: ["*", "admin:read", "admin:write"] });
    const session = await signedIn(owner);
    for (const scope of ["admin:read", "admin:write", "admin:*"]) {
      await expectProblem(await create({ name: "admin", scopes: [scope] }, session), 403, "SCOPE_NOT_ALLOWED");
    }
    expect((await create({ name: "wide", scopes: ["*"] }, session)).status).toBe(201);
  });

  it("lets an owner with no usable key create keys without scopes only", async () => {
    const owner = uniqueOwner();
    const gone = await createKey({ ownerId: owner, scopes: ["posts:read"] });
    await revoke(gone.id);
    const session = await signedIn(owner);
    await expectProblem(await create({ name: "x", scopes: ["posts:read"] }, session), 403, "SCOPE_NOT_ALLOWED");
    expect((await create({ name: "x" }, session)).status).toBe(201);
  });

  it("is 409 KEY_LIMIT_REACHED past MAX_KEYS_PER_OWNER", async () => {
    const gateway = workerWith({ MAX_KEYS_PER_OWNER: "2" });
    const owner = uniqueOwner();
    const session = await signedIn(owner, gateway.fetch);
    for (let i = 0; i < 2; i++) expect((await portal("/keys", { method: "POST", cookie: session, json: { name: `k${i}` }, via: gateway.fetch })).status).toBe(201);
    await expectProblem(await portal("/keys", { method: "POST", cookie: session, json: { name: "k2" }, via: gateway.fetch }), 409, "KEY_LIMIT_REACHED");
  });

  it("takes only what a key holder may set: limits, credits, metadata, prefix and owner are the operator's", async () => {
    for (const field of ["ratelimits", "credits", "metadata", "prefix", "ownerId", "enabled", "expiresAt"]) {
      const values: Record<string, unknown> = {
        ratelimits: [{ name: "m", limit: 1, windowSeconds: 60 }],
        credits: { remaining: 10 },
        metadata: { a: 1 },
        prefix: "acme_live",
        ownerId: "someone",
        enabled: false,
        expiresAt: "2099-01-01T00:00:00Z",
      };
      await expectInvalid(await create({ name: "x", [field]: values[field] }), "");
    }
    await expectInvalid(await create({ name: "" }), "name");
    await expectInvalid(await create({ name: "x", allowedIps: ["300.1.1.1"] }), "allowedIps.0");
  });
});

describe("changing, rotating and revoking the owner's keys", () => {
  it("PATCH changes name, allowedIps and enabled, and nothing else", async () => {
    const key = await body<CreatedPortalKey>(await create({ name: "to change", scopes: ["posts:read"] }), 201);
    const changed = await body<PortalKey>(
      await portal(`/keys/${key.id}`, { method: "PATCH", cookie, json: { name: "changed", allowedIps: ["203.0.113.0/24"], enabled: false } }),
      200,
    );
    expect(changed).toMatchObject({ name: "changed", allowedIps: ["203.0.113.0/24"], enabled: false, version: key.version + 1 });
    expect(changed).not.toHaveProperty("metadata");
    expect((await call("/posts/1", key.key)).status).toBe(403);
    for (const field of ["scopes", "ratelimits", "credits", "metadata", "expiresAt"]) {
      await expectInvalid(await portal(`/keys/${key.id}`, { method: "PATCH", cookie, json: { [field]: null } }), "");
    }
    const entries = await auditOf(key.id);
    expect(entries[0]).toMatchObject({ actor: `owner:${ownerId}`, action: "key.update", via: "portal" });
  });

  it("rotates with a grace period of at most 7 days; the new key is shown once and the old one works through the grace", async () => {
    const key = await body<CreatedPortalKey>(await create({ name: "to rotate", scopes: ["posts:read"] }), 201);
    await expectInvalid(await portal(`/keys/${key.id}/rotate`, { method: "POST", cookie, json: { gracePeriodSeconds: 604_801 } }), "gracePeriodSeconds");
    const rotated = await body<CreatedPortalKey>(await portal(`/keys/${key.id}/rotate`, { method: "POST", cookie, json: { gracePeriodSeconds: 604_800 } }), 201);
    expect(rotated).toMatchObject({ rotatedFrom: key.id, ownerId, scopes: ["posts:read"] });
    expect(rotated.key).not.toBe(key.key);
    expect((await call("/posts/1", rotated.key)).status).toBe(200);
    expect((await call("/posts/1", key.key)).status).toBe(200);
    const old = await getRecord(key.id);
    expect(Date.parse(old.expiresAt!) - Date.now()).toBeGreaterThan(604_700_000);
    expect((await auditOf(key.id))[0]).toMatchObject({ action: "key.rotate", actor: `owner:${ownerId}`, via: "portal" });
  });

  it("DELETE revokes: the very next gateway request is refused", async () => {
    const key = await body<CreatedPortalKey>(await create({ name: "to revoke" }), 201);
    const revoked = await body<PortalKey>(await portal(`/keys/${key.id}`, { method: "DELETE", cookie }), 200);
    expect(revoked.revokedAt).not.toBeNull();
    await expectProblem(await call("/echo", key.key), 401, "KEY_REVOKED");
    expect((await auditOf(key.id))[0]).toMatchObject({ action: "key.revoke", actor: `owner:${ownerId}`, via: "portal" });
  });

  it("another owner's key is 404, exactly as a key that does not exist, on every route, and it is left unchanged", async () => {
    const theirs = await createKey({ ownerId: uniqueOwner(), scopes: ["posts:read"] });
    const nobody = "key_01JD6T3W4Y8N2B5C7E9G1H3K5M";
    const routes: [string, string, unknown][] = [
      ["PATCH", "", { name: "mine now" }],
      ["POST", "/rotate", { gracePeriodSeconds: 0 }],
      ["DELETE", "", undefined],
      ["GET", "/requests", undefined],
    ];
    for (const [method, suffix, json] of routes) {
      const a = await expectProblem(await portal(`/keys/${theirs.id}${suffix}`, { method, cookie, json }), 404, "NOT_FOUND");
      const b = await expectProblem(await portal(`/keys/${nobody}${suffix}`, { method, cookie, json }), 404, "NOT_FOUND");
      expect(a.detail.replace(theirs.id, "ID")).toBe(b.detail.replace(nobody, "ID"));
    }
    const after = await getRecord(theirs.id);
    expect(after).toMatchObject({ name: theirs.name, revokedAt: null, version: theirs.version });
    expect((await call("/posts/1", theirs.key)).status).toBe(200);
  });
});

describe("usage and the request log", () => {
  it("GET /api/usage answers the owner's requests over time, shaped as a key's usage; GET /api/keys/{id}/requests one key's log", async () => {
    const owner = uniqueOwner();
    const session = await signedIn(owner);
    const key = await body<CreatedPortalKey>(await create({ name: "used" }, session), 201);
    for (let i = 0; i < 3; i++) expect((await call("/echo/hello", key.key)).status).toBe(200);
    await drainUsage();
    const usage = await body<{ ownerId: string; granularity: string; series: { requests: number }[]; totals: { requests: number; allowed: number } }>(
      await portal("/usage", { cookie: session }),
      200,
    );
    expect(usage).toMatchObject({ ownerId: owner, granularity: "hour", totals: { requests: 3, allowed: 3 } });
    expect(usage.series.reduce((n, s) => n + s.requests, 0)).toBe(3);
    const daily = await body<{ granularity: string; series: unknown[] }>(await portal("/usage?granularity=day", { cookie: session }), 200);
    expect(daily.granularity).toBe("day");
    await expectInvalid(await portal("/usage?from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", { cookie: session }), "from");
    const log = await body<{ data: { path: string; outcome: string }[] }>(await portal(`/keys/${key.id}/requests`, { cookie: session }), 200);
    expect(log.data.map((e) => [e.path, e.outcome])).toEqual([
      ["/echo/hello", "OK"],
      ["/echo/hello", "OK"],
      ["/echo/hello", "OK"],
    ]);
    // another owner's usage never shows
    const mine = await body<{ totals: { requests: number } }>(await portal("/usage", { cookie }), 200);
    expect(mine.totals.requests).toBeLessThan(1000);
    const other = await signedIn(uniqueOwner());
    expect((await body<{ totals: { requests: number } }>(await portal("/usage", { cookie: other }), 200)).totals.requests).toBe(0);
  });
});

describe("PORTAL_OIDC: a token from the operator's identity provider", () => {
  let idp: Tenant;
  let gateway: ReturnType<typeof workerWith>;
  const AUD = "keygate-portal";
  beforeAll(async () => {
    idp = await newTenant();
    gateway = workerWith({ PORTAL_OIDC: JSON.stringify({ issuer: idp.url, jwksUrl: idp.jwksUrl, audience: AUD, ownerClaim: "account" }) });
  });
  const token = (extra: Record<string, unknown>, options = {}) => idp.sign(claimsFor(idp.url, AUD, { sub: "user-1", ...extra }), options);

  it("acts as the owner its ownerClaim names, and writes need no Origin (no cookie to ride on)", async () => {
    const owner = uniqueOwner();
    await createKey({ ownerId: owner, scopes: ["posts:read"] });
    const bearer = await token({ account: owner });
    expect(await body(await portal("/me", { bearer, via: gateway.fetch }), 200)).toMatchObject({ ownerId: owner, keys: 1, returnUrl: null });
    const created = await body<CreatedPortalKey>(await portal("/keys", { method: "POST", bearer, origin: null, json: { name: "via token", scopes: ["posts:read"] }, via: gateway.fetch }), 201);
    expect((await auditOf(created.id))[0]).toMatchObject({ actor: `owner:${owner}`, via: "portal" });
    expect((await portal("/sign-out", { method: "POST", bearer, origin: null, via: gateway.fetch })).status).toBe(204);
  });

  it("refuses a token whose claim names no owner (403), and forged or unfit tokens (401)", async () => {
    await expectProblem(await portal("/me", { bearer: await token({}), via: gateway.fetch }), 403, "FORBIDDEN");
    await expectProblem(await portal("/me", { bearer: await token({ account: "" }), via: gateway.fetch }), 403, "FORBIDDEN");
    await expectProblem(await portal("/me", { bearer: await token({ account: ["a", "b"] }), via: gateway.fetch }), 403, "FORBIDDEN");
    const now = Math.floor(Date.now() / 1000);
    for (const [why, bad] of [
      ["another audience", await idp.sign(claimsFor(idp.url, "keygate-admin", { account: "acct_1" }))],
      ["another issuer", await idp.sign(claimsFor("https://evil.example", AUD, { account: "acct_1" }))],
      ["expired", await token({ account: "acct_1", exp: now - 120 })],
      ["not yet valid", await token({ account: "acct_1", nbf: now + 600 })],
      ["alg none", await token({ account: "acct_1" }, { alg: "none" })],
      ["HS256 with the public key", await token({ account: "acct_1" }, { alg: "HS256-public" })],
      ["unknown kid", await token({ account: "acct_1" }, { key: "unpublished" })],
      ["not a JWT", "hello"],
    ] as const) {
      const res = await portal("/me", { bearer: bad, via: gateway.fetch });
      expect(res.status, why).toBe(401);
    }
  });

  it("a portal without PORTAL_OIDC takes no bearer token", async () => {
    await expectProblem(await portal("/me", { bearer: await token({ account: "acct_1" }) }), 401, "UNAUTHORIZED");
  });

  it("answers 503 when the issuer's keys cannot be fetched", async () => {
    const down = await newTenant();
    await down.mode("503");
    const fetch = workerWith({ PORTAL_OIDC: JSON.stringify({ issuer: down.url, jwksUrl: down.jwksUrl, audience: AUD }) }).fetch;
    await expectProblem(await portal("/me", { bearer: await down.sign(claimsFor(down.url, AUD, { sub: "acct_1" })), via: fetch }), 503, "GATEWAY_UNAVAILABLE");
  });
});

describe("PORTAL_PATH", () => {
  it("moves the portal; an empty PORTAL_PATH turns it off and the path is consumer traffic", async () => {
    const moved = workerWith({ PORTAL_PATH: "/account/keys" });
    expect((await moved.fetch("/account/keys/api/openapi.json")).status).toBe(200);
    const doc = await body<{ servers: { url: string }[] }>(await moved.fetch("/account/keys/api/openapi.json"), 200);
    expect(doc.servers).toEqual([{ url: "/account/keys/api" }]);
    const link = await body<{ url: string }>(
      await moved.fetch("/admin/portal/sessions", { method: "POST", token: "test-admin-token-0123456789", json: { ownerId: "acct_42" } }),
      201,
    );
    expect(link.url).toMatch(/^https:\/\/gateway\.test\/account\/keys\/start\?code=/);
    // /portal is now a consumer path: the gateway asks for a key
    await expectProblem(await moved.fetch("/portal/api/me", { documented: false }), 401, "MISSING_KEY");

    const off = workerWith({ PORTAL_PATH: "" });
    await expectProblem(await off.fetch("/portal/api/me", { documented: false }), 401, "MISSING_KEY");
    const key = await createKey({ ownerId: uniqueOwner() });
    const echoed = await off.fetch("/portal/api/me", { token: key.key, headers: { "CF-Connecting-IP": "198.51.100.7" }, documented: false });
    expect(echoed.status).toBe(404); // no route for /portal in the test routes: NO_ROUTE, a consumer's answer
    expect((await echoed.json<{ code: string }>()).code).toBe("NO_ROUTE");
  });

  it("is CONFIG_INVALID where it would share the admin path or keygate's own", async () => {
    for (const value of ["/admin", "/admin/portal", "/", "/.well-known", "/healthz", "portal"]) {
      const p = await expectProblem(await workerWith({ PORTAL_PATH: value }).fetch("/healthz"), 500, "CONFIG_INVALID");
      expect(p.detail, value).toContain("PORTAL_PATH");
    }
  });

  it("matches without regard to case and on the canonical path, as the admin path does", async () => {
    const session = await signedIn(uniqueOwner());
    for (const path of ["/PORTAL/api/me", "//portal/api/me", "/x/../portal/api/me"]) {
      const res = await send(path, { headers: { Cookie: session } });
      expect(res.status, path).toBe(200);
    }
  });
});

describe("keygate's own answers", () => {
  it("an unknown portal API path is a 404 problem, never the page", async () => {
    await expectProblem(await portal("/nothing", { cookie }), 404, "NOT_FOUND");
  });

  it("is no-store, as admin answers are", async () => {
    for (const res of [await portal("/me", { cookie }), await portal("/me"), await portal("/keys", { cookie })]) {
      expect(res.headers.get("Cache-Control")).toBe("no-store");
    }
  });

  it("the API's document is served at PORTAL_PATH/api/openapi.json", async () => {
    const doc = await body<{ openapi: string; paths: Record<string, Record<string, { operationId: string }>> }>(await portal("/openapi.json"), 200);
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual(["/key", "/keys", "/keys/{id}", "/keys/{id}/requests", "/keys/{id}/rotate", "/me", "/sign-out", "/usage"]);
    expect(Object.keys(doc.paths["/keys"]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/keys/{id}"]).sort()).toEqual(["delete", "patch"]);
  });
});

describe("an owner on a plan", () => {
  it("the plan's scopes are the ceiling, its limits bind the keys the portal makes, and /api/me shows what the owner shares", async () => {
    const plan = `portal-${Date.now().toString(36)}`;
    const created = await send("/admin/plans", {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        id: plan,
        name: "Portal plan",
        scopes: ["posts:*", "users:read"],
        keyRatelimits: [{ name: "minute", limit: 2, windowSeconds: 60 }],
        ownerRatelimits: [{ name: "day", limit: 100, windowSeconds: 86_400 }],
        ownerCredits: { amount: 50, interval: "monthly", day: 1 },
      }),
    });
    expect(created.status).toBe(201);
    const owner = uniqueOwner("planned");
    const put = await send(`/admin/owners/${owner}`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ plan }),
    });
    expect(put.status).toBe(201);
    // The operator's key holds less than the plan allows: the plan, not that key, is the ceiling.
    await createKey({ ownerId: owner, scopes: ["posts:read"] });
    const session = await signedIn(owner);

    await expectProblem(await create({ name: "beyond", scopes: ["comments:read"] }, session), 403, "SCOPE_NOT_ALLOWED");
    await expectProblem(await create({ name: "admin", scopes: ["admin:read"] }, session), 403, "SCOPE_NOT_ALLOWED");
    const made = await body<CreatedPortalKey>(await create({ name: "wider than the issued key", scopes: ["users:read", "posts:write"] }, session), 201);
    expect(made.ratelimits).toEqual([]);
    expect(made.credits).toBeNull();

    // The plan's key limit applies to it, and the owner's shared balance pays for it.
    expect((await call("/echo", made.key)).status).toBe(200);
    expect((await call("/echo", made.key)).status).toBe(200);
    await expectProblem(await call("/echo", made.key), 429, "RATE_LIMITED");

    const me = await body<{ plan: string; limits: { name: string; limit: number; remaining: number }[]; credits: { remaining: number } }>(
      await portal("/me", { cookie: session }),
      200,
    );
    expect(me.plan).toBe(plan);
    expect(me.limits.map(({ name, limit, remaining }) => ({ name, limit, remaining }))).toEqual([{ name: "owner.day", limit: 100, remaining: 98 }]);
    expect(me.credits.remaining).toBe(48);
  });
});
