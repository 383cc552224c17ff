import type { Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { html } from "hono/html";
import type { AppEnv } from "../context";
import { ProblemError } from "../errors";
import { endPortalSession, exchangeCode } from "../identity/portal-sessions";
import { page, securityHeaders, serveAsset } from "../api/pages";
import { secureCookies, SESSION_COOKIE } from "./auth";

/**
 * The portal's pages (`PORTAL_PATH/`), their assets, and `PORTAL_PATH/start`, where a portal link
 * lands. The pages hold no data: their script (portal/, built into the static assets under
 * `portal/`) reads the portal API with the session cookie.
 */
export function registerPortalPages(app: Hono<AppEnv>, portalPath: string): void {
  app.use("/start", securityHeaders());
  app.use("/assets/*", securityHeaders());

  const shell = (c: Context<AppEnv>, status: 200 | 401 = 200) => {
    const title = c.get("services").config.portalTitle;
    return page(c, {
      title,
      metas: { "keygate-portal-path": portalPath, "keygate-portal-title": title },
      assets: `${portalPath}/assets`,
      icon: "portal/favicon.svg",
      styles: ["portal/app.css"],
      scripts: ["portal/app.js"],
      status,
      body: html`<div id="app"><p class="loading">Loading…</p></div>
    <noscript><p>This page needs JavaScript.</p></noscript>`,
    });
  };

  /**
   * A portal link: a GET spends its one-use code, sets the session cookie and sends the browser on to
   * the portal, so the code is in no address the browser keeps (history, bookmarks, Referer). A
   * code that is unknown, spent or expired starts nothing: 401, and a browser gets the portal's
   * signed-out page.
   */
  app.get("/start", async (c) => {
    // A HEAD (a link checker, a mail scanner's preview) learns the link exists and spends nothing.
    if (c.req.method === "HEAD") return shell(c);
    const now = Date.now();
    const exchanged = await exchangeCode(c.env.DB, c.req.query("code") ?? "", now);
    if (!exchanged) {
      if ((c.req.header("Accept") ?? "").includes("text/html")) return shell(c, 401);
      throw new ProblemError("UNAUTHORIZED", "This portal link has expired or was already used: ask for a new one.");
    }
    // A browser that held another session (another owner's, perhaps) ends it: one session at a time.
    const previous = getCookie(c, SESSION_COOKIE);
    if (previous) await endPortalSession(c.env.DB, previous, now);
    setCookie(c, SESSION_COOKIE, exchanged.sessionId, {
      path: portalPath,
      httpOnly: true,
      secure: secureCookies(c),
      sameSite: "Strict",
      maxAge: Math.max(1, Math.floor((exchanged.session.expiresAt - now) / 1000)),
    });
    c.header("Referrer-Policy", "no-referrer");
    return c.redirect(`${portalPath}/`, 303);
  });

  app.get("/assets/:file{portal/.+}", (c) => serveAsset(c, `/${c.req.param("file")}`));
  app.get("/assets/*", () => {
    throw new ProblemError("NOT_FOUND", "No such asset.");
  });

  // Every page path answers the same page; the script shows what the path names.
  app.use("/", securityHeaders());
  app.use("/*", securityHeaders());
  app.get("/", (c) => shell(c));
  app.get("/*", (c) => shell(c));
}
