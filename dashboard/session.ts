/**
 * The signed-in operator: the admin token (ADMIN_TOKEN, an admin key or an operator's JWT) kept
 * in this tab's sessionStorage only, the typed client that sends it as a bearer header, and what
 * GET /whoami said about it. The token never goes into a URL, a log or any other storage. Behind
 * Cloudflare Access there is no token: Access vouches for the operator on every request, and the
 * dashboard signs in by itself.
 */
import { createKeygateClient, KeygateError, KeygateUnreachableError, type KeygateClient, type Role } from "../client/index.ts";

const STORAGE_KEY = "keygate.adminToken";

export interface Session {
  client: KeygateClient;
  /** "root" for ADMIN_TOKEN, an admin key's id, or "user:<email>" */
  actor: string;
  /** viewer, operator or admin: the pages show only the controls the role may use */
  role: Role;
  /** false for a viewer (an admin:read key among them): the pages then show no write control at all */
  canWrite: boolean;
  /** signed in by Cloudflare Access rather than a token: signing out is Access's */
  viaAccess: boolean;
}

/**
 * Whether the signed-in role may change these (DESIGN.md, "Operators' sign-in and roles"): an
 * operator changes keys and owners, only an admin changes plans and webhooks, a viewer nothing.
 * The pages show no control for what the role may not change.
 */
export function mayChange(session: Pick<Session, "canWrite" | "role">, what: "keys" | "owners" | "plans" | "webhooks"): boolean {
  if (!session.canWrite) return false;
  return what === "plans" || what === "webhooks" ? session.role === "admin" : true;
}

/** The admin API's base, from the page the worker served: ADMIN_PATH may be anything. */
export const ADMIN_PATH = document.querySelector<HTMLMetaElement>('meta[name="keygate-admin-path"]')?.content ?? "/admin";
export const UI_PATH = `${ADMIN_PATH}/ui`;
/** The page came through Cloudflare Access, which vouches for the operator: sign in without a token. */
const BEHIND_ACCESS = document.querySelector<HTMLMetaElement>('meta[name="keygate-access"]')?.content === "on";

const clientFor = (token?: string) => createKeygateClient({ baseUrl: `${location.origin}${ADMIN_PATH}`, token });

/** Asks keygate who the token belongs to; keeps the token only if keygate accepts it. */
export async function signIn(token: string): Promise<Session> {
  const client = clientFor(token);
  const me = await client.whoami();
  sessionStorage.setItem(STORAGE_KEY, token);
  return { client, actor: me.actor, role: me.role, canWrite: me.canWrite, viaAccess: false };
}

/**
 * The session this tab already holds, if keygate still accepts its token; else, behind
 * Cloudflare Access, the operator Access vouches for (no token needed); else null: sign in.
 */
export async function resume(): Promise<Session | null> {
  const token = sessionStorage.getItem(STORAGE_KEY);
  if (!token) return BEHIND_ACCESS ? viaAccess() : null;
  try {
    return await signIn(token);
  } catch (err) {
    if (err instanceof KeygateError && err.status === 401) forget();
    throw err;
  }
}

/** Without a token, keygate answers whoami only for an identity Cloudflare Access sent along: 401 means there is none. */
async function viaAccess(): Promise<Session | null> {
  const client = clientFor();
  try {
    const me = await client.whoami();
    return { client, actor: me.actor, role: me.role, canWrite: me.canWrite, viaAccess: true };
  } catch (err) {
    if (err instanceof KeygateError && err.status === 401) return null;
    throw err;
  }
}

/** Where Cloudflare Access ends its own session. */
export const ACCESS_LOGOUT = "/cdn-cgi/access/logout";

/** How the header names who is signed in. */
export function signedInAs(session: Session): string {
  if (session.actor === "root") return "Admin token";
  if (session.actor.startsWith("user:")) return session.actor.slice("user:".length);
  return `Admin key ${session.actor}`;
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
