import type { Context, MiddlewareHandler } from "hono";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";

/**
 * Pages keygate serves itself (the dashboard, the API reference, the portal): they hold no data,
 * run no inline script and load nothing from elsewhere. Every script, style and icon comes from
 * the worker's static assets (scripts/build-assets.mjs writes them); the data comes from the
 * admin or portal API.
 */
export const CONTENT_SECURITY_POLICY = [
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

export const securityHeaders = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  await next();
  c.res.headers.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  c.res.headers.set("X-Content-Type-Options", "nosniff");
  c.res.headers.set("Referrer-Policy", "no-referrer");
};

export interface PageParts {
  title: string;
  /** `<meta name content>` pairs the page's script reads (the paths it lives under) */
  metas: Record<string, string>;
  /** where the page's files are served: `${path}/assets` */
  assets: string;
  icon: string;
  styles: string[];
  scripts: string[];
  body: HtmlEscapedString | Promise<HtmlEscapedString>;
  status?: 200 | 401;
}

/** A page's HTML: its stylesheets, then its scripts, all from its assets path. */
export function page(c: Context<AppEnv>, options: PageParts) {
  const asset = (file: string) => `${options.assets}/${file}`;
  const document = html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    ${Object.entries(options.metas).map(([name, content]) => html`<meta name="${name}" content="${content}" />`)}
    <title>${options.title}</title>
    <link rel="icon" href="${asset(options.icon)}" type="image/svg+xml" />
    ${options.styles.map((file) => html`<link rel="stylesheet" href="${asset(file)}" />`)}
    ${options.scripts.map((file) => html`<script src="${asset(file)}" defer></script>`)}
  </head>
  <body>
    ${options.body}
  </body>
</html>`;
  return c.html(document, options.status ?? 200, { "Cache-Control": "no-store" });
}

/** A static asset from the worker's ASSETS binding, `no-cache` (the names carry no hash; the ETag makes a check a 304). */
export async function serveAsset(c: Context<AppEnv>, file: string): Promise<Response> {
  const assets = c.env.ASSETS as Fetcher | undefined;
  if (!assets) throw new ProblemError("NOT_FOUND", "This build of keygate has no static assets.");
  const res = await assets.fetch(new Request(new URL(file, "https://assets.invalid"), { method: c.req.method, headers: c.req.raw.headers }));
  if (res.status === 404) throw new ProblemError("NOT_FOUND", `No asset ${file}.`);
  const answer = new Response(res.body, res);
  answer.headers.set("Cache-Control", "no-cache");
  return answer;
}
