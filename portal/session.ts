/**
 * The portal's setting, read from the page the worker served: where the portal lives
 * (PORTAL_PATH may be anything), the operator's product name (PORTAL_TITLE), and the typed client
 * for the portal API. The session itself is an HttpOnly cookie the browser sends by itself; this
 * code never sees it, and nothing here stores anything.
 */
import { createPortalClient } from "../client/portal.ts";

const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content;

export const PORTAL_PATH = meta("keygate-portal-path") ?? "/portal";
export const PORTAL_TITLE = meta("keygate-portal-title") ?? "API keys";

export const client = createPortalClient({ baseUrl: `${location.origin}${PORTAL_PATH}/api` });
export type Client = typeof client;
