import { gzipSync } from "node:zlib";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DESKTOP, expectAccessible, newContext, PHONE, screenshot, watchErrors } from "./browser.ts";
import { signIn, useDashboard } from "./dashboard-support.ts";
import { closedPort } from "./cli-support.ts";


/** Waiting for what the page shows next, on a machine that may be busy. */
const POLL = { timeout: 15_000, interval: 100 };
/**
 * What the dashboard promises beyond the operator's round: everything served by the worker
 * under a strict policy (also the API reference), a small first load, nothing to write for a
 * read-only key, keyboard use with visible focus, 360 px screens, and a page that says why
 * when usage figures cannot be had.
 */
const setting = useDashboard();
const base = () => setting.gateway.url;
const contexts: BrowserContext[] = [];
const owner = `acct_a11y_${Date.now().toString(36)}`;
let sample: { id: string; key: string };

async function open(viewport = DESKTOP): Promise<Page> {
  const context = await newContext(setting.browser.browser, base(), viewport);
  contexts.push(context);
  return context.newPage();
}

const apiKey = async (fields: Record<string, unknown>) =>
  (await setting.api<{ id: string; key: string }>("/keys", { method: "POST", json: { ownerId: owner, ...fields } })).body;

beforeAll(async () => {
  sample = await apiKey({ name: "Sample key", scopes: ["posts:read"], ratelimits: [{ name: "minute", limit: 60, windowSeconds: 60 }], credits: { remaining: 500 } });
  for (let i = 0; i < 2; i++) await setting.call(sample.key);
});

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
});

const POLICY = /^default-src 'self'; script-src 'self'; style-src 'self'; .*frame-ancestors 'none'$/;

