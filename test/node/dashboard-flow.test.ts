import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectAccessible, newContext, screenshot, watchErrors } from "./browser.ts";
import { signIn, useDashboard } from "./dashboard-support.ts";


/** Waiting for what the page shows next, on a machine that may be busy. */
const POLL = { timeout: 15_000, interval: 100 };
/**
 * An operator's whole round in real Chromium against keygate in workerd: sign in, create a key
 * with limits and credits, copy it, use it, see its usage and requests, edit, disable, rotate
 * with a grace period, revoke after confirming, and find every change in the audit log.
 * The tests run in order on one page, as the operator would; each writes its page's screenshot.
 */
const setting = useDashboard();
const owner = `acct_ui_${Date.now().toString(36)}`;
const KEY = /^kg_live_[0-9A-Za-z]{49}$/;
let context: BrowserContext;
let page: Page;
let errors: string[];
let first: { id: string; key: string };
let second: { id: string; key: string };

const base = () => setting.gateway.url;
const button = (name: string) => page.getByRole("button", { name, exact: true });
const codeOf = async (res: Response) => ((await res.json()) as { code: string }).code;
const storage = () => page.evaluate(() => ({ session: { ...sessionStorage }, local: localStorage.length }));

/** Clicks Refresh until `done` holds: usage reaches D1 in batches, a moment after the requests. */
async function refreshUntil(done: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 30_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await page.waitForTimeout(300);
    await button("Refresh").click();
  }
}

beforeAll(async () => {
  context = await newContext(setting.browser.browser, base());
  page = await context.newPage();
  errors = watchErrors(page);
});

afterAll(async () => {
  await context?.close();
});

