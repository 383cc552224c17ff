import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalGateway } from "../../scripts/local-gateway.ts";
import { adminApi } from "../support/net.ts";
import { startTenant, type Tenant } from "../support/idp.ts";
import { DESKTOP, expectAccessible, newContext, PHONE, screenshot, watchErrors } from "./browser.ts";
import { signIn, useDashboard } from "./dashboard-support.ts";

/**
 * The dashboard's Owners and Plans pages (DESIGN.md, "Dashboard": owners (list, one owner: plan,
 * shared limits and credits, its keys, a portal link); plans (list, create, edit with a preview of
 * what changes); usage by plan; navigation links "Owners" and "Plans"), in real Chromium against
 * keygate in workerd: as an admin, a viewer and an operator.
 */
const setting = useDashboard();
const base = () => setting.gateway.url;
const contexts: BrowserContext[] = [];
const POLL = { timeout: 20_000, interval: 100 };
let runs = 0;
const unique = (label: string) => `${label}${Date.now().toString(36)}${++runs}`;

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
});

async function open(viewport = DESKTOP, gateway = base()): Promise<Page> {
  const context = await newContext(setting.browser.browser, gateway, viewport);
  contexts.push(context);
  return context.newPage();
}

async function newKey(ownerId: string, name: string, scopes: string[] = []) {
  const created = await setting.api<{ id: string; key: string }>("/keys", { method: "POST", json: { name, ownerId, scopes } });
  expect(created.status).toBe(201);
  return created.body;
}

const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement;
    const style = getComputedStyle(el);
    const label = el.getAttribute("aria-label") ?? (el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null) ?? el.textContent;
    return { tag: el.tagName, label: (label ?? "").trim(), ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 };
  });

/** Tabs to the control called `label`, checking that every control on the way shows its focus. */
async function tabTo(page: Page, label: string, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const now = await focused(page);
    expect(now.ring, `focus ring on ${now.tag} ${now.label}`).toBe(true);
    if (now.label === label) return;
  }
  throw new Error(`Tab never reached ${label}`);
}

const detail = (page: Page, label: string) => page.locator("dl.details > div", { has: page.locator("dt", { hasText: new RegExp(`^${label}$`) }) }).locator("dd");

