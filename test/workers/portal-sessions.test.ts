import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { admin, BASE, send, uniqueOwner } from "./helpers";
import { auditOf, body, expectInvalid, expectProblem, sha256Hex } from "./admin-helpers";
import { workerWith } from "./identity-helpers";
import { COOKIE, openLink, pathOf, portal, portalLink, sessionCookie, signedIn } from "./portal-helpers";

/**
 * Portal links (DESIGN.md, "Key holders: the portal"): the operator's backend mints a link with
 * a one-use code valid 10 minutes; opening it sets an HttpOnly, SameSite=Strict session cookie
 * scoped to the portal and lands on the portal without the code; signing out ends the session
 * on the server.
 */

const codeOf = (url: string) => new URL(url).searchParams.get("code")!;

/** Every line written to the console while `run` runs. */
async function consoleDuring(run: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  }
  try {
    await run();
  } finally {
    vi.restoreAllMocks();
  }
  return lines.join("\n");
}

afterEach(() => vi.restoreAllMocks());

describe("POST /admin/portal/sessions", () => {
  it("answers 201 { url, expiresAt }: a one-use link into the portal, the session ending ttlSeconds from now", async () => {
    const before = Date.now();
    const link = await portalLink(uniqueOwner(), { ttlSeconds: 900 });
    expect(Object.keys(link).sort()).toEqual(["expiresAt", "url"]);
    expect(link.url).toMatch(/^https:\/\/gateway\.test\/portal\/start\?code=kgp_[A-Za-z0-9_-]{43}$/);
    const expires = Date.parse(link.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 900_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 900_000);
    const byDefault = await portalLink(uniqueOwner());
    expect(Date.parse(byDefault.expiresAt) - Date.now()).toBeGreaterThan(3590_000);
    expect(codeOf(byDefault.url)).not.toBe(codeOf(link.url));
  });

  it("keeps only the code's hash, valid 10 minutes (or until the session would end), and audits portal.link", async () => {
    const ownerId = uniqueOwner();
    const link = await portalLink(ownerId, { ttlSeconds: 7200, returnUrl: "https://app.example.com/settings" });
    const code = codeOf(link.url);
    const row = await env.DB.prepare("SELECT * FROM portal_links WHERE code_hash = ?").bind(await sha256Hex(code)).first<Record<string, unknown>>();
    expect(row).toMatchObject({ owner_id: ownerId, return_url: "https://app.example.com/settings", used_at: null });
    expect(Number(row!.expires_at) - Number(row!.created_at)).toBe(600_000);
    expect(Number(row!.session_expires_at)).toBe(Date.parse(link.expiresAt));
    const everything = JSON.stringify(await env.DB.prepare("SELECT * FROM portal_links").all());
    expect(everything).not.toContain(code);

    const short = await portalLink(uniqueOwner(), { ttlSeconds: 60 });
    const shortRow = await env.DB.prepare("SELECT * FROM portal_links WHERE code_hash = ?").bind(await sha256Hex(codeOf(short.url))).first<Record<string, number>>();
    expect(shortRow!.expires_at - shortRow!.created_at).toBe(60_000);

    const [entry] = await auditOf(ownerId);
    expect(entry).toMatchObject({ actor: "root", action: "portal.link", targetId: ownerId });
    expect(JSON.stringify(entry)).not.toContain(code);
  });

  it("refuses a missing owner, a ttl outside 60..86400 and a returnUrl that is no http(s) URL (400)", async () => {
    const mint = (json: unknown) => admin("/portal/sessions", { method: "POST", json });
    await expectInvalid(await mint({}), "ownerId");
    await expectInvalid(await mint({ ownerId: "acct_42", ttlSeconds: 59 }), "ttlSeconds");
    await expectInvalid(await mint({ ownerId: "acct_42", ttlSeconds: 86_401 }), "ttlSeconds");
    await expectInvalid(await mint({ ownerId: "acct_42", returnUrl: "javascript:alert(1)" }), "returnUrl");
    await expectInvalid(await mint({ ownerId: " acct_42" }), "ownerId");
    await expectInvalid(await mint({ ownerId: "acct_42", extra: true }), "");
  });

  it("builds the link on PUBLIC_URL when set, never on the Host a client sent", async () => {
    const gateway = workerWith({ PUBLIC_URL: "https://api.example.com" });
    const link = await portalLink(uniqueOwner(), {}, undefined, gateway.fetch);
    expect(link.url).toMatch(/^https:\/\/api\.example\.com\/portal\/start\?code=kgp_/);
  });

  it("is 409 CONFLICT when the portal is off (PORTAL_PATH empty)", async () => {
    const off = workerWith({ PORTAL_PATH: "" });
    const res = await off.fetch("/admin/portal/sessions", { method: "POST", token: "test-admin-token-0123456789", json: { ownerId: "acct_42" } });
    await expectProblem(res, 409, "CONFLICT");
  });
});

