import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalGateway } from "../../scripts/local-gateway.ts";
import { adminApi } from "../support/net.ts";
import { startTenant, type Tenant } from "../support/idp.ts";
import { DESKTOP, expectAccessible, newContext, screenshot } from "./browser.ts";
import { useDashboard } from "./dashboard-support.ts";

/**
 * Operators signed in as themselves (DESIGN.md, "Operators' sign-in and roles"), behind a
 * stand-in for Cloudflare Access: the dashboard signs in by itself, shows who is signed in, and
 * shows only the controls the role may use.
 */

const AUD = "b5a4c3d2e1f00112233445566778899aabbccddeeff00112233445566778899";
const setting = useDashboard();
let team: Tenant;
let gateway: LocalGateway;
let sample: { id: string; ownerId: string };
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  team = await startTenant();
  gateway = await setting.another({
    ADMIN_ACCESS: JSON.stringify({ teamDomain: team.url, aud: AUD, roles: { "vera@example.com": "viewer", "*@example.com": "operator" } }),
  });
  const api = adminApi(gateway.url, gateway.adminToken);
  const ownerId = `acct_roles_${Date.now().toString(36)}`;
  const created = await api<{ id: string }>("/keys", { method: "POST", json: { name: "Team key", ownerId, scopes: ["posts:read"] } });
  expect(created.status).toBe(201);
  sample = { id: created.body.id, ownerId };
});

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await team?.close();
});

/** A browser behind Access: every request to the gateway carries the assertion Access would add. */
async function behindAccess(email: string): Promise<Page> {
  const now = Math.floor(Date.now() / 1000);
  const assertion = await team.sign({ claims: { iss: team.url, aud: AUD, email, iat: now, exp: now + 600, sub: email } });
  const context = await newContext(setting.browser.browser, gateway.url, DESKTOP);
  contexts.push(context);
  await context.setExtraHTTPHeaders({ "Cf-Access-Jwt-Assertion": assertion });
  return context.newPage();
}

const WRITE_CONTROLS = ["Create key", "Rotate", "Revoke", "Disable", "Enable", "Edit", "Portal link for this owner"];

async function visibleButtons(page: Page): Promise<string[]> {
  return (await page.getByRole("button").allInnerTexts()).map((t) => t.trim());
}

describe("a viewer behind Cloudflare Access", () => {
  it("is signed in with no token prompt, is shown who they are, and finds no write control anywhere", async () => {
    const page = await behindAccess("vera@example.com");
    await page.goto(`${gateway.url}/admin/ui`);
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    expect(await page.getByLabel("Admin token").count()).toBe(0);
    const who = await page.locator(".who").innerText();
    expect(who).toContain("vera@example.com");
    expect(who).toContain("viewer, read-only");
    await page.getByRole("link", { name: "Team key" }).waitFor();
    expect((await visibleButtons(page)).filter((b) => WRITE_CONTROLS.includes(b))).toEqual([]);
    await expectAccessible(page, "keys as a viewer");
    await screenshot(page, "keys-viewer");

    await page.getByRole("link", { name: "Team key" }).click();
    await page.getByRole("heading", { name: "Details" }).waitFor();
    await page.getByRole("heading", { name: "Audit trail" }).waitFor();
    expect((await visibleButtons(page)).filter((b) => WRITE_CONTROLS.includes(b))).toEqual([]);
    await expectAccessible(page, "key as a viewer");

    await page.goto(`${gateway.url}/admin/ui/keys/new`);
    await page.getByText("can look but not change anything").waitFor();
    expect(await page.getByRole("button", { name: "Create key" }).count()).toBe(0);
  });
});

describe("an operator behind Cloudflare Access", () => {
  it("sees the write controls, and makes a portal link for a key's owner that opens the owner's portal", async () => {
    const page = await behindAccess("otto@example.com");
    await page.goto(`${gateway.url}/admin/ui/keys/${sample.id}`);
    await page.getByRole("heading", { name: "Team key", level: 1 }).waitFor();
    expect(await page.locator(".who").innerText()).toContain("otto@example.com");
    for (const control of ["Rotate", "Revoke", "Disable", "Edit"]) await page.getByRole("button", { name: control, exact: true }).waitFor();
    await page.getByRole("button", { name: "Portal link for this owner" }).click();
    const field = page.getByLabel("Portal link");
    await field.waitFor();
    const url = await field.inputValue();
    expect(url).toMatch(new RegExp(`^${gateway.url}/portal/start\\?code=kgp_`));
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByText("Copied to the clipboard.").waitFor();
    await expectAccessible(page, "key with a portal link");

    const audit = await adminApi(gateway.url, gateway.adminToken)<{ data: { action: string; actor: string; targetId: string }[] }>(
      `/audit?actor=${encodeURIComponent("user:otto@example.com")}`,
    );
    expect(audit.body.data.map((e) => [e.action, e.targetId])).toEqual([["portal.link", sample.ownerId]]);

    const owner = await (await newContext(setting.browser.browser, gateway.url, DESKTOP)).newPage();
    contexts.push(owner.context());
    await owner.goto(url);
    await owner.getByRole("heading", { name: "Your API keys", level: 1 }).waitFor();
    await owner.getByRole("cell", { name: "Team key", exact: true }).waitFor();

    // Behind Access, signing out is Access's own.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL((u) => u.pathname === "/cdn-cgi/access/logout");
  });

  it("an identity Access vouches for but no role maps is told so on the sign-in page", async () => {
    const page = await behindAccess("mallory@elsewhere.example");
    await page.goto(`${gateway.url}/admin/ui`);
    await page.getByLabel("Admin token").waitFor();
    await page.getByText("mallory@elsewhere.example is not given a role").waitFor();
  });
});
