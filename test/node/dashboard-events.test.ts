import type { BrowserContext, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import type { ReceivedDelivery } from "../support/origin.ts";
import { DESKTOP, expectAccessible, newContext, PHONE, screenshot, watchErrors } from "./browser.ts";
import { signIn, useDashboard } from "./dashboard-support.ts";

/**
 * The dashboard's Webhooks and Security pages (DESIGN.md, "Dashboard": webhooks (endpoints,
 * deliveries, send a test); security events; navigation links "Webhooks" and "Security"), in
 * real Chromium against keygate in workerd, with the test origin's webhook receiver verifying
 * every delivery with the standardwebhooks package.
 */
const setting = useDashboard({ WEBHOOK_RETRY_SECONDS: "[1,1,1]", WEBHOOK_TIMEOUT_MS: "1000" });
const base = () => setting.gateway.url;
const contexts: BrowserContext[] = [];
const POLL = { timeout: 15_000, interval: 100 };

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
});

async function open(viewport = DESKTOP): Promise<Page> {
  const context = await newContext(setting.browser.browser, base(), viewport);
  contexts.push(context);
  return context.newPage();
}

let receivers = 0;
const receiver = () => `ui-${Date.now().toString(36)}-${++receivers}`;
const hook = (name: string) => `${setting.origin}/hooks/${name}`;
const configure = (name: string, secrets: string[], mode = "ok") => fetch(`${hook(name)}/config`, { method: "POST", body: JSON.stringify({ secrets, mode }) });
const received = async (name: string) => (await (await fetch(`${hook(name)}/received`)).json()) as ReceivedDelivery[];

const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement;
    const style = getComputedStyle(el);
    const label = el.getAttribute("aria-label") ?? (el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null) ?? el.textContent;
    return { tag: el.tagName, label: (label ?? "").trim(), ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 };
  });

/** Tabs to the control called `label`, checking that every control on the way shows its focus. */
async function tabTo(page: Page, label: string, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const now = await focused(page);
    expect(now.ring, `focus ring on ${now.tag} ${now.label}`).toBe(true);
    if (now.label === label) return;
  }
  throw new Error(`Tab never reached ${label}`);
}