describe("the dashboard, as an operator uses it", () => {
  it("refuses a wrong token beside the field, then signs in; the token stays in this tab's sessionStorage only", async () => {
    await page.goto(`${base()}/admin/ui`);
    await page.getByLabel("Admin token").fill("not-the-token");
    await button("Sign in").click();
    const problem = page.locator(".field", { has: page.getByLabel("Admin token") }).getByRole("alert");
    expect(await problem.innerText()).toBe("Unauthorized. The token is neither ADMIN_TOKEN nor a keygate key.");
    expect((await storage()).session).toEqual({});
    expect(await page.title()).toBe("Sign in · keygate");
    await expectAccessible(page, "sign-in");
    await screenshot(page, "sign-in");

    await page.getByLabel("Admin token").fill(setting.gateway.adminToken);
    await page.getByLabel("Admin token").press("Enter");
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    expect(await storage()).toEqual({ session: { "keygate.adminToken": setting.gateway.adminToken }, local: 0 });
    expect(await context.cookies()).toEqual([]);
    expect(page.url()).toBe(`${base()}/admin/ui`);
    expect(await page.title()).toBe("API keys · keygate");
  });

  it("creates a key with limits and credits: keygate's problem shows beside the field, then the key is revealed once and copied", async () => {
    await button("Create key").click();
    await page.getByRole("heading", { name: "Create a key", level: 1 }).waitFor();
    expect(await page.title()).toBe("Create a key · keygate");
    await page.getByLabel("Name", { exact: true }).fill("Acme production");
    await page.getByLabel("Owner").fill(owner);
    await page.getByLabel("Environment").selectOption("live");
    await page.getByLabel("Scopes").fill("posts:read posts");
    await page.getByLabel("Expires").selectOption({ label: "In 30 days" });
    await button("Add rate limit").click();
    await page.getByLabel("Rate limit 1 label").fill("minute");
    await page.getByLabel("Rate limit 1 requests").fill("100");
    await page.getByLabel("Rate limit 1 window in seconds").fill("60");
    await page.getByLabel("Credits", { exact: true }).fill("1000");
    await page.getByLabel("Refill", { exact: true }).selectOption("monthly");
    await page.getByLabel("Refill to").fill("1000");
    await screenshot(page, "create");
    await expectAccessible(page, "create");

    // keygate refuses the scope "posts": its title and detail beside the button, its issue beside Scopes.
    await button("Create key").click();
    expect(await page.locator(".form-actions").getByRole("alert").innerText()).toMatch(/^Validation failed\. scopes\.1: must be "<resource>:<action>"/);
    const scopes = page.getByLabel("Scopes");
    expect(await scopes.getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator(`#${await scopes.getAttribute("aria-describedby").then((ids) => ids!.split(" ").at(-1))}`).innerText()).toMatch(
      /^1: must be "<resource>:<action>"/,
    );
    await expectAccessible(page, "create, refused");

    await scopes.fill("posts:read");
    await button("Create key").click();
    const revealed = page.getByLabel("New key");
    const key = await revealed.inputValue();
    expect(key).toMatch(KEY);
    expect(await revealed.getAttribute("readonly")).not.toBeNull();
    expect(await page.getByText("it will not be shown again").isVisible()).toBe(true);
    await button("Copy").click();
    await page.getByText("Copied to the clipboard.").waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    await expectAccessible(page, "key revealed");
    await screenshot(page, "create-revealed");

    const id = (await page.getByRole("link", { name: "View the key" }).getAttribute("href"))!.split("/").at(-1)!;
    first = { id, key };
    // The API holds what the form said.
    const { body } = await setting.api<{ scopes: string[]; ratelimits: unknown; credits: unknown; expiresAt: string }>(`/keys/${id}`);
    expect(body.scopes).toEqual(["posts:read"]);
    expect(body.ratelimits).toEqual([{ name: "minute", limit: 100, windowSeconds: 60 }]);
    expect(body.credits).toEqual({ remaining: 1000, refill: { amount: 1000, interval: "monthly", day: 1 } });
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(29.9 * 86_400_000);
  });

  it("the copied key calls the gateway", async () => {
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    for (let i = 0; i < 3; i++) expect((await setting.call(copied)).status).toBe(200);
  });

  it("lists the key with its start, scopes, limits, credits, expiry and status; search and filters find it", async () => {
    await page.getByRole("link", { name: "Keys", exact: true }).click();
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    await page.getByLabel("Search by name or owner").fill(owner.toUpperCase());
    await page.getByLabel("Search by name or owner").press("Enter");
    const row = page.getByRole("row", { name: /Acme production/ });
    await row.waitFor();
    expect(page.url()).toContain(`q=${owner.toUpperCase()}`);
    const cells = await row.getByRole("cell").allInnerTexts();
    expect(cells.slice(0, 5)).toEqual([first.key.slice(0, 12), "Acme production", owner, "posts:read", "minute: 100 per 1 minute"]);
    expect(cells[5]).toMatch(/^[\d,]+ left, refilled to 1,000 monthly on day 1$/);
    expect(cells[7]).toMatch(/^in (4 weeks|1 month)$/);
    expect(cells[8]).toBe("active");
    await expectAccessible(page, "keys");

    await page.getByLabel("Environment").selectOption("test");
    await page.getByText("No key matches these filters.").waitFor();
    await page.getByLabel("Environment").selectOption("");
    await page.getByLabel("Status").selectOption("revoked");
    await page.getByText("No key matches these filters.").waitFor();
    await page.getByLabel("Status").selectOption("active");
    await row.waitFor();
  });

  it("shows the key's usage over time by outcome and its recent requests", async () => {
    await page.getByRole("link", { name: "Acme production" }).click();
    await page.getByRole("heading", { name: "Acme production", level: 1 }).waitFor();
    const requests = page.getByRole("table", { name: "Requests made with this key, newest first" });
    await refreshUntil(async () => (await requests.getByText("GET /hello").count()) === 3, "three requests in the log");
    expect(await requests.getByRole("row").nth(1).getByRole("cell").allInnerTexts()).toEqual([
      expect.stringMatching(/ago$|^just now$/),
      "GET /hello via default",
      "200",
      "OK",
      expect.stringMatching(/^\d+ keygate, \d+ origin$/),
      "127.0.0.1",
    ]);
    const chart = page.getByRole("img", { name: /^Requests per hour by outcome/ });
    await refreshUntil(async () => /3 requests: 3 allowed/.test((await chart.getAttribute("aria-label")) ?? ""), "three requests in the chart");
    expect(await chart.locator("rect.allowed").count()).toBe(1);
    const details = await page.locator(".details").innerText();
    expect(details).toContain("minute: 100 per 1 minute");
    expect(details).toMatch(/Credits\n997 left, refilled to 1,000 monthly on day 1/);
    // The navigation's "Keys" is the only link of that name, as scripts rely on (DESIGN.md).
    expect(await page.getByRole("link", { name: "Keys", exact: true }).count()).toBe(1);
    await expectAccessible(page, "key");
    await screenshot(page, "key");
  });

  it("edits the key: keygate's refusal beside Save; a new name changes nothing else (the live credits stay)", async () => {
    await button("Edit").click();
    await page.getByLabel("Allowed IPs").fill("10.0.0.300");
    await button("Save changes").click();
    expect(await page.locator(".form-actions").getByRole("alert").innerText()).toMatch(/^Validation failed\. allowedIps\.0: must be an IPv4 address/);
    await expectAccessible(page, "edit, refused");
    await page.getByLabel("Allowed IPs").fill("");
    await page.getByLabel("Name", { exact: true }).fill("Acme production (EU)");
    await button("Save changes").click();
    await page.getByRole("heading", { name: "Acme production (EU)", level: 1 }).waitFor();
    await page.getByText("Saved.").waitFor();
    const { body } = await setting.api<{ name: string; credits: { remaining: number }; allowedIps: string[]; version: number }>(`/keys/${first.id}`);
    expect(body).toMatchObject({ name: "Acme production (EU)", credits: { remaining: 997 }, allowedIps: [], version: 2 });
  });

  it("disables and enables the key; the gateway follows at once", async () => {
    await button("Disable").click();
    await page.locator(".badge", { hasText: "disabled" }).waitFor();
    const refused = await setting.call(first.key);
    expect([refused.status, await codeOf(refused)]).toEqual([403, "KEY_DISABLED"]);
    await button("Enable").click();
    await page.locator(".badge", { hasText: "active" }).waitFor();
    expect((await setting.call(first.key)).status).toBe(200);
  });

  it("rotates with a grace period: the new key is revealed once, and both keys work until the grace ends", async () => {
    await button("Rotate").click();
    const dialog = page.getByRole("dialog", { name: "Rotate Acme production (EU)" });
    await dialog.waitFor();
    await dialog.getByLabel("Grace period").selectOption({ label: "1 hour" });
    await expectAccessible(page, "rotate dialog");
    await screenshot(page, "rotate");
    await dialog.getByRole("button", { name: "Rotate key", exact: true }).click();
    const revealed = page.getByLabel("New key");
    await revealed.waitFor();
    const key = await revealed.inputValue();
    expect(key).toMatch(KEY);
    expect(key).not.toBe(first.key);
    expect(await page.getByText(/keeps working until .* \(in (1 hour|59 minutes)\)/).isVisible()).toBe(true);
    second = { id: page.url().split("/").at(-1)!, key };
    expect(second.id).not.toBe(first.id);
    expect((await setting.call(second.key)).status).toBe(200);
    expect((await setting.call(first.key)).status).toBe(200);

    const { body: old } = await setting.api<{ expiresAt: string }>(`/keys/${first.id}`);
    expect(Date.parse(old.expiresAt) - Date.now()).toBeGreaterThan(3_500_000);
    // Shown once: the new key's page, opened again, no longer holds it.
    await page.reload();
    await page.getByRole("heading", { name: "Acme production (EU)", level: 1 }).waitFor();
    expect(await page.getByLabel("New key").count()).toBe(0);
  });

  it("revokes only after a confirmation that names the key", async () => {
    await button("Revoke").click();
    let dialog = page.getByRole("dialog", { name: "Revoke Acme production (EU)?" });
    expect(await dialog.innerText()).toContain(`${second.key.slice(0, 12)}…`);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    expect((await setting.api<{ revokedAt: string | null }>(`/keys/${second.id}`)).body.revokedAt).toBeNull();

    await button("Revoke").click();
    dialog = page.getByRole("dialog", { name: "Revoke Acme production (EU)?" });
    await expectAccessible(page, "revoke dialog");
    await screenshot(page, "revoke");
    await dialog.getByRole("button", { name: "Revoke key", exact: true }).click();
    await page.locator(".badge", { hasText: "revoked" }).waitFor();
    const refused = await setting.call(second.key);
    expect([refused.status, await codeOf(refused)]).toEqual([401, "KEY_REVOKED"]);
    // Nothing about a revoked key can change: no write control is left.
    for (const name of ["Rotate", "Revoke", "Disable", "Enable", "Edit"]) expect(await button(name).count(), name).toBe(0);
  });

  it("finds each change in the audit log, filtered by key and by action", async () => {
    await page.getByRole("link", { name: "Audit log", exact: true }).click();
    await page.getByLabel("Key id").fill(first.id);
    await button("Filter").click();
    const log = page.getByRole("table", { name: "Audit log, newest first" });
    const column = async (label: string) => log.locator(`td[data-label='${label}']`).allInnerTexts();
    // The whole log shows first; wait for the filtered answer.
    await expect.poll(async () => new Set(await column("Key")), POLL).toEqual(new Set([first.id]));
    expect((await column("Action")).join(" ")).toBe("key.rotate key.update key.update key.update key.create");
    const changes = await column("Changes");
    expect(changes[0]).toMatch(new RegExp(`^expiresAt \\S+Z → \\S+Z\nrotatedTo none → ${second.id}$`));
    expect(changes[1]).toBe("enabled false → true");
    expect(changes[2]).toBe("enabled true → false");
    expect(changes[3]).toBe("name Acme production → Acme production (EU)");
    expect(await column("Actor")).toEqual(Array(5).fill("root"));
    await expectAccessible(page, "audit");
    await screenshot(page, "audit");

    await page.getByLabel("Key id").fill("");
    await page.getByLabel("Action").selectOption("key.revoke");
    await expect.poll(async () => new Set(await column("Action")), POLL).toEqual(new Set(["key.revoke"]));
    expect(await column("Key")).toContain(second.id);
    expect(page.url()).toContain("action=key.revoke");
  });

  it("shows usage by owner", async () => {
    await page.getByRole("link", { name: "Usage", exact: true }).click();
    await page.getByRole("heading", { name: "Usage by owner", level: 1 }).waitFor();
    const row = page.getByRole("row", { name: new RegExp(owner) });
    await row.waitFor();
    // 3 + 1 with the first key, then 1 refused while disabled; 2 with the second key, then 1 refused after revocation.
    expect(await row.getByRole("cell").allInnerTexts()).toEqual(["8", "6", "0", "0", "2", "6", expect.stringMatching(/^≤ \d+$/)]);
    await expectAccessible(page, "usage");
    await screenshot(page, "usage");
    await row.getByRole("link", { name: owner }).click();
    await page.getByRole("row", { name: /Acme production/ }).first().waitFor();
    expect(page.url()).toContain(`q=${owner}`);
  });

  it("shows when each key was last used, as people say it", async () => {
    // usageCount and lastUsedAt reach D1 within 30 s of the requests.
    const deadline = Date.now() + 45_000;
    const lastUsed = page.getByRole("row", { name: /Acme production/ }).first().locator("td[data-label='Last used']");
    while ((await lastUsed.innerText()) === "never") {
      if (Date.now() > deadline) throw new Error("lastUsedAt never arrived");
      await page.waitForTimeout(2000);
      await page.reload();
    }
    expect(await lastUsed.innerText()).toMatch(/^(just now|\d+ seconds? ago|1 minute ago)$/);
    expect(await lastUsed.locator("time").getAttribute("datetime")).toMatch(/^\d{4}-\d\d-\d\dT/);
    await screenshot(page, "keys");
  });

  it("signs out: the token leaves sessionStorage and the pages ask for it again", async () => {
    await button("Sign out").click();
    await page.getByLabel("Admin token").waitFor();
    expect((await storage()).session).toEqual({});
    await page.reload();
    await page.getByLabel("Admin token").waitFor();
    expect(await page.getByRole("table").count()).toBe(0);
  });

  it("a 401 from the API returns to sign-in with keygate's reason", async () => {
    const { body: admin } = await setting.api<{ id: string; key: string }>("/keys", {
      method: "POST",
      json: { name: "Operator key", ownerId: "ops", scopes: ["admin:write"] },
    });
    await signIn(page, base(), admin.key);
    // The keys list answered before the key is revoked: the 401 comes from the next page's call.
    await page.getByRole("table", { name: "API keys, newest first" }).waitFor();
    await setting.api(`/keys/${admin.id}`, { method: "DELETE" });
    await page.getByRole("link", { name: "Audit log", exact: true }).click();
    const problem = page.locator(".field", { has: page.getByLabel("Admin token") }).getByRole("alert");
    expect(await problem.innerText()).toMatch(/^Unauthorized\. This key was revoked at \S+Z\.$/);
    expect((await storage()).session).toEqual({});
  });

  it("reported no script error and no refused request on any page", () => {
    // Chromium logs each refusal the tests provoked (the wrong token, the bad scope, the bad IP, the
    // revoked admin key) as a failed resource load; the pages showed each one. Nothing else went wrong.
    const refusals = /^Failed to load resource: the server responded with a status of (400|401) /;
    expect(errors.filter((e) => !refusals.test(e))).toEqual([]);
    expect(errors.length).toBe(4);
  });
});
