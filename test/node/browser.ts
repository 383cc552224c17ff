/**
 * Real Chromium for the dashboard tests, driven by playwright-core (which never downloads a
 * browser), an axe-core check loaded from node_modules, and a screenshot of every page. Each run
 * writes them to test-results/screenshots/ (not tracked), so `npm test` leaves the work tree
 * clean; `npm run screenshots` writes the ones docs/screenshots/ keeps.
 *
 * The browser, first found first: `KEYGATE_CHROMIUM`; a Chrome or Chromium installed where
 * packages put them (Debian's `chromium`, which CI installs, before the rest); on Linux x64,
 * the one the `@sparticuz/chromium` dev dependency ships inside its npm tarball.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { expect } from "vitest";
import { ROOT } from "./cli-support.ts";

export const SCREENSHOTS = path.resolve(ROOT, process.env.KEYGATE_SCREENSHOTS ?? "test-results/screenshots");

/** Where a Chrome or Chromium is installed by the usual packages, in the order they are preferred. */
export const INSTALLED: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: [
    "/usr/bin/chromium", // Debian's and Arch's chromium; .ci/run installs Debian's
    "/usr/bin/chromium-browser", // Fedora's and Alpine's
    "/usr/bin/google-chrome-stable",
    "/usr/bin/google-chrome",
    "/opt/google/chrome/chrome",
  ],
  darwin: ["/Applications/Google Chrome.app/Contents/MacOS/Google Chrome", "/Applications/Chromium.app/Contents/MacOS/Chromium"],
};

export interface FoundChromium {
  executablePath: string;
  /** where it came from, for messages: "KEYGATE_CHROMIUM", "installed" or "@sparticuz/chromium" */
  source: string;
  /** what the browser's process needs in its environment beyond ours */
  env: Record<string, string>;
}

export interface Machine {
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  arch: string;
  /** the places to look for an installed browser */
  installed: string[];
}

const THIS_MACHINE: Machine = { env: process.env, platform: process.platform, arch: process.arch, installed: INSTALLED[process.platform] ?? [] };

/** The browser the dashboard tests drive; throws, saying what it looked for, when there is none. */
export async function findChromium(machine: Machine = THIS_MACHINE): Promise<FoundChromium> {
  const { env, platform, arch } = machine;
  if (env.KEYGATE_CHROMIUM) {
    if (!existsSync(env.KEYGATE_CHROMIUM)) throw new Error(`KEYGATE_CHROMIUM names ${env.KEYGATE_CHROMIUM}, which does not exist.`);
    return { executablePath: env.KEYGATE_CHROMIUM, source: "KEYGATE_CHROMIUM", env: {} };
  }
  const installed = machine.installed.find((file) => existsSync(file));
  if (installed) return { executablePath: installed, source: "installed", env: {} };
  if (platform === "linux" && arch === "x64") return packagedChromium(env);
  throw new Error(
    `No Chrome or Chromium found for the dashboard tests (looked at ${machine.installed.join(", ") || "no usual place on this platform"}; ` +
      "the one @sparticuz/chromium ships runs on Linux x64 only). Install Chrome or Chromium, or set KEYGATE_CHROMIUM to one.",
  );
}

/**
 * The Chromium (chrome-headless-shell) inside @sparticuz/chromium's npm tarball. Called with no
 * argument, its executablePath() only Brotli-decompresses the package's own bin/chromium.br
 * (and the fonts it ships) into the temporary directory, once; it downloads only when handed a
 * URL, which keygate never does. The browser needs glibc and the NSS libraries: where the
 * machine lacks NSS, the copies the package ships for Amazon Linux 2023 (bin/al2023.tar.br,
 * glibc 2.34 or newer) are unpacked beside it and put first on its LD_LIBRARY_PATH.
 */
async function packagedChromium(machineEnv: NodeJS.ProcessEnv): Promise<FoundChromium> {
  const { default: Chromium, inflate } = await import("@sparticuz/chromium");
  Chromium.setGraphicsMode = false; // the tests run with --disable-gpu: SwiftShader is not unpacked
  const executablePath = mine(await Chromium.executablePath());
  const env: Record<string, string> = {};
  let version = runs(executablePath, machineEnv, env);
  if (/error while loading shared libraries/.test(version.stderr)) {
    const bin = path.join(path.dirname(createRequire(import.meta.url).resolve("@sparticuz/chromium")), "../bin");
    const libs = path.join(mine(await inflate(path.join(bin, "al2023.tar.br"))), "lib");
    env.LD_LIBRARY_PATH = [libs, machineEnv.LD_LIBRARY_PATH].filter(Boolean).join(":");
    version = runs(executablePath, machineEnv, env);
  }
  if (version.status !== 0) {
    throw new Error(
      `${executablePath} (unpacked from @sparticuz/chromium) does not run: ${(version.stderr || String(version.error ?? "")).trim()}. ` +
        "If it was left half unpacked, delete it; or set KEYGATE_CHROMIUM to an installed Chrome or Chromium.",
    );
  }
  // A machine with no fontconfig of its own gets the fonts the package unpacked beside it.
  const fonts = path.join(tmpdir(), "fonts");
  if (!machineEnv.FONTCONFIG_PATH && !existsSync("/etc/fonts/fonts.conf") && existsSync(path.join(fonts, "fonts.conf"))) env.FONTCONFIG_PATH = fonts;
  return { executablePath, source: "@sparticuz/chromium", env };
}

/** The package reuses whatever is already at the paths it unpacks to: use only what this user (or root) made and no one else may change. */
function mine(file: string): string {
  const stat = statSync(file);
  if ((stat.uid !== (process.getuid?.() ?? 0) && stat.uid !== 0) || (stat.mode & 0o022) !== 0) {
    throw new Error(`${file} (unpacked from @sparticuz/chromium) belongs to someone else, or others may change it: delete it, or set KEYGATE_CHROMIUM.`);
  }
  return file;
}

function runs(executablePath: string, machineEnv: NodeJS.ProcessEnv, env: Record<string, string>) {
  const run = spawnSync(executablePath, ["--version"], { encoding: "utf8", timeout: 60_000, env: { ...machineEnv, ...env } });
  return { status: run.status, stderr: run.stderr ?? "", error: run.error };
}

export interface TestBrowser {
  browser: Browser;
  /** the browser found, and where it came from */
  found: FoundChromium;
  close(): Promise<void>;
}

/**
 * Chromium headless (playwright gives each launch a fresh profile); fails, never skips, when
 * there is none. The flags are the same for every browser found. None of the flags
 * @sparticuz/chromium suggests for serverless hosts is used: --disable-web-security would turn
 * off the same-origin policy a real operator's browser keeps, --single-process and --no-zygote
 * work around a serverless sandbox's limits, and its browser runs here without them.
 */
export async function launchChromium(found?: FoundChromium): Promise<TestBrowser> {
  found ??= await findChromium();
  const browser = await chromium.launch({
    executablePath: found.executablePath,
    headless: true,
    env: { ...process.env, ...found.env },
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
    found,
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
