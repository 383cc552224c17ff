import { afterAll, describe, expect, it } from "vitest";
import type { PortalLink } from "../../client/index.ts";
import { startTenant } from "../support/idp.ts";
import { expectRefused, expectUsageError, jsonOf, keygate, useTestGateway, uniqueOwner } from "./cli-support.ts";

/**
 * `keygate portal link OWNER [--ttl SECONDS]` (DESIGN.md, "Operator CLI") against keygate in
 * workerd: the one-use link on stdout, which opens that owner's portal once; and the CLI taking an
 * operator's own JWT with --token like any other token.
 */
const idp = await startTenant();
const AUD = "keygate-admin";
const gw = useTestGateway({
  ADMIN_OIDC: JSON.stringify({ issuer: idp.url, jwksUrl: idp.jwksUrl, audience: AUD, roles: { "otto@example.com": "operator", "vera@example.com": "viewer" } }),
});
afterAll(() => idp.close());

const run = (...args: string[]) => keygate(args, { env: gw.env });
const jwt = (email: string) => {
  const now = Math.floor(Date.now() / 1000);
  return idp.sign({ claims: { iss: idp.url, aud: AUD, email, sub: email, iat: now, exp: now + 600 } });
};

/** Opens the link as a browser does: the session cookie it sets, then the owner the portal says is signed in. */
async function follow(url: string): Promise<{ status: number; me?: { ownerId: string; returnUrl: string | null } }> {
  const opened = await fetch(url, { redirect: "manual", headers: { Accept: "text/html" } });
  const cookie = opened.headers.getSetCookie().find((c) => c.startsWith("keygate_portal="))?.split(";")[0];
  if (opened.status !== 303 || !cookie) return { status: opened.status };
  const me = await fetch(`${gw.url}/portal/api/me`, { headers: { Cookie: cookie } });
  return { status: opened.status, me: (await me.json()) as { ownerId: string; returnUrl: string | null } };
}

describe("keygate portal link", () => {
  it("prints the one-use link alone on stdout; it opens that owner's portal, once", async () => {
    const owner = uniqueOwner();
    const result = await run("portal", "link", owner);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${gw.url}/portal/start\\?code=kgp_[A-Za-z0-9_-]{43}$`));
    expect(result.stderr).toContain(`One use, within 10 minutes: it opens a portal session for ${owner}`);
    expect(await follow(lines[0])).toMatchObject({ status: 303, me: { ownerId: owner } });
    expect((await follow(lines[0])).status).toBe(401);
  });

  it("--ttl sets how long the session lasts, --return-url where the portal's back link goes; --json prints the API's answer", async () => {
    const owner = uniqueOwner();
    const link = jsonOf<PortalLink>(await run("portal", "link", owner, "--ttl", "900", "--return-url", "https://app.example.com/settings", "--json"));
    expect(Object.keys(link).sort()).toEqual(["expiresAt", "url"]);
    const seconds = (Date.parse(link.expiresAt) - Date.now()) / 1000;
    expect(seconds).toBeGreaterThan(880);
    expect(seconds).toBeLessThanOrEqual(900);
    expect(await follow(link.url)).toMatchObject({ me: { ownerId: owner, returnUrl: "https://app.example.com/settings" } });
  });

  it("refuses a ttl outside 60..86400 and a missing owner before asking keygate (exit 2)", async () => {
    expectUsageError(await run("portal", "link", "acct_42", "--ttl", "30"), "--ttl", "keygate portal link");
    expectUsageError(await run("portal", "link", "acct_42", "--ttl", "86401"), "--ttl", "keygate portal link");
    expectUsageError(await run("portal", "link"), "missing required argument 'owner'", "keygate portal link");
  });

  it("is refused for a viewer (exit 1, 403 FORBIDDEN), and keygate's own validation shows as a refusal", async () => {
    const reader = (await gw.api<{ key: string }>("/keys", { method: "POST", json: { name: "reader", ownerId: uniqueOwner(), scopes: ["admin:read"] } })).body;
    expectRefused(await keygate(["portal", "link", "acct_42"], { env: { ...gw.env, KEYGATE_ADMIN_TOKEN: reader.key } }), "Forbidden", 403, "FORBIDDEN", "admin:read");
    expectRefused(await run("portal", "link", "acct_42", "--return-url", "ftp://nope"), "Validation failed", 400, "VALIDATION_FAILED", "returnUrl");
  });

  it("--help shows an example", async () => {
    const help = await run("portal", "link", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("$ keygate portal link acct_42");
    expect(help.stdout).toContain("--ttl <seconds>");
  });
});

describe("an operator's own token with --token", () => {
  it("acts with the role its identity maps to: an operator makes links, a viewer reads and is refused changes", async () => {
    const operator = await jwt("otto@example.com");
    const owner = uniqueOwner();
    const made = await keygate(["portal", "link", owner, "--token", operator], { env: { KEYGATE_URL: gw.url } });
    expect(made.code, made.stderr).toBe(0);
    const audit = await gw.api<{ data: { actor: string; action: string; targetId: string }[] }>(`/audit?targetId=${owner}`);
    expect(audit.body.data.map((e) => [e.actor, e.action])).toEqual([["user:otto@example.com", "portal.link"]]);

    const viewer = await jwt("vera@example.com");
    const listed = await keygate(["keys", "list", "--json", "--token", viewer], { env: { KEYGATE_URL: gw.url } });
    expect(listed.code, listed.stderr).toBe(0);
    expectRefused(
      await keygate(["keys", "create", "--name", "x", "--owner", owner, "--token", viewer], { env: { KEYGATE_URL: gw.url } }),
      "Forbidden",
      403,
      "FORBIDDEN",
      "vera@example.com has the viewer role",
    );
  });
});
