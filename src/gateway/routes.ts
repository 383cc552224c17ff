import type { Route } from "../config";

/**
 * The path keygate matches routes against and forwards. The runtime's URL parser has
 * already resolved `.` and `..` segments (also when written `%2e`). What is left that
 * could change meaning at the origin, an encoded `/` or `\` or a NUL, makes the path
 * unroutable rather than being passed on. Runs of `/` collapse to one.
 */
export function normalisePath(pathname: string): string | null {
  if (/%(2f|5c|00)/i.test(pathname)) return null;
  return pathname.replace(/\/{2,}/g, "/");
}

export function matchRoute(routes: readonly Route[], path: string | null): Route | null {
  if (path === null) return null;
  for (const route of routes) {
    if (route.prefix === "/" || path === route.prefix || path.startsWith(`${route.prefix}/`)) return route;
  }
  return null;
}

/** Scopes the route requires for a method: its own entry, HEAD falling back to GET, then `*`. */
export function requiredScopes(route: Route, method: string): string[] {
  const scopes = route.scopes;
  if (!scopes) return [];
  return scopes[method] ?? (method === "HEAD" ? scopes.GET : undefined) ?? scopes["*"] ?? [];
}

/** The origin URL: fixed by config; only the (normalised) path and query come from the request. */
export function upstreamUrl(route: Route, path: string, search: string): string {
  let forwarded = path;
  if (route.stripPrefix && route.prefix !== "/") forwarded = path.slice(route.prefix.length) || "/";
  return `${route.upstream}${forwarded}${withoutQueryKey(search)}`;
}

/** True when the query may hold an `api_key` parameter, its name written plainly or percent-encoded. */
const mayHoldQueryKey = (search: string): boolean => search.includes("api_key") || search.includes("%");

/** Drops every `api_key` parameter (however its name is encoded) and keeps the rest of the query exactly as sent. */
export function withoutQueryKey(search: string): string {
  if (!mayHoldQueryKey(search)) return search;
  const parts = search.slice(1).split("&");
  const kept = parts.filter((part) => safeDecode(part.split("=", 1)[0]) !== "api_key");
  if (kept.length === parts.length) return search;
  const nonEmpty = kept.filter((part) => part !== "");
  return nonEmpty.length ? `?${nonEmpty.join("&")}` : "";
}

export function queryKeys(search: string): string[] {
  if (!mayHoldQueryKey(search)) return [];
  return new URLSearchParams(search).getAll("api_key");
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    return text;
  }
}