describe("an admin", () => {
  it("creates a plan, puts an owner on it, sees its two keys share the limit, previews a change before saving it, and cannot delete a plan in use", async () => {
    const plan = unique("pro");
    const ownerId = unique("acct_ui_");
    const first = await newKey(ownerId, "Web app");
    const second = await newKey(ownerId, "Mobile app");
    const page = await open();
    const errors = watchErrors(page);
    await signIn(page, base(), setting.gateway.adminToken);
    const nav = (await page.getByRole("navigation", { name: "Main" }).getByRole("link").allInnerTexts()).map((t) => t.trim());
    expect(nav).toEqual(["Keys", "Owners", "Plans", "Webhooks", "Security", "Audit log", "Usage"]);

    // create the plan
    await page.getByRole("link", { name: "Plans", exact: true }).click();
    await page.getByRole("heading", { name: "Plans", level: 1 }).waitFor();
    expect(await page.title()).toBe("Plans · keygate");
    await page.getByLabel("Plan ID").fill(plan);
    await page.getByLabel("Name", { exact: true }).fill("Pro");
    await page.getByLabel("Description").fill("For teams");
    await page.getByRole("button", { name: "Add owner rate limit" }).click();
    await page.getByLabel("Owner rate limits 1 label").fill("day");
    await page.getByLabel("Owner rate limits 1 requests").fill("5");
    await page.getByLabel("Owner rate limits 1 window in seconds").fill("86400");
    await page.getByLabel("Shared balance").selectOption("daily");
    await page.getByLabel("Credits per owner").fill("1000");
    await page.getByLabel("Keys per owner").fill("10");
    await expectAccessible(page, "plans, create form filled");
    await page.getByRole("button", { name: "Create plan" }).click();
    await page.getByRole("heading", { name: "Plan Pro", level: 1 }).waitFor();
    expect(await page.title()).toBe("Plan · keygate");
    expect(await detail(page, "Owner rate limits").innerText()).toBe("day: 5 per 1 day");
    expect(await detail(page, "Owner credits").innerText()).toBe("1,000, refilled daily");
    expect(await detail(page, "Keys per owner").innerText()).toBe("10");
    expect(await detail(page, "Scope ceiling").innerText()).toBe("any (no ceiling)");
    const made = await setting.api<{ ownerRatelimits: unknown; ownerCredits: unknown; description: string }>(`/plans/${plan}`);
    expect(made.body).toMatchObject({ ownerRatelimits: [{ name: "day", limit: 5, windowSeconds: 86400 }], ownerCredits: { amount: 1000, interval: "daily" }, description: "For teams" });

    // put the owner on it
    await page.getByRole("link", { name: "Owners", exact: true }).click();
    await page.getByRole("heading", { name: "Owners", level: 1 }).waitFor();
    await page.getByLabel("Search by id or name").fill(ownerId);
    await page.getByLabel("Search by id or name").press("Enter");
    const row = page.getByRole("row", { name: new RegExp(ownerId) });
    await row.waitFor();
    expect(await row.getByRole("cell").allInnerTexts()).toEqual([ownerId, "none", "none", "2", "0"]);
    await row.getByRole("link", { name: ownerId }).click();
    await page.getByRole("heading", { name: ownerId, level: 1 }).waitFor();
    expect(await page.title()).toBe("Owner · keygate");
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Acme Inc.");
    await expect.poll(async () => page.getByLabel("Plan", { exact: true }).locator("option").allInnerTexts(), POLL).toContain(`Pro (${plan})`);
    await page.getByLabel("Plan", { exact: true }).selectOption(plan);
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Saved: in force on the next request of every key of this owner.").waitFor();
    await page.getByRole("heading", { name: "Acme Inc.", level: 1 }).waitFor();
    expect(await detail(page, "Plan").innerText()).toBe(plan);
    expect(await detail(page, "Shared limits, what is left").innerText()).toMatch(/^day: 5 of 5 left, resets in (1 day|\d+ hours)$/);
    expect(await detail(page, "Shared balance").innerText()).toMatch(/^1,000 left, refilled to 1,000 daily/);

    // its two keys share the day: three and two requests use it up, the sixth is refused
    const statuses = [];
    for (const key of [first, first, first, second, second, second]) statuses.push((await setting.call(key.key)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(async () => detail(page, "Shared limits, what is left").innerText(), POLL).toMatch(/^day: 0 of 5 left/);
    expect(await detail(page, "Shared balance").innerText()).toMatch(/^995 left/);
    const keys = page.locator("section", { has: page.getByRole("heading", { name: "Keys", exact: true }) });
    expect((await keys.getByRole("row").allInnerTexts()).slice(1).map((r) => r.split("\t")[1])).toEqual(["Mobile app", "Web app"]);
    const usage = page.locator("section", { has: page.getByRole("heading", { name: "Usage across its keys" }) });
    await expect
      .poll(async () => {
        await page.getByRole("button", { name: "Refresh" }).click();
        return usage.locator("figcaption").innerText();
      }, POLL)
      .toBe("6 requests: 5 allowed, 1 rate limited, 0 quota exhausted, 0 denied.");
    await page.getByRole("button", { name: "Portal link for this owner" }).waitFor();
    await expectAccessible(page, "owner on a plan");
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, "owner");

    // the owners list, filtered by the plan
    await page.getByRole("link", { name: "Owners", exact: true }).click();
    await page.getByLabel("Plan", { exact: true }).selectOption(plan);
    await expect.poll(async () => (await page.getByRole("row").allInnerTexts()).length, POLL).toBe(2);
    expect(page.url()).toContain(`plan=${plan}`);
    const onPlan = page.getByRole("row", { name: new RegExp(ownerId) });
    expect(await onPlan.getByRole("cell").allInnerTexts()).toEqual([ownerId, "Acme Inc.", "Pro", "2", expect.stringMatching(/^[0-6]$/)]);
    await expectAccessible(page, "owners on a plan");
    await screenshot(page, "owners");

    // a change, previewed before it is saved
    await page.getByRole("link", { name: "Plans", exact: true }).click();
    const planRow = page.getByRole("row", { name: new RegExp(plan) });
    await planRow.waitFor();
    expect(await planRow.locator("td[data-label='Owners']").innerText()).toMatch(/^1\b/);
    await screenshot(page, "plans");
    await planRow.getByRole("link", { name: "Pro", exact: true }).click();
    await page.getByRole("heading", { name: "Plan Pro", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Owner rate limits 1 requests").fill("10");
    await page.getByLabel("Name", { exact: true }).fill("Pro plus");
    await page.getByRole("button", { name: "Preview changes" }).click();
    const preview = page.getByRole("region", { name: "What this change would do" });
    await preview.waitFor();
    expect(await focused(page)).toMatchObject({ tag: "H3" });
    expect(await preview.innerText()).toContain("It touches 1 owner on this plan");
    expect(await preview.getByRole("row").allInnerTexts()).toEqual([
      "SETTING\tNOW\tAFTER SAVING",
      "name\tPro\tPro plus",
      "owner rate limits\tday: 5 per 1 day\tday: 10 per 1 day",
    ]);
    // nothing changed yet
    expect((await setting.api<{ version: number; name: string }>(`/plans/${plan}`)).body).toMatchObject({ version: 1, name: "Pro" });
    await expectAccessible(page, "plan change previewed");
    await preview.evaluate((el) => el.scrollIntoView({ block: "start" }));
    await screenshot(page, "plan-preview");
    await preview.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Saved: in force on the next request of every key the plan touches.").waitFor();
    await page.getByRole("heading", { name: "Plan Pro plus", level: 1 }).waitFor();
    expect(await detail(page, "Owner rate limits").innerText()).toBe("day: 10 per 1 day");
    expect(await detail(page, "Version").innerText()).toBe("2");
    // the owner's home took it in: ten a day, five of them left
    await expect.poll(async () => (await setting.api<{ limits: { limit: number; remaining: number }[] }>(`/owners/${ownerId}`)).body.limits, POLL).toEqual([
      expect.objectContaining({ limit: 10, remaining: 5 }),
    ]);

    // a plan with an owner on it cannot go: keygate's problem shows beside the control
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Delete plan Pro plus?" });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain("1 owner is on it");
    await dialog.getByRole("button", { name: "Delete plan" }).click();
    const refusal = dialog.getByRole("alert");
    await refusal.waitFor();
    expect(await refusal.innerText()).toBe(`Plan in use. Plan ${plan} has 1 owner; move them to another plan first.`);
    await expectAccessible(page, "delete refused");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect((await setting.api(`/plans/${plan}`)).status).toBe(200);

    // usage by plan
    await page.getByRole("link", { name: "Usage", exact: true }).click();
    await page.getByLabel("Group by").selectOption("plan");
    await page.getByRole("heading", { name: "Usage by plan", level: 1 }).waitFor();
    expect(page.url()).toContain("by=plan");
    const planUsage = page.getByRole("row", { name: new RegExp(plan) });
    await planUsage.waitFor();
    expect((await planUsage.getByRole("cell").allInnerTexts()).slice(0, 3)).toEqual(["6", "5", "1"]);
    await expectAccessible(page, "usage by plan");
    await screenshot(page, "usage-plan");
    expect(errors.filter((e) => !e.includes("status of 4"))).toEqual([]);
  });

  it("deletes a plan no owner is on after confirming, and shows keygate's problems beside the fields that caused them", async () => {
    const page = await open();
    await signIn(page, base(), setting.gateway.adminToken, "/admin/ui/plans");
    await page.getByRole("heading", { name: "Plans", level: 1 }).waitFor();
    // an id keygate refuses, named beside its field
    await page.getByLabel("Plan ID").fill("Not A Plan");
    await page.getByLabel("Name", { exact: true }).fill("Bad");
    await page.getByRole("button", { name: "Create plan" }).click();
    await page.locator("#id-problem").waitFor();
    expect(await page.getByLabel("Plan ID").getAttribute("aria-describedby")).toContain("id-problem");
    expect(await page.locator(".form-actions [role=alert]").innerText()).toMatch(/^Validation failed\./);
    // a taken id
    const trial = unique("trial");
    expect((await setting.api("/plans", { method: "POST", json: { id: trial, name: "Trial" } })).status).toBe(201);
    await page.getByLabel("Plan ID").fill(trial);
    await page.getByRole("button", { name: "Create plan" }).click();
    await page.getByText(`A plan with the id ${trial} exists already.`).waitFor();
    await expectAccessible(page, "plans, problems shown");

    await page.goto(`${base()}/admin/ui/plans/${trial}`);
    await page.getByRole("heading", { name: "Plan Trial", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Delete plan Trial?" });
    expect(await dialog.innerText()).toContain("No owner is on it.");
    await dialog.getByRole("button", { name: "Delete plan" }).click();
    await page.getByRole("heading", { name: "Plans", level: 1 }).waitFor();
    expect((await setting.api(`/plans/${trial}`)).status).toBe(404);

    // a ceiling the owner's keys exceed: the preview names the keys and will not save; moving an owner onto it is refused beside Save
    const plan = unique("open");
    const ownerId = unique("acct_wide_");
    const writer = await newKey(ownerId, "Writer", ["posts:read", "posts:write"]);
    await setting.api("/plans", { method: "POST", json: { id: plan, name: "Open" } });
    await setting.api(`/owners/${ownerId}`, { method: "PATCH", json: { plan } });
    await page.goto(`${base()}/admin/ui/plans/${plan}`);
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Scope ceiling").fill("posts:read");
    await page.getByRole("button", { name: "Preview changes" }).click();
    const preview = page.getByRole("region", { name: "What this change would do" });
    await preview.getByText("keygate would refuse this change.").waitFor();
    expect(await preview.getByRole("listitem").allInnerTexts()).toEqual([`${writer.id} of ${ownerId}: posts:write`]);
    expect(await preview.getByRole("button", { name: "Save changes" }).isDisabled()).toBe(true);
    await expectAccessible(page, "preview refused");
    // editing again drops the stale preview
    await page.getByLabel("Scope ceiling").fill("posts:read posts:write");
    await preview.waitFor({ state: "detached" });

    const strict = unique("strict");
    await setting.api("/plans", { method: "POST", json: { id: strict, name: "Strict", scopes: ["posts:read"] } });
    await page.goto(`${base()}/admin/ui/owners/${ownerId}`);
    await page.getByRole("button", { name: "Edit" }).click();
    await expect.poll(async () => page.getByLabel("Plan", { exact: true }).locator("option").allInnerTexts(), POLL).toContain(`Strict (${strict})`);
    await page.getByLabel("Plan", { exact: true }).selectOption(strict);
    await page.getByRole("button", { name: "Save changes" }).click();
    const alert = page.locator(".form-actions [role=alert]");
    await alert.waitFor();
    expect(await alert.innerText()).toContain(`Scope not allowed. Plan ${strict} allows keys at most posts:read`);
    expect(await alert.innerText()).toContain(writer.id);
    await page.getByLabel("Metadata").fill("{not json");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.locator("#metadata-problem").getByText(/^not JSON/).waitFor();
    await expectAccessible(page, "owner, problems shown");
  });

  it("sees a change that reaches more owners than one call tells as pending, with when it is in force", async () => {
    const plan = unique("wide");
    await setting.api("/plans", { method: "POST", json: { id: plan, name: "Wide", ownerRatelimits: [{ name: "day", limit: 100, windowSeconds: 86400 }] } });
    for (let i = 0; i < 26; i++) {
      const ownerId = unique("acct_wide_");
      const key = await newKey(ownerId, "k");
      await setting.api(`/owners/${ownerId}`, { method: "PATCH", json: { plan } });
      expect((await setting.call(key.key)).status).toBe(200);
    }
    const page = await open();
    await signIn(page, base(), setting.gateway.adminToken, `/admin/ui/plans/${plan}`);
    await page.getByRole("heading", { name: "Plan Wide", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Owner rate limits 1 requests").fill("50");
    await page.getByRole("button", { name: "Preview changes" }).click();
    const preview = page.getByRole("region", { name: "What this change would do" });
    expect(await preview.locator("p").first().innerText()).toContain("It touches 26 owners");
    await preview.getByRole("button", { name: "Save changes" }).click();
    const status = page.getByText(/^Saved\. \d+ owners still to take the change in; in force for all of them by .+ \(in \d+ seconds\)\.$/);
    await status.waitFor();
    await expectAccessible(page, "plan change pending");
    await screenshot(page, "plan-pending");
  });
});

describe("a viewer", () => {
  it("sees owners and plans and no control that changes them", async () => {
    const plan = unique("view");
    const ownerId = unique("acct_view_");
    await newKey(ownerId, "Seen");
    await setting.api("/plans", { method: "POST", json: { id: plan, name: "Viewable" } });
    await setting.api(`/owners/${ownerId}`, { method: "PATCH", json: { plan } });
    const reader = await newKey(unique("acct_reader_"), "Reader", ["admin:read"]);
    const page = await open();
    await signIn(page, base(), reader.key, "/admin/ui/owners");
    // paging and filtering are all a viewer gets
    const READING = ["Search", "Refresh", "Next page", "Previous page"];
    const buttons = async () => (await page.locator("main").getByRole("button").allInnerTexts()).map((t) => t.trim()).filter((b) => !READING.includes(b));

    await page.getByRole("heading", { name: "Owners", level: 1 }).waitFor();
    await page.getByRole("row", { name: /acct_/ }).first().waitFor();
    expect(await buttons()).toEqual([]);
    await page.goto(`${base()}/admin/ui/owners/${ownerId}`);
    await page.getByRole("heading", { name: "Details" }).waitFor();
    await page.getByRole("heading", { name: "Keys", exact: true }).waitFor();
    await page.getByRole("button", { name: "Refresh" }).waitFor();
    expect(await buttons()).toEqual([]);
    expect(await page.locator("main input, main textarea").count()).toBe(0);
    await expectAccessible(page, "owner as a viewer");
    await page.goto(`${base()}/admin/ui/plans`);
    await page.getByRole("row", { name: new RegExp(plan) }).waitFor();
    expect(await buttons()).toEqual([]);
    expect(await page.getByRole("heading", { name: "Create a plan" }).count()).toBe(0);
    expect(await page.locator("main input, main textarea, main select").count()).toBe(0);
    await page.goto(`${base()}/admin/ui/plans/${plan}`);
    await page.getByRole("heading", { name: "Details" }).waitFor();
    await page.getByRole("button", { name: "Refresh" }).waitFor();
    expect(await buttons()).toEqual([]);
    await expectAccessible(page, "plan as a viewer");
  });
});

describe("an operator behind Cloudflare Access", () => {
  const AUD = "c5a4c3d2e1f00112233445566778899aabbccddeeff00112233445566778899";
  let team: Tenant;
  let gateway: LocalGateway;
  beforeAll(async () => {
    team = await startTenant();
    gateway = await setting.another({ ADMIN_ACCESS: JSON.stringify({ teamDomain: team.url, aud: AUD, roles: { "*@example.com": "operator" } }) });
  });
  afterAll(async () => {
    await team?.close();
  });

  it("edits owners and makes their portal links, and is shown no control over plans", async () => {
    const api = adminApi(gateway.url, gateway.adminToken);
    const ownerId = unique("acct_op_");
    await api("/keys", { method: "POST", json: { name: "Op key", ownerId } });
    await api("/plans", { method: "POST", json: { id: "ops", name: "Ops" } });
    const now = Math.floor(Date.now() / 1000);
    const assertion = await team.sign({ claims: { iss: team.url, aud: AUD, email: "otto@example.com", iat: now, exp: now + 600, sub: "otto@example.com" } });
    const page = await open(DESKTOP, gateway.url);
    await page.context().setExtraHTTPHeaders({ "Cf-Access-Jwt-Assertion": assertion });
    await page.goto(`${gateway.url}/admin/ui/owners/${ownerId}`);
    await page.getByRole("heading", { name: ownerId, level: 1 }).waitFor();
    await page.getByRole("button", { name: "Portal link for this owner" }).waitFor();
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Plan", { exact: true }).locator("option", { hasText: "Ops" }).waitFor({ state: "attached" });
    await page.getByLabel("Plan", { exact: true }).selectOption("ops");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Saved: in force on the next request").waitFor();
    expect((await api<{ plan: string }>(`/owners/${ownerId}`)).body.plan).toBe("ops");

    await page.goto(`${gateway.url}/admin/ui/plans`);
    await page.getByRole("row", { name: /Ops/ }).waitFor();
    expect(await page.getByRole("heading", { name: "Create a plan" }).count()).toBe(0);
    await page.goto(`${gateway.url}/admin/ui/plans/ops`);
    await page.getByRole("heading", { name: "Details" }).waitFor();
    const buttons = (await page.locator("main").getByRole("button").allInnerTexts()).map((t) => t.trim());
    expect(buttons).toEqual(["Refresh"]);
    // nor over webhooks, which only an admin may change
    await page.goto(`${gateway.url}/admin/ui/webhooks`);
    await page.getByRole("heading", { name: "Endpoints" }).waitFor();
    expect(await page.getByRole("heading", { name: "Add an endpoint" }).count()).toBe(0);
  });
});

describe("by keyboard, and at 360 px", () => {
  it("puts an owner on a plan by keyboard alone, focus always visible", async () => {
    const plan = unique("kbd");
    const ownerId = unique("acct_kbd_");
    await newKey(ownerId, "Keyboard");
    await setting.api("/plans", { method: "POST", json: { id: plan, name: "Keyboard plan" } });
    const page = await open();
    await page.goto(`${base()}/admin/ui/owners/${ownerId}`);
    await expect.poll(async () => (await focused(page)).label, POLL).toBe("Admin token");
    await page.keyboard.type(setting.gateway.adminToken);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: ownerId, level: 1 }).waitFor();
    await tabTo(page, "Edit");
    await page.keyboard.press("Enter");
    await page.getByLabel("Plan", { exact: true }).locator("option", { hasText: "Keyboard plan" }).waitFor({ state: "attached" });
    await tabTo(page, "Plan");
    await page.keyboard.type("Keyboard plan");
    expect(await page.getByLabel("Plan", { exact: true }).inputValue()).toBe(plan);
    await tabTo(page, "Save changes");
    await page.keyboard.press("Enter");
    await page.getByText("Saved: in force on the next request").waitFor();
    expect((await setting.api<{ plan: string }>(`/owners/${ownerId}`)).body.plan).toBe(plan);
  });

  it("the owners, owner, plans and plan pages fit without sideways scrolling and pass the accessibility check", async () => {
    const plan = unique("phone");
    const ownerId = unique("acct_phone_with_a_rather_long_identifier_");
    await newKey(ownerId, "Phone key");
    await setting.api("/plans", {
      method: "POST",
      json: { id: plan, name: "Phone", keyRatelimits: [{ name: "minute", limit: 60, windowSeconds: 60 }], ownerRatelimits: [{ name: "day", limit: 10000, windowSeconds: 86400 }], ownerCredits: { amount: 50000, interval: "monthly", day: 15 }, scopes: ["posts:read", "posts:write"] },
    });
    await setting.api(`/owners/${ownerId}`, { method: "PATCH", json: { plan, name: "A phone-sized customer" } });
    const page = await open(PHONE);
    await signIn(page, base(), setting.gateway.adminToken);
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    for (const [path, heading] of [
      [`/admin/ui/owners?plan=${plan}`, "Owners"],
      [`/admin/ui/owners/${ownerId}`, "A phone-sized customer"],
      ["/admin/ui/plans", "Plans"],
      [`/admin/ui/plans/${plan}`, "Plan Phone"],
    ] as const) {
      await page.goto(`${base()}${path}`);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      await page.waitForLoadState("networkidle");
      expect(await fits(), path).toBe(true);
      await expectAccessible(page, `${path} at 360 px`);
    }
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByRole("button", { name: "Preview changes" }).waitFor();
    expect(await fits(), "plan editor").toBe(true);
    await screenshot(page, "plan-360");
  });
});
