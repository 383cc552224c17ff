import { expect } from "vitest";
import { admin, ADMIN_TOKEN, BASE, send } from "./helpers";
import { body } from "./admin-helpers";

/** The portal's session cookie, as keygate names it. */
export const COOKIE = "keygate_portal";

export interface Link {
  url: string;
  expiresAt: string;
}

/** How a test reaches the worker: `send` (the test config), or a `workerWith(...)` fetch. */
export type Via = (path: string, init?: RequestInit) => Promise<Response>;

/** A portal link for `ownerId`, minted with ADMIN_TOKEN (or `token`). */
export async function portalLink(ownerId: string, extra: Record<string, unknown> = {}, token?: string, via?: Via): Promise<Link> {
  if (via) {
    const res = await via("/admin/portal/sessions", {
      method: "POST",
      headers: { Authorization: `Bearer ${token ?? ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ ownerId, ...extra }),
    });
    return body<Link>(res, 201);
  }
  return body<Link>(await admin("/portal/sessions", { method: "POST", json: { ownerId, ...extra }, token }), 201);
}

/** The path and query of a link on the test gateway. */
export const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

/** The cookie keygate set, as `name=value`, and its attributes. */
export function sessionCookie(res: Response): { pair: string; attributes: string[] } | null {
  const header = res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`));
  if (!header) return null;
  const [pair, ...attributes] = header.split(";").map((part) => part.trim());
  return { pair, attributes };
}

/** Opens a link as a browser would (without following the redirect): the answer and the session cookie it set. */
export async function openLink(url: string, headers: Record<string, string> = {}, via: Via = send): Promise<{ res: Response; cookie: string }> {
  const res = await via(pathOf(url), { headers: { Accept: "text/html", ...headers }, redirect: "manual" });
  expect(res.status, await res.clone().text()).toBe(303);
  const cookie = sessionCookie(res);
  expect(cookie).not.toBeNull();
  return { res, cookie: cookie!.pair };
}

/** A signed-in owner: a session cookie from a fresh link. */
export async function signedIn(ownerId: string, via?: Via): Promise<string> {
  return (await openLink((await portalLink(ownerId, {}, undefined, via)).url, {}, via)).cookie;
}

/**
 * A call to the portal API as the portal's pages make it: with the session cookie and, for
 * writes, the gateway's own Origin (unless `origin` says otherwise, or is null for none).
 */
export function portal(
  path: string,
  init: RequestInit & { cookie?: string; json?: unknown; origin?: string | null; via?: Via; bearer?: string } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.cookie) headers.set("Cookie", init.cookie);
  if (init.bearer) headers.set("Authorization", `Bearer ${init.bearer}`);
  const method = init.method ?? "GET";
  const origin = init.origin === undefined ? (method === "GET" ? null : BASE) : init.origin;
  if (origin) headers.set("Origin", origin);
  let requestBody = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    requestBody = JSON.stringify(init.json);
  }
  const { via = send, cookie: _cookie, json: _json, origin: _origin, bearer: _bearer, ...rest } = init;
  void [_cookie, _json, _origin, _bearer];
  return via(`/portal/api${path}`, { ...rest, method, headers, body: requestBody });
}
