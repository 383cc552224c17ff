import type { BrowserContext, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { DESKTOP, expectAccessible, newContext, PHONE, screenshot, watchErrors } from "./browser.ts";
import { useDashboard } from "./dashboard-support.ts";

/**
 * The key holder's portal in real Chromium (DESIGN.md, "Key holders: the portal"): an owner
 * follows the link the operator's app made, creates a key, copies it, calls the gateway with it,
 * sees the usage, rotates it, revokes it and signs out. Keyboard throughout, 360 px to desktop,
 * axe finds nothing serious or critical, and the page's policy holds.
 */

const POLL = { timeout: 15_000, interval: 100 };
const setting = useDashboard({ PORTAL_TITLE: "Acme API" });
const base = () => setting.gateway.url;
const contexts: BrowserContext[] = [];

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
});

async function open(viewport = DESKTOP): Promise<{ page: Page; context: BrowserContext }> {
  const context = await newContext(setting.browser.browser, base(), viewport);
  contexts.push(context);
  return { page: await context.newPage(), context };
}

/** A fresh owner the operator already gave one key, and a portal link for it. */
async function ownerWithLink(label: string) {
  const ownerId = `acct_${label}_${Date.now().toString(36)}`;
  const issued = await setting.api<{ id: string; key: string }>("/keys", {
    method: "POST",
    json: { name: "Issued key", ownerId, scopes: ["posts:read", "posts:write"] },
  });
  expect(issued.status).toBe(201);
  const link = await setting.api<{ url: string; expiresAt: string }>("/portal/sessions", { method: "POST", json: { ownerId, returnUrl: "https://app.example.com/settings" } });
  expect(link.status).toBe(201);
  return { ownerId, url: link.body.url };
}

const row = (page: Page, name: string) => page.getByRole("row").filter({ has: page.getByRole("cell", { name, exact: true }) });

