import type { Context, Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../context";
import { page as pageOf, securityHeaders, serveAsset, type PageParts } from "../api/pages";

/**
 * The dashboard (`/ui`), the API reference (`/docs`) and their assets (`/assets/...`): public
 * pages that hold no data, under src/api/pages.ts's policy. The data comes from the admin API,
 * with the bearer token the dashboard keeps in sessionStorage (or, behind Cloudflare Access,
 * the identity Access vouches for).
 */
const page = (c: Context<AppEnv>, adminPath: string, options: Pick<PageParts, "title" | "styles" | "scripts" | "body">) =>
  pageOf(c, { ...options, metas: { "keygate-admin-path": adminPath, ...accessHint(c) }, assets: `${adminPath}/assets`, icon: "ui/favicon.svg" });

/**
 * Behind Cloudflare Access (ADMIN_ACCESS set, and the page itself came with Access's assertion),
 * the dashboard asks who the operator is without a token and signs in by itself. Only a hint:
 * the API checks the assertion on every call. Elsewhere the dashboard asks for a token at once.
 */
const accessHint = (c: Context<AppEnv>): Record<string, string> =>
  c.get("services").config.adminAccess && c.req.header("Cf-Access-Jwt-Assertion") ? { "keygate-access": "on" } : {};

/** Registers the pages and assets on the admin app, ahead of admin auth: they hold no data. */
export function registerPages(app: Hono<AppEnv>, adminPath: string): void {
  app.use("/ui", securityHeaders());
  app.use("/ui/*", securityHeaders());
  app.use("/docs", securityHeaders());
  app.use("/assets/*", securityHeaders());

  // Every dashboard path answers the same page; the script shows what the path names.
  const dashboard = (c: Context<AppEnv>) =>
    page(c, adminPath, {
      title: "keygate",
      styles: ["ui/app.css"],
      scripts: ["ui/app.js"],
      body: html`<div id="app"><p class="loading">Loading the keygate dashboard…</p></div>
    <noscript><p>The keygate dashboard needs JavaScript.</p></noscript>`,
    });
  app.get("/ui", dashboard);
  app.get("/ui/*", dashboard);

  app.get("/docs", (c) =>
    page(c, adminPath, {
      title: "keygate admin API",
      styles: ["docs/scalar.css"],
      scripts: ["docs/scalar.js", "docs/init.js"],
      body: html`<div id="app" data-url="${adminPath}/openapi.json"></div>`,
    }),
  );

  app.get("/assets/:file{.+}", (c) => serveAsset(c, `/${c.req.param("file")}`));
}
