import { beforeAll, describe, expect, it } from "vitest";
import { adminKey, auditBy, body, expectProblem, sleep } from "./admin-helpers";
import { uniqueOwner } from "./helpers";
import { asRoot, claimsFor, newTenant, workerWith, type Fetch, type Tenant } from "./identity-helpers";

/**
 * Operators sign in as themselves (DESIGN.md, "Operators' sign-in and roles"): a bearer JWT from
 * ADMIN_OIDC's issuer, or Cloudflare Access's assertion (ADMIN_ACCESS), each mapped to a role.
 */

const AUDIENCE = "keygate-admin";
const ROLES = {
  "vera@example.com": "viewer",
  "otto@example.com": "operator",
  "ada@example.com": "admin",
  "*@ops.example.com": "operator",
  "boss@ops.example.com": "admin",
};

let idp: Tenant;
let gateway: Fetch;
let token: (email: string | null, extra?: Record<string, unknown>) => Promise<string>;

beforeAll(async () => {
  idp = await newTenant();
  gateway = workerWith({ ADMIN_OIDC: JSON.stringify({ issuer: idp.url, jwksUrl: idp.jwksUrl, audience: AUDIENCE, roles: ROLES }) }).fetch;
  token = (email, extra = {}) => idp.sign(claimsFor(idp.url, AUDIENCE, { sub: `user-${email}`, ...(email ? { email } : {}), ...extra }));
});

const whoami = async (bearer: string) => gateway("/admin/whoami", { token: bearer });

