import type { Route } from "../config";
import { underPrefix } from "../http/paths";

/** The first route whose prefix covers the canonical path (null path: no canonical form, no route). */
export function matchRoute(routes: readonly Route[], path: string | null): Route | null {
  if (path === null) return null;
  let folded: string | undefined;
  for (const route of routes) {
    if (route.caseSensitive ? underPrefix(path, route.prefix) : underPrefix((folded ??= path.toLowerCase()), route.matchPrefix)) {
      return route;
    }
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