describe("served by the worker, offline, under a strict Content-Security-Policy", () => {
  it("answers the dashboard, the API reference and their assets with the policy, and no page names another origin", async () => {
    for (const path of ["/admin/ui", "/admin/ui/keys/new", "/admin/ui/audit", "/admin/docs"]) {
      const res = await fetch(`${base()}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("Content-Type"), path).toMatch(/^text\/html/);
      const policy = res.headers.get("Content-Security-Policy") ?? "";
      expect(policy, path).toMatch(POLICY);
      expect(policy, path).not.toContain("unsafe-inline");
      const html = await res.text();
      expect(html, path).not.toMatch(/https?:\/\//);
      expect(html, path).not.toMatch(/<script>|<script [^>]*>[^<]|<style|style=/);
      for (const [, asset] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
        expect(asset, path).toMatch(/^\/admin\/(assets\/|openapi\.json)/);
        const answer = await fetch(`${base()}${asset}`);
        expect(answer.status, asset).toBe(200);
        expect(answer.headers.get("X-Content-Type-Options"), asset).toBe("nosniff");
      }
    }
    const missing = await fetch(`${base()}/admin/assets/ui/nothing.js`);
    expect([missing.status, missing.headers.get("Content-Type")]).toEqual([404, "application/problem+json"]);
  });

  it("the dashboard loads nothing from elsewhere and breaks no rule of its policy", async () => {
    const page = await open();
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.addInitScript(() => {
      const seen: string[] = [];
      (globalThis as unknown as { policyViolations: string[] }).policyViolations = seen;
      document.addEventListener("securitypolicyviolation", (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
    });
    const errors = watchErrors(page);
    await signIn(page, base(), setting.gateway.adminToken);
    await page.getByRole("link", { name: "Sample key" }).click();
    await page.getByRole("heading", { name: "Details" }).waitFor();
    expect(requests.filter((url) => !url.startsWith(`${base()}/`))).toEqual([]);
    expect(await page.evaluate(() => (globalThis as unknown as { policyViolations: string[] }).policyViolations)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("the API reference renders from the worker's own files and asks no other origin for anything", async () => {
    const page = await open();
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(`${base()}/admin/docs`);
    await page.getByText("Create a key").first().waitFor();
    await page.getByText("Rotate a key").first().waitFor();
    expect(requests.filter((url) => !url.startsWith(`${base()}/`))).toEqual([]);
    expect(requests).toContain(`${base()}/admin/openapi.json`);
  });

  it("the first load (HTML, script, style, icon) is under 150 KB compressed", async () => {
    const page = await open();
    const sizes = new Map<string, number>();
    page.on("response", async (response) => {
      if (response.url().startsWith(`${base()}/admin/`) && !response.url().includes("/admin/whoami")) {
        sizes.set(response.url(), gzipSync(await response.body()).length);
      }
    });
    await page.goto(`${base()}/admin/ui`, { waitUntil: "networkidle" });
    await page.getByLabel("Admin token").waitFor();
    // A headless shell (the browser @sparticuz/chromium ships) never requests a page's icon, where
    // a full Chromium does: load the icon the page links to, so both measure the same first load.
    const icon = new URL((await page.locator('link[rel="icon"]').getAttribute("href")) ?? "", page.url()).href;
    if (!sizes.has(icon)) {
      const [response] = await Promise.all([page.waitForResponse(icon), page.evaluate((url) => fetch(url).then((r) => r.text()), icon)]);
      sizes.set(icon, gzipSync(await response.body()).length);
    }
    expect([...sizes.keys()].map((url) => url.slice(base().length)).sort()).toEqual([
      "/admin/assets/ui/app.css",
      "/admin/assets/ui/app.js",
      "/admin/assets/ui/favicon.svg",
      "/admin/ui",
    ]);
    const total = [...sizes.values()].reduce((a, b) => a + b, 0);
    console.log(`dashboard first load: ${(total / 1024).toFixed(1)} KB gzip (${[...sizes].map(([u, n]) => `${u.split("/").at(-1)} ${n}`).join(", ")})`);
    expect(total).toBeLessThan(150 * 1024);
  });
});

describe("under another ADMIN_PATH", () => {
  it("the dashboard, its assets and the API it calls all move with it; the old path is a consumer path", async () => {
    const gateway = await setting.another({ ADMIN_PATH: "/ops" });
    const context = await newContext(setting.browser.browser, gateway.url);
    contexts.push(context);
    const page = await context.newPage();
    const paths: string[] = [];
    page.on("request", (request) => paths.push(new URL(request.url()).pathname));
    await signIn(page, gateway.url, gateway.adminToken, "/ops/ui");
    await page.getByText("No keys yet. Create one to get started.").waitFor();
    expect(paths).toEqual(expect.arrayContaining(["/ops/ui", "/ops/assets/ui/app.js", "/ops/assets/ui/app.css", "/ops/whoami", "/ops/keys"]));
    expect(paths.filter((p) => !p.startsWith("/ops/"))).toEqual([]);
    const old = await fetch(`${gateway.url}/admin/ui`);
    expect([old.status, ((await old.json()) as { code: string }).code]).toEqual([401, "MISSING_KEY"]);
  });
});

describe("a read-only admin key", () => {
  it("sees every page and no write control at all", async () => {
    const reader = await apiKey({ name: "Auditor", scopes: ["admin:read"] });
    const page = await open();
    await signIn(page, base(), reader.key);
    expect(await page.locator(".who").innerText()).toContain("read-only");
    const buttons = async () => (await page.getByRole("button").allInnerTexts()).map((t) => t.trim()).sort();
    const inputs = () => page.locator("main input, main textarea, main select").evaluateAll((all) => all.map((e) => e.id));

    await page.getByRole("row", { name: /Sample key/ }).waitFor();
    expect(await buttons()).toEqual(["Search", "Sign out"]);
    expect(await inputs()).toEqual(["q", "filter-environment", "filter-status"]);
    await expectAccessible(page, "keys, read-only");

    await page.getByRole("link", { name: "Sample key" }).click();
    await page.getByRole("heading", { name: "Recent requests" }).waitFor();
    await page.getByText("GET /hello").first().waitFor();
    expect(await buttons()).toEqual(["Refresh", "Sign out"]);
    expect(await inputs()).toEqual(["usage-period"]);
    await expectAccessible(page, "key, read-only");

    await page.goto(`${base()}/admin/ui/keys/new`);
    await page.getByText("can look but not change anything").waitFor();
    expect(await buttons()).toEqual(["Sign out"]);
    expect(await inputs()).toEqual([]);

    for (const [link, heading] of [["Audit log", "Audit log"], ["Usage", "Usage by owner"]]) {
      await page.getByRole("link", { name: link, exact: true }).click();
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      expect((await buttons()).filter((b) => !["Filter", "Sign out", "Previous page", "Next page"].includes(b)), link).toEqual([]);
    }
  });
});

/** The focused element, and whether its focus ring shows (a solid outline at least 2 px wide). */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement;
    const style = getComputedStyle(el);
    const label = el.getAttribute("aria-label") ?? (el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null) ?? el.textContent;
    return { tag: el.tagName, label: (label ?? "").trim(), ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 };
  });

describe("keyboard only", () => {
  /** Tabs to the control called `label`, checking that every control on the way shows its focus. */
  async function tabTo(page: Page, label: string, max = 40) {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press("Tab");
      const now = await focused(page);
      expect(now.ring, `focus ring on ${now.tag} ${now.label}`).toBe(true);
      if (now.label === label) return;
    }
    throw new Error(`Tab never reached ${label}`);
  }

  it("creates a key, copies it and cancels a revocation with Tab, Enter, Space and Escape, focus always visible", async () => {
    const page = await open();
    await page.goto(`${base()}/admin/ui`);
    await expect.poll(async () => (await focused(page)).label, POLL).toBe("Admin token");
    await page.keyboard.type(setting.gateway.adminToken);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();

    await tabTo(page, "Create key");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Create a key", level: 1 }).waitFor();
    await tabTo(page, "Name");
    await page.keyboard.type("Keyboard key");
    await tabTo(page, "Owner");
    await page.keyboard.type(owner);
    await tabTo(page, "Environment");
    await page.keyboard.press("ArrowDown");
    await tabTo(page, "Scopes");
    await page.keyboard.type("posts:read");
    await tabTo(page, "Add rate limit");
    await page.keyboard.press("Space");
    await expect.poll(async () => (await focused(page)).label, POLL).toBe("Rate limit 1 label");
    await page.keyboard.type("minute");
    await tabTo(page, "Rate limit 1 requests");
    await page.keyboard.type("10");
    await tabTo(page, "Rate limit 1 window in seconds");
    await page.keyboard.type("60");
    await tabTo(page, "Credits");
    await page.keyboard.type("50");
    await tabTo(page, "Create key");
    await page.keyboard.press("Enter");

    const revealed = page.getByLabel("New key");
    await revealed.waitFor();
    await expect.poll(async () => (await focused(page)).label, POLL).toBe("Keyboard key is ready");
    await tabTo(page, "New key");
    await tabTo(page, "Copy");
    await page.keyboard.press("Space");
    await page.getByText("Copied to the clipboard.").waitFor();
    const key = await revealed.inputValue();
    expect(key).toMatch(/^kg_test_/);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    const { body } = await setting.api<{ data: { name: string; environment: string; ratelimits: unknown; credits: unknown }[] }>(
      `/keys?q=${encodeURIComponent("Keyboard key")}`,
    );
    expect(body.data.map(({ name, environment, ratelimits, credits }) => ({ name, environment, ratelimits, credits }))).toEqual([
      { name: "Keyboard key", environment: "test", ratelimits: [{ name: "minute", limit: 10, windowSeconds: 60 }], credits: { remaining: 50, refill: null } },
    ]);

    await tabTo(page, "View the key");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Keyboard key", level: 1 }).waitFor();
    await tabTo(page, "Revoke");
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Revoke Keyboard key?" });
    await dialog.waitFor();
    await expect.poll(async () => (await focused(page)).label, POLL).toBe("Cancel");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await expect.poll(async () => (await focused(page)).label, POLL).toBe("Revoke");
    expect((await setting.api<{ data: { revokedAt: string | null }[] }>(`/keys?q=Keyboard`)).body.data[0].revokedAt).toBeNull();
  });
});

describe("when the browser draws frames late (a busy machine, a tab in the background)", () => {
  it("each page comes whole with its render: title, focus and data, and a quick click never leaves the old page behind", async () => {
    const page = await open();
    // Every animation frame half a second late.
    await page.addInitScript(() => {
      const frame = window.requestAnimationFrame.bind(window);
      window.requestAnimationFrame = (callback) => window.setTimeout(() => frame(callback), 500);
    });
    await page.goto(`${base()}/admin/ui`);
    await page.getByLabel("Admin token").waitFor();
    expect([await page.title(), (await focused(page)).label]).toEqual(["Sign in · keygate", "Admin token"]);
    await page.keyboard.type(setting.gateway.adminToken);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    expect(await page.title()).toBe("API keys · keygate");

    // Away before the keys page's first frame: its list must not come back below the next page.
    await page.getByRole("button", { name: "Create key", exact: true }).click();
    await page.getByRole("heading", { name: "Create a key", level: 1 }).waitFor();
    expect([await page.title(), (await focused(page)).tag]).toEqual(["Create a key · keygate", "H1"]);
    await page.getByRole("link", { name: "Keys", exact: true }).click();
    await page.getByRole("link", { name: "Sample key" }).click();
    await page.getByRole("heading", { name: "Sample key", level: 1 }).waitFor();
    await page.waitForTimeout(1500);
    expect(await page.getByRole("heading", { level: 1 }).allInnerTexts()).toEqual(["Sample key"]);

    // A dialog opened at once returns focus to its opener, not to a heading focused a frame late.
    await page.getByRole("link", { name: "Keys", exact: true }).click();
    await page.getByRole("link", { name: "Sample key" }).click();
    await page.getByRole("button", { name: "Revoke", exact: true }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("dialog", { name: "Revoke Sample key?" }).waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    await page.waitForTimeout(1500);
    expect((await focused(page)).label).toBe("Revoke");
  });
});

describe("from 360 px wide to a desktop", () => {
  it("every page fits a 360 px screen without sideways scrolling and passes the accessibility check there", async () => {
    const page = await open(PHONE);
    await signIn(page, base(), setting.gateway.adminToken);
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    const pages: [string, string, string | null][] = [
      ["/admin/ui", "API keys", "keys-360"],
      ["/admin/ui/keys/new", "Create a key", null],
      [`/admin/ui/keys/${sample.id}`, "Sample key", "key-360"],
      ["/admin/ui/audit", "Audit log", null],
      ["/admin/ui/usage", "Usage by owner", null],
    ];
    for (const [path, heading, shot] of pages) {
      await page.goto(`${base()}${path}`);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      await page.waitForLoadState("networkidle");
      expect(await fits(), path).toBe(true);
      await expectAccessible(page, `${path} at 360 px`);
      if (shot) await screenshot(page, shot);
    }
    await page.goto(`${base()}/admin/ui/keys/new`);
    await page.getByRole("button", { name: "Add rate limit" }).click();
    expect(await fits(), "create with a rate limit row").toBe(true);
  });
});

describe("when usage figures cannot be had", () => {
  it("the key page says why beside the chart, and the rest of the page works", async () => {
    // Usage configured to come from the Analytics Engine SQL API, which does not answer.
    const gateway = await setting.another({
      CF_ACCOUNT_ID: "0123456789abcdef0123456789abcdef",
      CF_API_TOKEN: "test-analytics-token",
      USAGE_SQL_URL: `http://127.0.0.1:${await closedPort()}/sql`,
    });
    const headers = { Authorization: `Bearer ${gateway.adminToken}`, "Content-Type": "application/json" };
    const created = (await (
      await fetch(`${gateway.url}/admin/keys`, { method: "POST", headers, body: JSON.stringify({ name: "No figures", ownerId: owner }) })
    ).json()) as { id: string };
    const context = await newContext(setting.browser.browser, gateway.url);
    contexts.push(context);
    const page = await context.newPage();
    await signIn(page, gateway.url, gateway.adminToken, `/admin/ui/keys/${created.id}`);
    await page.getByRole("heading", { name: "No figures", level: 1 }).waitFor();
    const usage = page.locator("section", { has: page.getByRole("heading", { name: "Usage" }) });
    await usage.getByText("Usage cannot be shown right now; the rest of this page still works.").waitFor();
    expect(await usage.getByRole("alert").innerText()).toMatch(/^Usage figures unavailable\. .+/);
    expect(await page.getByRole("heading", { name: "Details" }).isVisible()).toBe(true);
    await page.getByText("No requests in the last 7 days.").waitFor();
    await expectAccessible(page, "usage unavailable");

    await page.getByRole("link", { name: "Usage", exact: true }).click();
    await page.getByText("Usage cannot be shown right now.").waitFor();
    expect(await page.getByRole("alert").innerText()).toMatch(/^Usage figures unavailable\. /);
  });
});