describe("the Webhooks page", () => {
  it("adds an endpoint, shows its secret once, sends a test the receiver verifies, lists deliveries, rotates the secret and deletes it", async () => {
    const page = await open();
    const errors = watchErrors(page);
    await signIn(page, base(), setting.gateway.adminToken);
    await page.getByRole("link", { name: "Webhooks", exact: true }).click();
    await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
    expect(await page.title()).toBe("Webhooks · keygate");
    await expectAccessible(page, "webhooks, empty");

    const name = receiver();
    await page.getByLabel("URL").fill(hook(name));
    await page.getByLabel("key.revoked").check();
    await page.getByLabel("webhook.test").check();
    await page.getByLabel("Description").fill("Support desk");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const secretField = page.getByLabel("Signing secret", { exact: true });
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByText("Copied to the clipboard.").waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await expectAccessible(page, "webhooks, secret revealed");
    await screenshot(page, "webhooks");
    await configure(name, [secret]);

    const row = page.getByRole("row", { name: new RegExp(name) });
    await row.waitFor();
    expect(await row.innerText()).toContain("key.revoked webhook.test");
    await page.getByRole("link", { name: "View the endpoint" }).click();
    await page.getByRole("heading", { name: /Endpoint/, level: 1 }).waitFor();
    expect(await page.title()).toBe("Webhook endpoint · keygate");
    expect(await page.getByText(secret).count()).toBe(0);

    await page.getByRole("button", { name: "Send test event" }).click();
    await page.getByText(/^Delivered: the endpoint answered 204 in \d+ ms\.$/).waitFor();
    const [delivery] = await received(name);
    expect(delivery.verified).toEqual([true]);
    expect(JSON.parse(delivery.body)).toMatchObject({ type: "webhook.test" });
    const deliveries = page.locator("section", { has: page.getByRole("heading", { name: "Deliveries" }) });
    await expect.poll(async () => (await deliveries.getByRole("row").allInnerTexts()).slice(1).join("\n"), POLL).toContain("webhook.test");
    await expectAccessible(page, "endpoint with a delivery");
    await screenshot(page, "webhook");

    // a failing receiver: the attempt says why, and the Result filter finds it
    await configure(name, [secret], "status:500");
    await page.getByRole("button", { name: "Send test event" }).click();
    await page.getByText("Not delivered: answered HTTP 500.").waitFor();
    await page.getByLabel("Result").selectOption("failed");
    await expect.poll(async () => (await deliveries.getByRole("row").allInnerTexts()).slice(1), POLL).toEqual([expect.stringContaining("answered HTTP 500")]);
    expect(page.url()).toContain("status=failed");

    // failing since the last attempt; disabled, then enabled again with a clean slate
    await page.getByText("failing", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Disable" }).click();
    await page.getByText("disabled", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Enable" }).click();
    await page.getByText("enabled", { exact: true }).waitFor();

    await page.getByRole("button", { name: "Rotate secret" }).click();
    const rotated = await page.getByLabel("Signing secret", { exact: true }).inputValue();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);

    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Delete this endpoint?" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Delete endpoint" }).click();
    await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
    await expect.poll(async () => page.getByRole("row", { name: new RegExp(name) }).count(), POLL).toBe(0);
    expect(errors.filter((e) => !e.includes("status of 4"))).toEqual([]);
  });

  it("shows keygate's problem beside the URL an endpoint may not have", async () => {
    const page = await open();
    await signIn(page, base(), setting.gateway.adminToken, "/admin/ui/webhooks");
    await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
    await page.getByLabel("URL").fill("http://example.com/hooks");
    await page.getByLabel("Every event").check();
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByRole("alert").waitFor();
    expect(await page.locator("#url-problem").innerText()).toMatch(/https:/);
    expect(await page.getByLabel("URL").getAttribute("aria-describedby")).toContain("url-problem");
    await page.getByLabel("URL").fill(hook(receiver()));
    await page.getByLabel("Every event").uncheck();
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByText("Choose at least one event, or every event.").waitFor();
    await expectAccessible(page, "webhooks, problems shown");
  });

  it("is usable by keyboard alone, focus always visible", async () => {
    const page = await open();
    await page.goto(`${base()}/admin/ui/webhooks`);
    await expect.poll(async () => (await focused(page)).label, POLL).toBe("Admin token");
    await page.keyboard.type(setting.gateway.adminToken);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
    const name = receiver();
    await tabTo(page, "URL");
    await page.keyboard.type(hook(name));
    await tabTo(page, "Every event");
    await page.keyboard.press("Space");
    await tabTo(page, "Add endpoint");
    await page.keyboard.press("Enter");
    await page.getByLabel("Signing secret", { exact: true }).waitFor();
    const secret = await page.getByLabel("Signing secret", { exact: true }).inputValue();
    await configure(name, [secret]);
    await tabTo(page, "View the endpoint");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: /Endpoint/, level: 1 }).waitFor();
    await tabTo(page, "Send test event");
    await page.keyboard.press("Enter");
    await page.getByText(/^Delivered: /).waitFor();
    await tabTo(page, "Delete");
    await page.keyboard.press("Enter");
    await page.getByRole("dialog", { name: "Delete this endpoint?" }).waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    await expect.poll(async () => (await focused(page)).label, POLL).toBe("Delete");
    expect((await received(name)).map((d) => d.verified)).toEqual([[true]]);
  });
});

describe("the Security page", () => {
  it("lists security events, filters them by code and address, and passes the accessibility check", async () => {
    const ip = "192.0.2.99";
    const malformed = `kg_live_${"A".repeat(49)}`;
    for (let i = 0; i < 3; i++) await fetch(`${base()}/hello`, { headers: { Authorization: `Bearer ${malformed}`, "CF-Connecting-IP": ip, "User-Agent": "scanner/9" } });
    await fetch(`${base()}/admin/keys`, { headers: { Authorization: "Bearer not-the-token", "CF-Connecting-IP": ip } });
    const page = await open();
    await signIn(page, base(), setting.gateway.adminToken);
    await page.getByRole("link", { name: "Security", exact: true }).click();
    await page.getByRole("heading", { name: "Security events", level: 1 }).waitFor();
    expect(await page.title()).toBe("Security events · keygate");
    await page.getByLabel("Client IP").fill(ip);
    await page.getByLabel("Client IP").press("Enter");
    const rows = () => page.getByRole("row").allInnerTexts();
    await expect.poll(async () => (await rows()).length, POLL).toBe(5);
    expect((await rows()).slice(1).every((r) => r.includes(ip))).toBe(true);
    await page.getByLabel("Code").selectOption("MALFORMED_KEY");
    await expect.poll(async () => (await rows()).length, POLL).toBe(4);
    const first = (await rows())[1];
    expect(first).toContain("MALFORMED_KEY");
    expect(first).toContain(`${malformed.slice(0, 12)}…`);
    expect(first).not.toContain(malformed.slice(0, 13));
    expect(first).toContain("GET /hello");
    expect(page.url()).toMatch(/code=MALFORMED_KEY/);
    await expectAccessible(page, "security events");
    await screenshot(page, "security");
  });
});

