import { describe, expect, it } from "vitest";
import { send } from "./helpers";

const POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

describe("the dashboard and API reference pages", () => {
  it("answer every dashboard path with the same page, without a token, under the policy", async () => {
    for (const path of ["/admin/ui", "/admin/ui/", "/admin/ui/keys/new", "/admin/ui/keys/key_01JD6T3W4Y8N2B5C7E9G1H3K5M", "/admin/ui/audit?action=key.revoke"]) {
      const res = await send(path);
      const html = await res.text();
      expect(res.status, path).toBe(200);
      expect(res.headers.get("Content-Security-Policy"), path).toBe(POLICY);
      expect(res.headers.get("Cache-Control"), path).toBe("no-store");
      expect(html, path).toContain('<meta name="keygate-admin-path" content="/admin" />');
      expect(html, path).toContain('<script src="/admin/assets/ui/app.js" defer></script>');
      expect(html, path).toContain('<link rel="stylesheet" href="/admin/assets/ui/app.css" />');
    }
  });

  it("are found on the canonical path, as the admin API is, never passed to the gateway", async () => {
    for (const path of ["//admin/ui", "/ADMIN/ui/audit", "/x/../admin/docs"]) {
      const res = await send(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("Content-Type"), path).toMatch(/^text\/html/);
    }
  });

  it("the API reference loads its script and styles from the worker, and its document from /admin/openapi.json", async () => {
    const res = await send("/admin/docs");
    const html = await res.text();
    expect(res.headers.get("Content-Security-Policy")).toBe(POLICY);
    expect(html).toContain('<div id="app" data-url="/admin/openapi.json"></div>');
    expect([...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1])).toEqual(["/admin/assets/docs/scalar.js", "/admin/assets/docs/init.js"]);
    expect(html).not.toMatch(/https?:\/\//);
  });
});
