/**
 * Where the dashboard tests find their browser (browser.ts): KEYGATE_CHROMIUM first, then an
 * installed Chrome or Chromium, then, on Linux x64, the one @sparticuz/chromium ships in its
 * npm tarball. CI installs Debian's chromium, which wins there; the packaged one is launched
 * here too, so it keeps working on a machine that has no browser.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { findChromium, INSTALLED, launchChromium, type Machine } from "./browser.ts";

const linux: Machine = { env: {}, platform: "linux", arch: "x64", installed: [] };

describe("the dashboard tests' browser", () => {
  it("is KEYGATE_CHROMIUM when set, before any installed browser", async () => {
    const found = await findChromium({ ...linux, env: { KEYGATE_CHROMIUM: process.execPath }, installed: [process.argv0, process.execPath] });
    expect(found).toMatchObject({ executablePath: process.execPath, source: "KEYGATE_CHROMIUM" });
  });

  it("refuses a KEYGATE_CHROMIUM that does not exist, rather than looking elsewhere", async () => {
    await expect(findChromium({ ...linux, env: { KEYGATE_CHROMIUM: "/nonexistent/chromium" }, installed: [process.execPath] })).rejects.toThrow(
      "KEYGATE_CHROMIUM names /nonexistent/chromium, which does not exist.",
    );
  });

  it("is the first installed one that exists, Debian's chromium first", async () => {
    expect(INSTALLED.linux?.[0]).toBe("/usr/bin/chromium");
    const found = await findChromium({ ...linux, installed: ["/nonexistent/chromium", process.execPath] });
    expect(found).toMatchObject({ executablePath: process.execPath, source: "installed" });
  });

  it("says what it looked for where nothing is installed and no package fits", async () => {
    const macOS: Machine = { env: {}, platform: "darwin", arch: "arm64", installed: ["/nonexistent/Google Chrome"] };
    await expect(findChromium(macOS)).rejects.toThrow(/looked at \/nonexistent\/Google Chrome; .*Linux x64 only.*KEYGATE_CHROMIUM/);
  });

  it.runIf(process.platform === "linux" && process.arch === "x64")(
    "on Linux x64 with none installed, is the package's Chromium, with the policies the dashboard tests rely on in force",
    { timeout: 120_000 },
    async () => {
      const found = await findChromium(linux);
      expect(found.source).toBe("@sparticuz/chromium");
      const server = http.createServer((_req, res) => res.end(`<p id="p">static</p><script>document.getElementById("p").textContent = "ran"</script>`));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const chromium = await launchChromium(found);
      try {
        expect(chromium.browser.version()).toMatch(/^\d+\./);
        const page = await chromium.browser.newPage();
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
        await page.goto(url);
        expect(await page.textContent("#p")).toBe("ran");
        // The same-origin policy holds (the flags the package suggests for serverless hosts
        // include --disable-web-security, which would let this read succeed)...
        const crossOrigin = url.replace("127.0.0.1", "localhost");
        const read = await page.evaluate(async (target) => fetch(target).then((r) => r.text(), (err: unknown) => `refused: ${String(err)}`), crossOrigin);
        expect(read).toMatch(/^refused: TypeError/);
        // ...and so does a page's Content-Security-Policy.
        await page.setContent(`<meta http-equiv="Content-Security-Policy" content="script-src 'none'"><p id="p">static</p><script>document.getElementById("p").textContent = "ran"</script>`);
        expect(await page.textContent("#p")).toBe("static");
      } finally {
        await chromium.close();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );
});