describe("a key the abuse rule suspended", () => {
  it("shows as suspended with when it ends, and Lift suspension lifts it", async () => {
    const { body: key } = await setting.api<{ id: string; key: string }>("/keys", { method: "POST", json: { name: "Flooder", ownerId: "acct_flood" } });
    // as the admission objects ask for it (src/events/notice.ts, requestSuspension)
    await setting.gateway.enqueue({ kind: "suspend", suspension: { keyId: key.id, until: Date.now() + 600_000, at: Date.now(), policy: { rateLimitedPerMinute: 10, suspendSeconds: 600 }, refusals: 11 } });
    await expect.poll(async () => (await setting.api<{ suspendedUntil: string | null }>(`/keys/${key.id}`)).body.suspendedUntil, POLL).not.toBeNull();
    expect((await setting.call(key.key)).status).toBe(429);
    const page = await open();
    await signIn(page, base(), setting.gateway.adminToken, `/admin/ui/keys/${key.id}`);
    await page.getByRole("heading", { name: "Flooder", level: 1 }).waitFor();
    await page.locator(".badge", { hasText: /^suspended$/ }).waitFor();
    const details = page.locator("dl.details");
    expect(await details.innerText()).toMatch(/Suspended until\s+in (9|10) minutes/);
    await expectAccessible(page, "suspended key");
    await page.getByRole("button", { name: "Lift suspension" }).click();
    await page.locator(".badge", { hasText: "active" }).waitFor();
    expect(await details.innerText()).not.toContain("Suspended until");
    expect(await page.getByRole("button", { name: "Lift suspension" }).count()).toBe(0);
    expect((await setting.api<{ suspendedUntil: string | null }>(`/keys/${key.id}`)).body.suspendedUntil).toBeNull();
    expect((await setting.call(key.key)).status).toBe(200);
  });
});

describe("a read-only admin key", () => {
  it("sees endpoints, deliveries and security events, and no control that changes anything", async () => {
    const { body: endpoint } = await setting.api<{ id: string }>("/webhooks", { method: "POST", json: { url: hook(receiver()), events: ["*"] } });
    const { body: reader } = await setting.api<{ key: string }>("/keys", { method: "POST", json: { name: "Auditor", ownerId: "acct_ro", scopes: ["admin:read"] } });
    const page = await open();
    await signIn(page, base(), reader.key, "/admin/ui/webhooks");
    await page.getByRole("heading", { name: "Endpoints" }).waitFor();
    await page.getByRole("link", { name: new RegExp("/hooks/") }).first().waitFor();
    expect(await page.getByRole("heading", { name: "Add an endpoint" }).count()).toBe(0);
    expect(await page.locator("main input, main textarea, main select").count()).toBe(0);
    await page.goto(`${base()}/admin/ui/webhooks/${endpoint.id}`);
    await page.getByRole("heading", { name: "Deliveries" }).waitFor();
    const buttons = (await page.getByRole("button").allInnerTexts()).map((t) => t.trim()).sort();
    expect(buttons).toEqual(["Refresh", "Sign out"]);
    await expectAccessible(page, "endpoint, read-only");
  });
});

describe("at 360 px", () => {
  it("the webhooks, endpoint and security pages fit without sideways scrolling and pass the accessibility check", async () => {
    const name = receiver();
    const { body: endpoint } = await setting.api<{ id: string; secret: string }>("/webhooks", {
      method: "POST",
      json: { url: `${hook(name)}/with/a/rather/long/path/that/must/wrap/on/a/phone`, events: ["key.created", "key.revoked", "key.leaked"], description: "Phone check" },
    });
    await configure(`${name}`, [endpoint.secret]);
    await setting.api(`/webhooks/${endpoint.id}/test`, { method: "POST" });
    const page = await open(PHONE);
    await signIn(page, base(), setting.gateway.adminToken);
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    for (const [path, heading] of [
      ["/admin/ui/webhooks", "Webhooks"],
      [`/admin/ui/webhooks/${endpoint.id}`, /Endpoint/],
      ["/admin/ui/security", "Security events"],
    ] as const) {
      await page.goto(`${base()}${path}`);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      await page.waitForLoadState("networkidle");
      expect(await fits(), path).toBe(true);
      await expectAccessible(page, `${path} at 360 px`);
    }
  });
});
