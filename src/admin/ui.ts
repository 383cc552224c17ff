import type { Context, Hono, MiddlewareHandler } from "hono";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";

/**
 * The dashboard (`/ui`), the API reference (`/docs`) and their assets (`/assets/...`): public
 * pages that hold no data. Every script, style and font comes from the worker's static assets
 * (scripts/build-assets.mjs writes them), so both pages work offline, under a policy that runs
 * no inline script and loads nothing from elsewhere. The data comes from the admin API, with
 * the bearer token the dashboard keeps in sessionStorage.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const securityHeaders = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  await next();
  c.res.headers.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  c.res.headers.set("X-Content-Type-Options", "nosniff");
  c.res.headers.set("Referrer-Policy", "no-referrer");
};

interface PageParts {
  title: string;
  styles: string[];
  scripts: string[];
  body: HtmlEscapedString | Promise<HtmlEscapedString>;
}

/** A page's HTML: its stylesheets, then its scripts, all from `/assets`; the admin path travels in a meta tag. */
function page(c: Context<AppEnv>, adminPath: string, options: PageParts) {
  const asset = (file: string) => `${adminPath}/assets/${file}`;
  const document = html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="keygate-admin-path" content="${adminPath}" />
    <title>${options.title}</title>
    <link rel="icon" href="${asset("ui/favicon.svg")}" type="image/svg+xml" />
    ${options.styles.map((file) => html`<link rel="stylesheet" href="${asset(file)}" />`)}
    ${options.scripts.map((file) => html`<script src="${asset(file)}" defer></script>`)}
  </head>
  <body>
    ${options.body}
  </body>
</html>`;
  return c.html(document, 200, { "Cache-Control": "no-store" });
}

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

  app.get("/assets/:file{.+}", async (c) => {
    const assets = c.env.ASSETS as Fetcher | undefined;
    if (!assets) throw new ProblemError("NOT_FOUND", "This build of keygate has no static assets.");
    const file = `/${c.req.param("file")}`;
    const res = await assets.fetch(new Request(new URL(file, "https://assets.invalid"), { method: c.req.method, headers: c.req.raw.headers }));
    if (res.status === 404) throw new ProblemError("NOT_FOUND", `No asset ${file}.`);
    const answer = new Response(res.body, res);
    // Not content-hashed: browsers ask again each time, and the ETag makes that a 304.
    answer.headers.set("Cache-Control", "no-cache");
    return answer;
  });
}
