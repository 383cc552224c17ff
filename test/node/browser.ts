/**
 * Real Chromium for the dashboard tests: Debian's `chromium` package driven by playwright-core
 * (never a browser a tool downloads), an axe-core check loaded from node_modules, and a
 * screenshot of every page. Each run writes them to test-results/screenshots/ (not tracked), so
 * `npm test` leaves the work tree clean; `npm run screenshots` writes the ones docs/screenshots/
 * keeps.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { expect } from "vitest";
import { ROOT } from "./cli-support.ts";

export const CHROMIUM = process.env.KEYGATE_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.resolve(ROOT, process.env.KEYGATE_SCREENSHOTS ?? "test-results/screenshots");

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** Chromium headless (playwright gives each launch a fresh profile); fails, never skips, when the package is missing. */
export async function launchChromium(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}. The dashboard tests need Debian's package: ` +
        "apt-get update && apt-get install -y chromium (.ci/run does this), or set KEYGATE_CHROMIUM to another Chromium.",
    );
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 360, height: 740 };

/** A context whose pages may use the clipboard, and that records what the console and CSP reported. */
export async function newContext(browser: Browser, origin: string, viewport = DESKTOP): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport, reducedMotion: "reduce" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  return context;
}

/** Every console error and refused request of a page, to assert there were none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
  page.on("pageerror", (err) => errors.push(String(err)));
  page.on("requestfailed", (request) => errors.push(`failed: ${request.url()}`));
  return errors;
}

const AXE = readFileSync(path.join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * axe-core on the page as it is now: no serious or critical violation. axe's script is
 * added through the DevTools protocol (not a <script> tag), so the page's policy still holds.
 */
export async function expectAccessible(page: Page, label: string) {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  const grave = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(grave.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), label).toEqual([]);
}

/** A screenshot of the page as it is now, small enough to commit to docs/screenshots/. */
export async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: false });
}