describe("opening a portal link", () => {
  it("sets an HttpOnly, SameSite=Strict, Secure cookie scoped to the portal and redirects to the portal without the code", async () => {
    const link = await portalLink(uniqueOwner(), { ttlSeconds: 1800 });
    const res = await send(pathOf(link.url), { headers: { Accept: "text/html" }, redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("Location")).toBe("/portal/");
    expect(res.headers.get("Location")).not.toContain(codeOf(link.url));
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    const cookie = sessionCookie(res)!;
    expect(cookie.pair).toMatch(new RegExp(`^${COOKIE}=kgs_[A-Za-z0-9_-]{43}$`));
    expect(cookie.attributes).toEqual(expect.arrayContaining(["HttpOnly", "Secure", "SameSite=Strict", "Path=/portal"]));
    const maxAge = Number(cookie.attributes.find((a) => a.startsWith("Max-Age="))!.slice(8));
    expect(maxAge).toBeGreaterThan(1790);
    expect(maxAge).toBeLessThanOrEqual(1800);
    expect(await body(await portal("/me", { cookie: cookie.pair }), 200)).toMatchObject({ keys: 0 });
  });

  it("leaves out Secure on loopback, where local development runs on plain http", async () => {
    const local = workerWith({ PUBLIC_URL: "http://127.0.0.1:8787" });
    const link = await portalLink(uniqueOwner(), {}, undefined, local.fetch);
    const { res } = await openLink(link.url, {}, local.fetch);
    const cookie = sessionCookie(res)!;
    expect(cookie.attributes).toEqual(expect.arrayContaining(["HttpOnly", "SameSite=Strict", "Path=/portal"]));
    expect(cookie.attributes).not.toContain("Secure");
  });

  it("works once: a reused code is 401 and sets no cookie, however fast it comes back", async () => {
    const link = await portalLink(uniqueOwner());
    // A HEAD (a link checker) spends nothing.
    const head = await send(pathOf(link.url), { method: "HEAD", redirect: "manual" });
    expect(head.status).toBe(200);
    expect(sessionCookie(head)).toBeNull();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => send(pathOf(link.url), { headers: { Accept: "application/json" }, redirect: "manual" })),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([303, 401, 401, 401, 401]);
    for (const res of answers.filter((r) => r.status === 401)) {
      expect(sessionCookie(res)).toBeNull();
      await expectProblem(res, 401, "UNAUTHORIZED");
    }
    const again = await send(pathOf(link.url), { headers: { Accept: "application/json" }, redirect: "manual" });
    await expectProblem(again, 401, "UNAUTHORIZED");
  });

  it("refuses an expired code and a forged one (401), answering a browser with the signed-out portal page", async () => {
    const expired = await portalLink(uniqueOwner());
    await env.DB.prepare("UPDATE portal_links SET expires_at = ? WHERE code_hash = ?").bind(Date.now() - 1, await sha256Hex(codeOf(expired.url))).run();
    const forged = `kgp_${"A".repeat(43)}`;
    for (const path of [pathOf(expired.url), `/portal/start?code=${forged}`, "/portal/start?code=nonsense", "/portal/start"]) {
      const res = await send(path, { headers: { Accept: "application/json" }, redirect: "manual" });
      await expectProblem(res, 401, "UNAUTHORIZED");
      expect(sessionCookie(res), path).toBeNull();
      const page = await send(path, { headers: { Accept: "text/html" }, redirect: "manual" });
      expect(page.status, path).toBe(401);
      expect(page.headers.get("Content-Type"), path).toMatch(/^text\/html/);
      expect(sessionCookie(page), path).toBeNull();
    }
  });

  it("the session ends at expiresAt", async () => {
    const cookie = await signedIn(uniqueOwner());
    const id = cookie.slice(COOKIE.length + 1);
    await env.DB.prepare("UPDATE portal_sessions SET expires_at = ? WHERE id_hash = ?").bind(Date.now() - 1, await sha256Hex(id)).run();
    await expectProblem(await portal("/me", { cookie }), 401, "UNAUTHORIZED");
  });

  it("writes neither the code nor the session id to any log, and keeps no session id in D1", async () => {
    let link = { url: "" };
    let cookie = "";
    const logged = await consoleDuring(async () => {
      link = await portalLink(uniqueOwner());
      cookie = (await openLink(link.url)).cookie;
      await send(pathOf(link.url), { headers: { Accept: "application/json" } });
      await portal("/me", { cookie });
      await portal("/sign-out", { method: "POST", cookie });
      await portal("/me", { cookie });
    });
    expect(logged).not.toContain(codeOf(link.url));
    expect(logged).not.toContain(cookie.slice(COOKIE.length + 1));
    expect(JSON.stringify(await env.DB.prepare("SELECT * FROM portal_sessions").all())).not.toContain(cookie.slice(COOKIE.length + 1));
  });

  it("a browser that opens a second link ends the session it held", async () => {
    const first = await signedIn(uniqueOwner());
    const second = await openLink((await portalLink(uniqueOwner())).url, { Cookie: first });
    await expectProblem(await portal("/me", { cookie: first }), 401, "UNAUTHORIZED");
    expect((await portal("/me", { cookie: second.cookie })).status).toBe(200);
  });
});

