/**
 * Pages are real paths under ADMIN_PATH/ui (the worker answers all of them with the same
 * page), so links open in new tabs and Back works. Filters live in the query string; the
 * token never does.
 */
import type { Child } from "hono/jsx";
import { useLayoutEffect, useState } from "hono/jsx/dom";
import { UI_PATH } from "./session.ts";

const NAVIGATED = "keygate:navigated";

/** A path under the dashboard, with an optional query whose empty values are left out. */
export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams(Object.entries(query).filter((entry): entry is [string, string] => !!entry[1]));
  const search = params.toString();
  return `${UI_PATH}${path === "/" ? "" : path}${search ? `?${search}` : ""}`;
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  window.dispatchEvent(new Event(NAVIGATED));
}

export interface Location {
  /** the path below ADMIN_PATH/ui, "/" for the keys page */
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  const below = location.pathname.startsWith(UI_PATH) ? location.pathname.slice(UI_PATH.length) : "/";
  return { path: below.replace(/\/+$/, "") || "/", query: new URLSearchParams(location.search) };
}

export function useLocation(): Location {
  const [where, setWhere] = useState(current);
  useLayoutEffect(() => {
    const update = () => setWhere(current());
    window.addEventListener("popstate", update);
    window.addEventListener(NAVIGATED, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(NAVIGATED, update);
    };
  }, []);
  return where;
}

/** A link that changes page without reloading; modified clicks (new tab, new window) stay the browser's. */
export function Link(props: { to: string; children: Child; class?: string; "aria-current"?: "page" }) {
  const follow = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.to);
  };
  return (
    <a href={props.to} class={props.class} aria-current={props["aria-current"]} onClick={follow}>
      {props.children}
    </a>
  );
}