describe("an owner's round in the portal", () => {
  it("follows the link, creates and copies a key, uses it, sees the usage, rotates it, revokes it and signs out", async () => {
    const { ownerId, url } = await ownerWithLink("round");
    const { page } = await open();
    const errors = watchErrors(page);
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.addInitScript(() => {
      const seen: string[] = [];
      (globalThis as unknown as { policyViolations: string[] }).policyViolations = seen;
      document.addEventListener("securitypolicyviolation", (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
    });

    // The link lands on the portal, and the code is in no address the browser keeps.
    await page.goto(url);
    await page.getByRole("heading", { name: "Your API keys", level: 1 }).waitFor();
    expect(page.url()).toBe(`${base()}/portal/`);
    expect(await page.evaluate(() => history.length)).toBeLessThanOrEqual(2);
    expect(await page.title()).toBe("Your API keys · Acme API");
    await page.getByText("Acme API", { exact: true }).first().waitFor();
    await page.getByText(ownerId).waitFor();
    expect(await page.getByRole("link", { name: "Back to the app" }).getAttribute("href")).toBe("https://app.example.com/settings");
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === "keygate_portal")!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/portal" });
    expect(await page.evaluate(() => document.cookie)).toBe("");
    await row(page, "Issued key").waitFor();
    await expectAccessible(page, "portal keys");
    await screenshot(page, "portal-keys");

    // Create a key, shown once, and copy it.
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByRole("heading", { name: "Create a key", level: 1 }).waitFor();
    await expectAccessible(page, "portal create");
    await page.getByLabel("Name").fill("Laptop");
    await page.getByLabel("Scopes").fill("posts:read");
    await page.getByLabel("Expires").selectOption({ label: "In 30 days" });
    await page.getByRole("button", { name: "Create key" }).click();
    const revealed = page.getByLabel("New key");
    await revealed.waitFor();
    await page.getByText("it will not be shown again").waitFor();
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByText("Copied to the clipboard.").waitFor();
    const key = await revealed.inputValue();
    expect(key).toMatch(/^kg_live_/);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    await expectAccessible(page, "portal key revealed");
    await screenshot(page, "portal-created");

    // A scope beyond what the owner's keys hold is refused beside the field.
    await page.getByRole("button", { name: "Create another key" }).click();
    await page.getByLabel("Name").fill("Too much");
    await page.getByLabel("Scopes").fill("billing:write");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByText("Scope not allowed.").waitFor();
    await page.getByText("not allowed: billing:write").waitFor();

    // The key works at the gateway; its usage shows.
    for (let i = 0; i < 3; i++) expect((await setting.call(key)).status).toBe(200);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Usage" }).click();
    await page.getByRole("heading", { name: "Usage", level: 1 }).waitFor();
    await expect
      .poll(async () => {
        await page.getByLabel("Period").selectOption("day");
        await page.getByLabel("Period").selectOption("hour");
        return page.locator("figure.chart figcaption").innerText().catch(() => "");
      }, POLL)
      .toMatch(/^3 requests: 3 allowed/);
    await page.getByRole("heading", { name: "Limits and credits left" }).waitFor();
    await page.getByLabel("Key", { exact: true }).selectOption({ label: `Laptop (${key.slice(0, 12)}…)` });
    await expect.poll(() => page.getByRole("cell", { name: "/hello" }).count(), POLL).toBe(3);
    await expectAccessible(page, "portal usage");
    await screenshot(page, "portal-usage");

    // Rotate with a grace period: the new key shown once; both work through the grace.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Keys" }).click();
    await row(page, "Laptop").getByRole("button", { name: "Rotate" }).click();
    const rotateDialog = page.getByRole("dialog", { name: "Rotate Laptop" });
    await rotateDialog.waitFor();
    await expectAccessible(page, "portal rotate");
    await rotateDialog.getByLabel("Grace period").selectOption({ label: "1 hour" });
    await rotateDialog.getByRole("button", { name: "Rotate key" }).click();
    const replacement = page.getByLabel("New key");
    await replacement.waitFor();
    const newKey = await replacement.inputValue();
    expect(newKey).not.toBe(key);
    await page.getByText("keeps working until").waitFor();
    expect((await setting.call(newKey)).status).toBe(200);
    expect((await setting.call(key)).status).toBe(200);
    await page.getByRole("button", { name: "Done" }).click();

    // Revoke after a confirmation that names the key: the next request is refused.
    await expect.poll(() => row(page, "Laptop").count(), POLL).toBe(2);
    const active = row(page, "Laptop").filter({ has: page.getByRole("button", { name: "Revoke" }) }).filter({ hasText: newKey.slice(0, 12) });
    await active.getByRole("button", { name: "Revoke" }).click();
    const revokeDialog = page.getByRole("dialog", { name: "Revoke Laptop?" });
    await revokeDialog.waitFor();
    await expectAccessible(page, "portal revoke");
    await revokeDialog.getByRole("button", { name: "Revoke key" }).click();
    await revokeDialog.waitFor({ state: "detached" });
    await expect.poll(async () => (await setting.call(newKey)).status, POLL).toBe(401);
    await expect.poll(() => row(page, "Laptop").filter({ hasText: "revoked" }).count(), POLL).toBe(1);

    // Every change is in the audit log as the owner, via the portal.
    const audit = await setting.api<{ data: { action: string; via?: string }[] }>(`/audit?actor=${encodeURIComponent(`owner:${ownerId}`)}`);
    expect(audit.body.data.map((e) => [e.action, e.via]).sort()).toEqual(
      [
        ["key.create", "portal"],
        ["key.create", "portal"],
        ["key.revoke", "portal"],
        ["key.rotate", "portal"],
      ].sort(),
    );

    // Sign out: the session ends on the server, so the cookie, replayed, works nowhere.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "You are signed out", level: 1 }).waitFor();
    await expectAccessible(page, "portal signed out");
    const replayed = await fetch(`${base()}/portal/api/me`, { headers: { Cookie: `keygate_portal=${session.value}` } });
    expect(replayed.status).toBe(401);
    await page.reload();
    await page.getByRole("heading", { name: "Not signed in", level: 1 }).waitFor();

    // The link worked once.
    await page.goto(url);
    await page.getByRole("heading", { name: "Not signed in", level: 1 }).waitFor();

    expect(requests.filter((u) => !u.startsWith(`${base()}/`))).toEqual([]);
    expect(requests.some((u) => u.includes("code=") && !u.startsWith(`${base()}/portal/start?`))).toBe(false);
    expect(await page.evaluate(() => (globalThis as unknown as { policyViolations: string[] }).policyViolations)).toEqual([]);
    // The refusals the round provoked (the scope beyond the ceiling, 403; /api/me once signed out, 401) are the only errors.
    expect(errors.filter((e) => !/status of (401|403)/.test(e))).toEqual([]);
  });
});

describe("keyboard only, 360 px to desktop", () => {
  const focused = (page: Page) =>
    page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const style = getComputedStyle(el);
      const label = el.getAttribute("aria-label") ?? (el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null) ?? el.textContent;
      return { tag: el.tagName, label: (label ?? "").trim(), ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 };
    });

  async function tabTo(page: Page, label: string, max = 40, key = "Tab") {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press(key);
      const now = await focused(page);
      expect(now.ring, `focus ring on ${now.tag} ${now.label}`).toBe(true);
      if (now.label === label) return;
    }
    throw new Error(`Tab never reached ${label}`);
  }

  it("creates, copies and rotates a key, and signs out, with Tab, Enter, Space and the arrows, focus always visible", async () => {
    const { url } = await ownerWithLink("keyboard");
    const { page } = await open();
    await page.goto(url);
    await page.getByRole("heading", { name: "Your API keys", level: 1 }).waitFor();
    await tabTo(page, "Create key");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Create a key", level: 1 }).waitFor();
    await tabTo(page, "Name");
    await page.keyboard.type("Keyboard key");
    await tabTo(page, "Scopes");
    await page.keyboard.type("posts:write");
    await tabTo(page, "Expires");
    await page.keyboard.press("ArrowDown");
    await tabTo(page, "Create key");
    await page.keyboard.press("Enter");
    await page.getByLabel("New key").waitFor();
    await tabTo(page, "Copy");
    await page.keyboard.press("Space");
    await page.getByText("Copied to the clipboard.").waitFor();
    await tabTo(page, "Back to your keys");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Your API keys", level: 1 }).waitFor();
    await row(page, "Keyboard key").waitFor();
    // The first Rotate in the table is the newest key's.
    await tabTo(page, "Rotate");
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Rotate Keyboard key" });
    await dialog.waitFor();
    // The dialog opens on its first control.
    await expect.poll(async () => (await focused(page)).label, POLL).toBe("Grace period");
    await page.keyboard.press("ArrowDown");
    await tabTo(page, "Rotate key");
    await page.keyboard.press("Enter");
    await page.getByLabel("New key").waitFor();
    // Sign out is in the header, above the replacement key: back up to it.
    await tabTo(page, "Sign out", 20, "Shift+Tab");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "You are signed out", level: 1 }).waitFor();
  });

  it("every page fits a 360 px screen without sideways scrolling and passes the accessibility check there", async () => {
    const { url } = await ownerWithLink("phone");
    const { page } = await open(PHONE);
    await page.goto(url);
    await page.getByRole("heading", { name: "Your API keys", level: 1 }).waitFor();
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    for (const [path, heading, shot] of [
      ["/portal/", "Your API keys", "portal-keys-360"],
      ["/portal/keys/new", "Create a key", "portal-create-360"],
      ["/portal/usage", "Usage", "portal-usage-360"],
    ]) {
      await page.goto(`${base()}${path}`);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      await page.locator(".loading").waitFor({ state: "detached" });
      expect(await fits(), `${path} fits 360 px`).toBe(true);
      await expectAccessible(page, `${path} at 360 px`);
      await screenshot(page, shot);
    }
  });
});

describe("served by the worker, under the dashboard's policy", () => {
  it("answers every portal page and its assets with the policy, and no page names another origin", async () => {
    for (const path of ["/portal", "/portal/", "/portal/keys/new", "/portal/usage"]) {
      const res = await fetch(`${base()}${path}`);
      expect(res.status, path).toBe(200);
      const policy = res.headers.get("Content-Security-Policy") ?? "";
      expect(policy, path).toMatch(/^default-src 'self'; script-src 'self'; style-src 'self'; .*frame-ancestors 'none'$/);
      const html = await res.text();
      expect(html, path).not.toMatch(/https?:\/\//);
      expect(html, path).toContain("<title>Acme API</title>");
      for (const [, asset] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
        expect(asset, path).toMatch(/^\/portal\/assets\/portal\//);
        const answer = await fetch(`${base()}${asset}`);
        expect(answer.status, asset).toBe(200);
        expect(answer.headers.get("X-Content-Type-Options"), asset).toBe("nosniff");
      }
    }
    const outside = await fetch(`${base()}/portal/assets/ui/app.js`);
    expect([outside.status, outside.headers.get("Content-Type")]).toEqual([404, "application/problem+json"]);
  });
});