describe("ADMIN_OIDC: a bearer JWT from the operator's identity provider", () => {
  it("answers whoami with user:<email>, the role roles gives it, and whether it may write", async () => {
    expect(await body(await whoami(await token("vera@example.com")), 200)).toEqual({ actor: "user:vera@example.com", role: "viewer", canWrite: false });
    expect(await body(await whoami(await token("otto@example.com")), 200)).toEqual({ actor: "user:otto@example.com", role: "operator", canWrite: true });
    expect(await body(await whoami(await token("ada@example.com")), 200)).toEqual({ actor: "user:ada@example.com", role: "admin", canWrite: true });
  });

  it("maps *@domain to everyone of the domain, an email's own entry first, without regard to case", async () => {
    expect(await body(await whoami(await token("Someone@OPS.example.com")), 200)).toMatchObject({ actor: "user:someone@ops.example.com", role: "operator" });
    expect(await body(await whoami(await token("boss@ops.example.com")), 200)).toMatchObject({ role: "admin" });
    // a subdomain is another domain
    await expectProblem(await whoami(await token("eve@evil.ops.example.com")), 403, "FORBIDDEN");
  });

  it("keeps ADMIN_TOKEN and admin keys working beside it: ADMIN_TOKEN and admin:write are admin, admin:read is viewer", async () => {
    expect(await body(await whoami(asRoot), 200)).toEqual({ actor: "root", role: "admin", canWrite: true });
    const writer = await adminKey(["admin:write"]);
    expect(await body(await whoami(writer.key), 200)).toEqual({ actor: writer.id, role: "admin", canWrite: true });
    const reader = await adminKey(["admin:read"]);
    expect(await body(await whoami(reader.key), 200)).toEqual({ actor: reader.id, role: "viewer", canWrite: false });
  });

  it("an operator changes keys, and the audit log names them user:<email>", async () => {
    const operator = await token("otto@example.com");
    const ownerId = uniqueOwner();
    const created = await body<{ id: string }>(await gateway("/admin/keys", { method: "POST", token: operator, json: { name: "by otto", ownerId } }), 201);
    await body(await gateway(`/admin/keys/${created.id}`, { method: "PATCH", token: operator, json: { name: "renamed by otto" } }), 200);
    const rotated = await body<{ id: string }>(await gateway(`/admin/keys/${created.id}/rotate`, { method: "POST", token: operator, json: {} }), 201);
    await body(await gateway(`/admin/keys/${rotated.id}`, { method: "DELETE", token: operator }), 200);
    const entries = (await auditBy("user:otto@example.com")).filter((e) => [created.id, rotated.id].includes(e.targetId));
    expect(entries.map((e) => e.action).sort()).toEqual(["key.create", "key.create", "key.revoke", "key.rotate", "key.update"]);
  });

  it("an operator makes portal links; the audit log names them", async () => {
    const ownerId = uniqueOwner();
    const link = await body<{ url: string }>(
      await gateway("/admin/portal/sessions", { method: "POST", token: await token("otto@example.com"), json: { ownerId } }),
      201,
    );
    expect(link.url).toMatch(/\/portal\/start\?code=kgp_/);
    expect((await auditBy("user:otto@example.com")).find((e) => e.targetId === ownerId)).toMatchObject({ action: "portal.link" });
  });

  it("a viewer reads everything and is refused every write route (403 FORBIDDEN), changing nothing", async () => {
    const viewer = await token("vera@example.com");
    const target = await body<{ id: string; version: number }>(
      await gateway("/admin/keys", { method: "POST", token: asRoot, json: { name: "target", ownerId: uniqueOwner() } }),
      201,
    );
    for (const path of ["/keys", `/keys/${target.id}`, `/keys/${target.id}/usage`, `/keys/${target.id}/requests`, "/usage", "/audit", "/whoami"]) {
      expect((await gateway(`/admin${path}`, { token: viewer })).status, path).toBe(200);
    }
    const writes: [string, string, unknown][] = [
      ["POST", "/keys", { name: "nope", ownerId: uniqueOwner() }],
      ["PATCH", `/keys/${target.id}`, { name: "nope" }],
      ["DELETE", `/keys/${target.id}`, undefined],
      ["POST", `/keys/${target.id}/rotate`, { gracePeriodSeconds: 0 }],
      ["POST", "/keys/verify", { key: "kg_live_x" }],
      ["POST", "/portal/sessions", { ownerId: "acct_42" }],
    ];
    for (const [method, path, json] of writes) {
      const p = await expectProblem(await gateway(`/admin${path}`, { method, token: viewer, json }), 403, "FORBIDDEN");
      expect(p.detail, `${method} ${path}`).toContain("vera@example.com has the viewer role");
    }
    const after = await body<{ version: number; revokedAt: string | null }>(await gateway(`/admin/keys/${target.id}`, { token: asRoot }), 200);
    expect(after).toMatchObject({ version: target.version, revokedAt: null });
    expect(await auditBy("user:vera@example.com")).toEqual([]);
  });

  it("plans and webhooks are changed by admins only: an operator is refused, an admin passes the role check", async () => {
    const operator = await token("otto@example.com");
    const admin = await token("ada@example.com");
    for (const path of ["/plans", "/webhooks", "/plans/free", "/webhooks/whk_1/rotate-secret"]) {
      // Not in the document yet: the owners and plans, and the webhooks, bring these routes.
      await expectProblem(await gateway(`/admin${path}`, { method: "POST", token: operator, json: {}, documented: false }), 403, "FORBIDDEN");
      expect((await gateway(`/admin${path}`, { method: "POST", token: admin, json: {}, documented: false })).status, path).not.toBe(403);
    }
  });

  it("an identity no entry maps, or one that names no (verified) email, is 403 FORBIDDEN", async () => {
    const unmapped = await expectProblem(await whoami(await token("mallory@elsewhere.example")), 403, "FORBIDDEN");
    expect(unmapped.detail).toContain("mallory@elsewhere.example is not given a role");
    await expectProblem(await whoami(await token(null)), 403, "FORBIDDEN");
    await expectProblem(await whoami(await token("ada@example.com", { email_verified: false })), 403, "FORBIDDEN");
    await expectProblem(await whoami(await idp.sign(claimsFor(idp.url, AUDIENCE, { email: 42 }))), 403, "FORBIDDEN");
  });

  describe("refuses every forged or unfit token with 401 UNAUTHORIZED", () => {
    const admin = { email: "ada@example.com" };
    const now = () => Math.floor(Date.now() / 1000);
    const cases: [string, () => Promise<string>][] = [
      ["another issuer", () => idp.sign(claimsFor("https://evil.example", AUDIENCE, admin))],
      ["another audience", () => idp.sign(claimsFor(idp.url, "someone-else", admin))],
      ["alg none", () => idp.sign(claimsFor(idp.url, AUDIENCE, admin), { alg: "none" })],
      ["HS256 keyed with the issuer's public key", () => idp.sign(claimsFor(idp.url, AUDIENCE, admin), { alg: "HS256-public" })],
      ["expired", () => idp.sign(claimsFor(idp.url, AUDIENCE, { ...admin, iat: now() - 3600, exp: now() - 600 }))],
      ["not valid before a future nbf", () => idp.sign(claimsFor(idp.url, AUDIENCE, { ...admin, nbf: now() + 600 }))],
      ["without exp", () => idp.sign({ iss: idp.url, aud: AUDIENCE, ...admin })],
      ["signed by a key the issuer does not publish", () => idp.sign(claimsFor(idp.url, AUDIENCE, admin), { key: "unpublished" })],
      ["naming an unknown kid", () => idp.sign(claimsFor(idp.url, AUDIENCE, admin), { kid: "no-such-kid" })],
      [
        "with a payload changed after signing",
        async () => {
          const [header, , signature] = (await idp.sign(claimsFor(idp.url, AUDIENCE, { email: "vera@example.com" }))).split(".");
          const payload = btoa(JSON.stringify(claimsFor(idp.url, AUDIENCE, admin))).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
          return `${header}.${payload}.${signature}`;
        },
      ],
    ];
    it.each(cases)("a token %s", async (_, make) => {
      // The same token without the flaw is accepted: the 401 below is the flaw's.
      expect((await whoami(await token("ada@example.com"))).status).toBe(200);
      const forged = await make();
      const p = await expectProblem(await whoami(forged), 401, "UNAUTHORIZED");
      expect(p.detail).not.toContain(forged);
      await expectProblem(await gateway("/admin/keys", { method: "POST", token: forged, json: { name: "x", ownerId: uniqueOwner() } }), 401, "UNAUTHORIZED");
    });
  });

  it("keeps the issuer's keys per isolate and fetches them again for a kid it has not seen, at most once per cooldown", async () => {
    const tenant = await newTenant();
    const fetch = workerWith({
      ADMIN_OIDC: JSON.stringify({ issuer: tenant.url, jwksUrl: tenant.jwksUrl, audience: AUDIENCE, roles: { "ada@example.com": "admin" } }),
    }).fetch;
    const sign = (options = {}) => tenant.sign(claimsFor(tenant.url, AUDIENCE, { email: "ada@example.com" }), options);
    for (let i = 0; i < 3; i++) expect((await fetch("/admin/whoami", { token: await sign() })).status).toBe(200);
    expect(await tenant.fetches()).toBe(1);
    // Made-up kids right after a fetch cost the issuer nothing more.
    for (let i = 0; i < 3; i++) await expectProblem(await fetch("/admin/whoami", { token: await sign({ kid: `made-up-${i}` }) }), 401, "UNAUTHORIZED");
    expect(await tenant.fetches()).toBe(1);
    // The issuer rotates: a token with the new kid is accepted once the cooldown has passed.
    await tenant.rotate();
    await sleep(5_100);
    expect((await fetch("/admin/whoami", { token: await sign() })).status).toBe(200);
    expect(await tenant.fetches()).toBe(2);
  });

  it("answers 503 GATEWAY_UNAVAILABLE, never 500 and never accepted, when the issuer's keys cannot be fetched", async () => {
    for (const mode of ["503", "reset", "garbage"] as const) {
      const tenant = await newTenant();
      await tenant.mode(mode);
      const fetch = workerWith({
        ADMIN_OIDC: JSON.stringify({ issuer: tenant.url, jwksUrl: tenant.jwksUrl, audience: AUDIENCE, roles: { "ada@example.com": "admin" } }),
      }).fetch;
      const res = await fetch("/admin/whoami", { token: await tenant.sign(claimsFor(tenant.url, AUDIENCE, { email: "ada@example.com" })) });
      await expectProblem(res, 503, "GATEWAY_UNAVAILABLE");
      expect(res.headers.get("Retry-After"), mode).toBe("5");
    }
    const closed = workerWith({
      ADMIN_OIDC: JSON.stringify({ issuer: idp.url, jwksUrl: "http://127.0.0.1:9/jwks", audience: AUDIENCE, roles: { "ada@example.com": "admin" } }),
    }).fetch;
    await expectProblem(await closed("/admin/whoami", { token: await token("ada@example.com") }), 503, "GATEWAY_UNAVAILABLE");
  });

  it("answers 503 when the key set does not arrive in time", async () => {
    const tenant = await newTenant();
    await tenant.mode("slow");
    const fetch = workerWith({
      ADMIN_OIDC: JSON.stringify({ issuer: tenant.url, jwksUrl: tenant.jwksUrl, audience: AUDIENCE, roles: { "ada@example.com": "admin" } }),
    }).fetch;
    const started = Date.now();
    await expectProblem(await fetch("/admin/whoami", { token: await tenant.sign(claimsFor(tenant.url, AUDIENCE, { email: "ada@example.com" })) }), 503, "GATEWAY_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(9_000);
  });

  it("without ADMIN_OIDC, a JWT is no admin credential", async () => {
    expect((await whoami(await token("ada@example.com"))).status).toBe(200);
    const plain = workerWith({}).fetch;
    const p = await expectProblem(await plain("/admin/whoami", { token: await token("ada@example.com") }), 401, "UNAUTHORIZED");
    expect(p.detail).toBe("The token is neither ADMIN_TOKEN nor a keygate key.");
  });
});

describe("ADMIN_ACCESS: Cloudflare Access in front of the admin path", () => {
  const AUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";
  let team: Tenant;
  let access: Fetch;
  const assertion = (email: string, extra: Record<string, unknown> = {}, options = {}) =>
    team.sign(claimsFor(team.url, AUD, { email, type: "app", identity_nonce: "n", country: "DE", ...extra }), options);
  const asAccess = (jwt: string, init: Parameters<Fetch>[1] = {}) =>
    access("/admin/whoami", { ...init, headers: { "Cf-Access-Jwt-Assertion": jwt, ...(init.headers as Record<string, string>) } });

  beforeAll(async () => {
    team = await newTenant();
    access = workerWith({ ADMIN_ACCESS: JSON.stringify({ teamDomain: team.url, aud: AUD, roles: { "*@example.com": "operator", "vera@example.com": "viewer" } }) }).fetch;
  });

  it("signs the operator in from the assertion alone, with no Authorization header", async () => {
    expect(await body(await asAccess(await assertion("otto@example.com")), 200)).toEqual({ actor: "user:otto@example.com", role: "operator", canWrite: true });
    expect(await body(await asAccess(await assertion("vera@example.com")), 200)).toEqual({ actor: "user:vera@example.com", role: "viewer", canWrite: false });
  });

  it("refuses an assertion for another application, from another team, not RS256, forged, or expired (401)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged: [string, string][] = [
      ["another aud", await team.sign(claimsFor(team.url, "another-application", { email: "otto@example.com" }))],
      ["another team", await team.sign(claimsFor("https://other.cloudflareaccess.com", AUD, { email: "otto@example.com" }))],
      ["ES256, though the key is published", await assertion("otto@example.com", {}, { alg: "ES256" })],
      ["HS256 keyed with the public key", await assertion("otto@example.com", {}, { alg: "HS256-public" })],
      ["alg none", await assertion("otto@example.com", {}, { alg: "none" })],
      ["expired", await assertion("otto@example.com", { exp: now - 600 })],
      ["signed by an unpublished key", await assertion("otto@example.com", {}, { key: "unpublished" })],
    ];
    expect((await asAccess(await assertion("otto@example.com"))).status).toBe(200);
    for (const [why, jwt] of forged) {
      const res = await asAccess(jwt);
      expect(res.status, why).toBe(401);
      expect((await res.json<{ code: string }>()).code, why).toBe("UNAUTHORIZED");
    }
  });

  it("refuses an identity its roles do not map (403), and a service token that names no email", async () => {
    await expectProblem(await asAccess(await assertion("mallory@elsewhere.example")), 403, "FORBIDDEN");
    await expectProblem(await asAccess(await team.sign(claimsFor(team.url, AUD, { common_name: "ci.access" }))), 403, "FORBIDDEN");
  });

  it("lets an Authorization header decide when one is sent, so the CLI's token works behind Access", async () => {
    const res = await asAccess(await assertion("mallory@elsewhere.example"), { token: asRoot });
    expect(await body(res, 200)).toMatchObject({ actor: "root", role: "admin" });
  });

  it("tells the dashboard's page to sign in by itself only when the page came through Access", async () => {
    const hinted = await (await access("/admin/ui", { headers: { "Cf-Access-Jwt-Assertion": await assertion("otto@example.com") } })).text();
    expect(hinted).toContain('<meta name="keygate-access" content="on" />');
    expect(await (await access("/admin/ui")).text()).not.toContain("keygate-access");
    const plain = workerWith({}).fetch;
    expect(await (await plain("/admin/ui", { headers: { "Cf-Access-Jwt-Assertion": "x.y.z" } })).text()).not.toContain("keygate-access");
  });

  it("ignores the header where ADMIN_ACCESS is not set: anyone can send it", async () => {
    expect((await asAccess(await assertion("otto@example.com"))).status).toBe(200);
    const plain = workerWith({}).fetch;
    await expectProblem(await plain("/admin/whoami", { headers: { "Cf-Access-Jwt-Assertion": await assertion("otto@example.com") } }), 401, "UNAUTHORIZED");
  });

  it("answers 503 when the team's certs cannot be fetched", async () => {
    const down = await newTenant();
    await down.mode("503");
    const fetch = workerWith({ ADMIN_ACCESS: JSON.stringify({ teamDomain: down.url, aud: AUD, roles: { "*@example.com": "admin" } }) }).fetch;
    const jwt = await down.sign(claimsFor(down.url, AUD, { email: "otto@example.com" }));
    await expectProblem(await fetch("/admin/whoami", { headers: { "Cf-Access-Jwt-Assertion": jwt } }), 503, "GATEWAY_UNAVAILABLE");
  });
});

