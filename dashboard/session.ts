/**
 * The signed-in operator: the admin token (ADMIN_TOKEN or an admin key) kept in this tab's
 * sessionStorage only, the typed client that sends it as a bearer header, and what
 * GET /whoami said about it. The token never goes into a URL, a log or any other storage.
 */
import { createKeygateClient, KeygateError, KeygateUnreachableError, type KeygateClient } from "../client/index.ts";

const STORAGE_KEY = "keygate.adminToken";

export interface Session {
  client: KeygateClient;
  /** "root" for ADMIN_TOKEN, else the admin key's id */
  actor: string;
  /** false for an admin:read key: the pages then show no write control at all */
  canWrite: boolean;
}

/** The admin API's base, from the page the worker served: ADMIN_PATH may be anything. */
export const ADMIN_PATH = document.querySelector<HTMLMetaElement>('meta[name="keygate-admin-path"]')?.content ?? "/admin";
export const UI_PATH = `${ADMIN_PATH}/ui`;

const clientFor = (token: string) => createKeygateClient({ baseUrl: `${location.origin}${ADMIN_PATH}`, token });

/** Asks keygate who the token belongs to; keeps the token only if keygate accepts it. */
export async function signIn(token: string): Promise<Session> {
  const client = clientFor(token);
  const me = await client.whoami();
  sessionStorage.setItem(STORAGE_KEY, token);
  return { client, actor: me.actor, canWrite: me.canWrite };
}

/** The session this tab already holds, if keygate still accepts its token. */
export async function resume(): Promise<Session | null> {
  const token = sessionStorage.getItem(STORAGE_KEY);
  if (!token) return null;
  try {
    return await signIn(token);
  } catch (err) {
    if (err instanceof KeygateError && err.status === 401) forget();
    throw err;
  }
}

export function forget(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** A problem as the pages show it: keygate's title and detail, and the fields it names. */
export interface Problem {
  title: string;
  detail: string;
  status: number;
  issues: { path: string; message: string }[];
}

export function problemOf(err: unknown): Problem {
  if (err instanceof KeygateError) return { title: err.title, detail: err.detail, status: err.status, issues: err.issues };
  if (err instanceof KeygateUnreachableError) {
    return { title: "keygate did not answer", detail: `${err.reason}. Check that the gateway runs, then try again.`, status: 0, issues: [] };
  }
  return { title: "Something went wrong", detail: err instanceof Error ? err.message : String(err), status: 0, issues: [] };
}
