/**
 * The portal's pages are real paths under PORTAL_PATH (the worker answers all of them with the
 * same page), so links open in new tabs and Back works.
 */
import type { Child } from "hono/jsx";
import { useLayoutEffect, useState } from "hono/jsx/dom";
import { PORTAL_PATH } from "./session.ts";

const NAVIGATED = "portal:navigated";

export const href = (path: string): string => `${PORTAL_PATH}${path}`;

export function navigate(to: string): void {
  history.pushState(null, "", to);
  window.dispatchEvent(new Event(NAVIGATED));
}

/** The path below PORTAL_PATH, "/" for the keys. */
function current(): string {
  const below = location.pathname.startsWith(PORTAL_PATH) ? location.pathname.slice(PORTAL_PATH.length) : "/";
  return below.replace(/\/+$/, "") || "/";
}

export function usePath(): string {
  const [path, setPath] = useState(current);
  useLayoutEffect(() => {
    const update = () => setPath(current());
    window.addEventListener("popstate", update);
    window.addEventListener(NAVIGATED, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(NAVIGATED, update);
    };
  }, []);
  return path;
}

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
