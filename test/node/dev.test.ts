import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseEnv } from "node:util";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { launchChromium } from "./browser.ts";
import { signIn } from "./dashboard-support.ts";
import { freePort } from "../support/net.ts";
import { keygate } from "./cli-support.ts";
import { call, portFree, useDev } from "./dev-support.ts";

/**
 * What a newcomer does after cloning: `npm run dev`, then the README's curl flow.
 * The dev server keeps its secrets in a temp file (KEYGATE_DEV_VARS) and its state in a temp
 * --persist-to, so the developer's own .dev.vars and .wrangler/state are never touched.
 */
const { devVars, startDev } = useDev();

describe("npm run dev", () => {
  let firstToken = "";

  it("creates the secrets, applies migrations and serves the README flow through the demo origin", async () => {
    const demoPort = await freePort();
    const dev = await startDev([], demoPort);
    const { base } = dev;
    const secrets = parseEnv(readFileSync(devVars, "utf8"));
    const jwk = JSON.parse(secrets.ASSERTION_PRIVATE_KEY!);
    firstToken = secrets.ADMIN_TOKEN!;
    expect(firstToken).toMatch(/^kgadm_[0-9A-Za-z]{32}$/);
    expect(jwk).toMatchObject({ kty: "EC", crv: "P-256", kid: expect.any(String), d: expect.any(String) });
    expect(dev.output()).toContain(`created a local admin token: ${firstToken}`);
    expect(dev.output()).toContain(`stored as ADMIN_TOKEN in ${devVars}`);
    expect(dev.output()).not.toContain(jwk.d);
    expect(dev.output()).toMatch(/applied local D1 migrations: 0000_init\.sql/);
    const applied = /applied local D1 migrations: (.*)/.exec(dev.output())![1].split(", ");
    expect(applied, "each migration named once").toEqual([...new Set(applied)]);
    expect(dev.output()).toContain(`demo origin echoing requests on http://127.0.0.1:${demoPort}`);
    expect(dev.output()).toContain(`curl -s ${base}/admin/keys -H "Authorization: Bearer ${firstToken}"`);

    // The README's webhook step: an endpoint at the demo origin, which logs what it receives.
    const hook = await call(`${base}/admin/webhooks`, firstToken, {
      method: "POST",
      body: JSON.stringify({ url: `http://127.0.0.1:${demoPort}/webhooks`, events: ["key.revoked"] }),
    });
    expect(hook.status).toBe(201);

    const created = await call(`${base}/admin/keys`, firstToken, {
      method: "POST",
      body: JSON.stringify({ name: "First key", ownerId: "acct_42", scopes: ["posts:read"] }),
    });
    expect(created.status).toBe(201);
    const first = await created.json();
    expect(first.key).toMatch(/^kg_live_/);

    const echoed = await call(`${base}/hello?name=world`, first.key);
    expect(echoed.status).toBe(200);
    const seen = await echoed.json();
    expect(seen).toMatchObject({ method: "GET", path: "/hello", query: { name: "world" }, body: null });
    expect(seen.headers).toMatchObject({ "x-keygate-key-id": first.id, "x-keygate-owner-id": "acct_42", "x-keygate-scopes": "posts:read" });
    expect(seen.headers.authorization).toBeUndefined();
    const assertion = seen.headers["x-keygate-assertion"];
    expect(decodeProtectedHeader(assertion).kid).toBe(jwk.kid);
    const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(assertion, jwks, { issuer: base, audience: "default" });
    expect(payload).toMatchObject({ sub: "acct_42", kid: first.id, scope: "posts:read", env: "live" });

    const listed = await (await call(`${base}/admin/keys`, firstToken)).json();
    expect(listed.data.map((k: { id: string }) => k.id)).toContain(first.id);

    const rotated = await call(`${base}/admin/keys/${first.id}/rotate`, firstToken, {
      method: "POST",
      body: JSON.stringify({ gracePeriodSeconds: 0 }),
    });
    expect(rotated.status).toBe(201);
    const second = await rotated.json();
    expect(second).toMatchObject({ rotatedFrom: first.id, ownerId: "acct_42" });
    expect((await (await call(`${base}/hello`, first.key)).json()).code).toBe("KEY_EXPIRED");
    const viaSecond = await (await call(`${base}/hello`, second.key)).json();
    expect(viaSecond.headers["x-keygate-key-id"]).toBe(second.id);

    const revoked = await call(`${base}/admin/keys/${second.id}`, firstToken, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect((await revoked.json()).revokedAt).not.toBeNull();
    const refused = await call(`${base}/hello`, second.key);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("Content-Type")).toBe("application/problem+json");
    expect((await refused.json()).code).toBe("KEY_REVOKED");
    // the revocation arrives at the demo origin as a signed key.revoked delivery, and only it
    const delivered = new RegExp(`\\[demo origin\\] webhook key\\.revoked evt_[0-9A-HJKMNP-TV-Z]{26} key=${second.id} \\(signed v1,`);
    const arrival = Date.now() + 30_000;
    while (!delivered.test(dev.output()) && Date.now() < arrival) await new Promise((r) => setTimeout(r, 200));
    expect(dev.output()).toMatch(delivered);
    expect(dev.output().match(/\[demo origin\] webhook /g)).toHaveLength(1);

    // The README's usage step: within a minute the four calls above show in the usage routes.
    const usageOf = async () => (await call(`${base}/admin/usage?ownerId=acct_42&groupBy=key`, firstToken)).json();
    const deadline = Date.now() + 60_000;
    let usage = await usageOf();
    while (usage.totals.requests < 4 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      usage = await usageOf();
    }
    expect(usage.source).toBe("d1");
    expect(usage.totals).toMatchObject({ requests: 4, allowed: 2, denied: 2, byOutcome: { OK: 2, KEY_EXPIRED: 1, KEY_REVOKED: 1 } });
    const perKey = Object.fromEntries(usage.data.map((d: { group: string; byOutcome: unknown }) => [d.group, d.byOutcome]));
    expect(perKey).toEqual({ [first.id]: { OK: 1, KEY_EXPIRED: 1 }, [second.id]: { OK: 1, KEY_REVOKED: 1 } });
    const log = await (await call(`${base}/admin/keys/${second.id}/requests`, firstToken)).json();
    expect(log.data.map((e: { outcome: string; path: string }) => [e.outcome, e.path])).toEqual([
      ["KEY_REVOKED", "/hello"],
      ["OK", "/hello"],
    ]);
    expect(dev.output()).toContain(`curl -s "${base}/admin/usage?ownerId=acct_42&groupBy=key" -H "Authorization: Bearer ${firstToken}"`);

    // the CLI lines it printed: KEYGATE_URL for this port, the token read from the same secrets file
    expect(dev.output()).toContain(`  export KEYGATE_URL=${base}/admin\n  npx keygate keys create`);
    expect(dev.output()).not.toContain("KEYGATE_ADMIN_TOKEN");
    const cli = await keygate(["keys", "list", "--json"], { via: "npx", env: { KEYGATE_URL: `${base}/admin`, KEYGATE_DEV_VARS: devVars } });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).data.map((k: { id: string }) => k.id)).toEqual([second.id, first.id]);

    // The dashboard link it printed, as a newcomer opens it: wrangler dev built and serves the
    // dashboard's files, and the printed token signs in to the keys made above.
    expect(dev.output()).toContain(`Dashboard: ${base}/admin/ui\n  sign in with the admin token ${firstToken}\n`);
    const chromium = await launchChromium();
    try {
      const page = await chromium.browser.newPage();
      await signIn(page, base, firstToken);
      await page.getByRole("row", { name: /First key/ }).first().waitFor();
      expect(await page.getByRole("row", { name: /First key/ }).count()).toBe(2);

      // The README's portal line: the CLI prints a one-use link, and opening it shows acct_42's keys.
      expect(dev.output()).toContain("  npx keygate portal link acct_42\n");
      const link = await keygate(["portal", "link", "acct_42"], { via: "npx", env: { KEYGATE_URL: `${base}/admin`, KEYGATE_DEV_VARS: devVars } });
      expect(link.code, link.stderr).toBe(0);
      expect(link.stdout.trim()).toMatch(new RegExp(`^${base}/portal/start\\?code=kgp_`));
      const portal = await chromium.browser.newPage();
      await portal.goto(link.stdout.trim());
      await portal.getByRole("heading", { name: "Your API keys", level: 1 }).waitFor();
      expect(portal.url()).toBe(`${base}/portal/`);
      await portal.getByRole("row", { name: /First key/ }).first().waitFor();
      expect(await portal.getByRole("row", { name: /First key/ }).count()).toBe(2);
    } finally {
      await chromium.close();
    }

    expect(await dev.stop("SIGINT")).toBe(true); // Ctrl-C in a terminal signals the whole foreground group
    expect(await portFree(Number(new URL(base).port))).toBe(true);
    expect(await portFree(demoPort)).toBe(true);
  });

  // A developer's second `npm run dev`: same secrets file, same --persist-to as the first run.
  it("keeps existing secrets, lets --var override them, and says when the demo port is taken", async () => {
    const before = readFileSync(devVars, "utf8");
    const taken = http.createServer((_req, res) => res.end(JSON.stringify({ origin: "mine" })));
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const originPort = (taken.address() as AddressInfo).port;
    try {
      const token = `override_${Date.now()}`;
      const dev = await startDev(["--var", `ADMIN_TOKEN:${token}`, `UPSTREAM_URL:http://127.0.0.1:${originPort}`], originPort);
      const { base } = dev;
      expect(readFileSync(devVars, "utf8")).toBe(before);
      expect(dev.output()).not.toContain("created");
      expect(dev.output()).toContain("local D1 database is up to date");
      expect(dev.output()).toContain(`port ${originPort} is already in use, so the demo origin did not start`);
      expect(dev.output()).toContain(`-H "Authorization: Bearer ${token}"`);
      expect(dev.output()).toContain(`  export KEYGATE_ADMIN_TOKEN=${token}\n`);

      expect((await call(`${base}/admin/keys`, firstToken)).status).toBe(401);
      const listed = await call(`${base}/admin/keys`, token);
      expect(listed.status).toBe(200);
      expect((await listed.json()).data).toHaveLength(2); // the first run's keys, from the same --persist-to

      const created = await (
        await call(`${base}/admin/keys`, token, { method: "POST", body: JSON.stringify({ name: "n", ownerId: "o" }) })
      ).json();
      expect(await (await call(`${base}/anything`, created.key)).json()).toEqual({ origin: "mine" });

      // `kill <npm pid>` alone (a process manager, a closed terminal) must not leave wrangler behind
      expect(await dev.stop("SIGTERM", false)).toBe(true);
      expect(await portFree(Number(new URL(base).port))).toBe(true);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
