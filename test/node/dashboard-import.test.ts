import { createHash, randomBytes } from "node:crypto";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DESKTOP, expectAccessible, newContext, watchErrors } from "./browser.ts";
import { signIn, useDashboard } from "./dashboard-support.ts";

/**
 * Imported keys in the dashboard and the portal (DESIGN.md, "Importing keys"): a key imported by
 * its hash alone has no start, and every page that shows a start says so instead of showing
 * nothing; a key's details say it was imported.
 */
const setting = useDashboard({ IMPORTED_KEY_PREFIXES: JSON.stringify(["sk_live_"]) });
const contexts: BrowserContext[] = [];
const ownerId = `acct_imported_${Date.now().toString(36)}`;
const plain = `sk_live_${randomBytes(18).toString("hex")}`;
let byKey: string;
let byHash: string;

beforeAll(async () => {
  const hashed = `sk_live_${randomBytes(18).toString("hex")}`;
  const answer = await setting.api<{ results: { status: string; id: string }[] }>("/keys/import", {
    method: "POST",
    json: {
      keys: [
        { name: "Legacy plain", ownerId, key: plain },
        { name: "Legacy hashed", ownerId, hash: `sha256:${createHash("sha256").update(hashed).digest("hex")}` },
      ],
    },
  });
  expect(answer.status).toBe(200);
  expect(answer.body.results.map((r) => r.status)).toEqual(["created", "created"]);
  [byKey, byHash] = answer.body.results.map((r) => r.id);
});

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
});

async function open(): Promise<Page> {
  const context = await newContext(setting.browser.browser, setting.gateway.url, DESKTOP);
  contexts.push(context);
  return context.newPage();
}

const row = (page: Page, name: string) => page.getByRole("row").filter({ has: page.getByText(name, { exact: true }) });

describe("imported keys in the dashboard", () => {
  it("the keys page shows the start of a key imported by its plaintext, and (hash only) for one imported by its hash", async () => {
    const page = await open();
    const errors = watchErrors(page);
    await signIn(page, setting.gateway.url, setting.gateway.adminToken, `/admin/ui?q=${ownerId}`);
    await row(page, "Legacy hashed").waitFor();
    expect(await row(page, "Legacy hashed").getByRole("cell").first().innerText()).toBe("(hash only)");
    expect(await row(page, "Legacy plain").getByRole("cell").first().innerText()).toBe(plain.slice(0, 12));
    await expectAccessible(page, "keys with an imported key");
    expect(errors).toEqual([]);
  });

  it("a hash-imported key's page names it by its id, says it was imported, and the revoke confirmation names it too", async () => {
    const page = await open();
    await signIn(page, setting.gateway.url, setting.gateway.adminToken, `/admin/ui/keys/${byHash}`);
    await page.getByRole("heading", { name: "Legacy hashed", level: 1 }).waitFor();
    const crumbs = await page.locator(".crumbs").innerText();
    expect(crumbs).toContain(byHash);
    expect(crumbs).not.toContain("null");
    const details = await page.locator("main").innerText();
    expect(details).toMatch(/Start\s+\(hash only\)/);
    expect(details).toMatch(/Imported\s+yes/);
    await page.getByRole("button", { name: "Revoke" }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.innerText()).toContain(`Requests made with the key ${byHash} (owner ${ownerId})`);
    await expectAccessible(page, "revoke an imported key");
    expect(byKey).toMatch(/^key_/);
  });
});

describe("imported keys in the portal", () => {
  it("the owner's keys show (hash only) for a key imported by its hash", async () => {
    const link = await setting.api<{ url: string }>("/portal/sessions", { method: "POST", json: { ownerId } });
    expect(link.status).toBe(201);
    const page = await open();
    await page.goto(link.body.url);
    await row(page, "Legacy hashed").waitFor();
    expect(await row(page, "Legacy hashed").getByRole("cell").first().innerText()).toBe("(hash only)");
    expect(await row(page, "Legacy plain").getByRole("cell").first().innerText()).toBe(plain.slice(0, 12));
    await expectAccessible(page, "portal keys with an imported key");
  });
});