describe("configuration of operators' identities", () => {
  it.each([
    ["ADMIN_OIDC", "{}", /ADMIN_OIDC\.(issuer|jwksUrl|audience|roles)/],
    ["ADMIN_OIDC", JSON.stringify({ issuer: "x", jwksUrl: "http://login.example.com/jwks", audience: "a", roles: { "a@b.c": "admin" } }), /ADMIN_OIDC\.jwksUrl/],
    ["ADMIN_OIDC", JSON.stringify({ issuer: "x", jwksUrl: "https://login.example.com/jwks", audience: "a", roles: { "a@b.c": "owner" } }), /ADMIN_OIDC\.roles/],
    ["ADMIN_OIDC", JSON.stringify({ issuer: "x", jwksUrl: "https://login.example.com/jwks", audience: "a", roles: { "not an email": "admin" } }), /ADMIN_OIDC\.roles/],
    ["ADMIN_ACCESS", JSON.stringify({ teamDomain: "http://team.example.com", aud: "a", roles: { "*@b.c": "viewer" } }), /ADMIN_ACCESS\.teamDomain/],
    ["ADMIN_ACCESS", JSON.stringify({ teamDomain: "team.cloudflareaccess.com/path", aud: "a", roles: { "*@b.c": "viewer" } }), /ADMIN_ACCESS\.teamDomain/],
    ["ADMIN_ACCESS", "not json", /ADMIN_ACCESS/],
  ])("a bad %s is 500 CONFIG_INVALID naming it", async (name, value, names) => {
    const res = await workerWith({ [name]: value }).fetch("/healthz");
    const p = await expectProblem(res, 500, "CONFIG_INVALID");
    expect(p.detail).toMatch(names);
  });
});