describe("the session cookie", () => {
  it("signing out ends the session on the server: the same cookie, replayed, works nowhere", async () => {
    const ownerId = uniqueOwner();
    const cookie = await signedIn(ownerId);
    const out = await portal("/sign-out", { method: "POST", cookie });
    expect(out.status).toBe(204);
    const cleared = sessionCookie(out)!;
    expect(cleared.pair).toBe(`${COOKIE}=`);
    expect(cleared.attributes).toEqual(expect.arrayContaining(["Path=/portal", "Max-Age=0"]));
    await expectProblem(await portal("/me", { cookie }), 401, "UNAUTHORIZED");
    await expectProblem(await portal("/keys", { cookie }), 401, "UNAUTHORIZED");
    await expectProblem(await portal("/keys", { method: "POST", cookie, json: { name: "after sign-out" } }), 401, "UNAUTHORIZED");
    await expectProblem(await portal("/sign-out", { method: "POST", cookie }), 401, "UNAUTHORIZED");
    expect((await auditOf(ownerId)).filter((e) => e.action !== "portal.link")).toEqual([]);
  });

  it("a write it authenticates must come from the gateway's own origin (403 FORBIDDEN otherwise), reads need no Origin", async () => {
    const ownerId = uniqueOwner();
    const cookie = await signedIn(ownerId);
    for (const origin of ["https://evil.example", "http://gateway.test", "https://gateway.test.evil.example", "null", null]) {
      const res = await portal("/keys", { method: "POST", cookie, origin, json: { name: "csrf" } });
      await expectProblem(res, 403, "FORBIDDEN");
      await expectProblem(await portal("/sign-out", { method: "POST", cookie, origin }), 403, "FORBIDDEN");
    }
    expect((await auditOf(ownerId)).filter((e) => e.action === "key.create")).toEqual([]);
    expect((await portal("/me", { cookie })).status).toBe(200);
    expect((await portal("/keys", { method: "POST", cookie, origin: BASE, json: { name: "mine" } })).status).toBe(201);
  });

  it("is checked against PUBLIC_URL's origin when PUBLIC_URL is set", async () => {
    const gateway = workerWith({ PUBLIC_URL: "https://api.example.com" });
    const cookie = await signedIn(uniqueOwner(), gateway.fetch);
    await expectProblem(await portal("/keys", { method: "POST", cookie, origin: BASE, json: { name: "x" }, via: gateway.fetch }), 403, "FORBIDDEN");
    expect((await portal("/keys", { method: "POST", cookie, origin: "https://api.example.com", json: { name: "x" }, via: gateway.fetch })).status).toBe(201);
  });

  it("without one, every portal API route is 401", async () => {
    for (const [method, path] of [
      ["GET", "/me"],
      ["POST", "/sign-out"],
      ["GET", "/keys"],
      ["POST", "/keys"],
      ["PATCH", "/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M"],
      ["DELETE", "/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M"],
      ["POST", "/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M/rotate"],
      ["GET", "/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M/requests"],
      ["GET", "/usage"],
    ]) {
      const res = await portal(path, { method, cookie: `${COOKIE}=kgs_${"B".repeat(43)}` });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect((await portal(path, { method })).status, `${method} ${path}`).toBe(401);
    }
  });
});
