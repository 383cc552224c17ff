import { createLink, endSession, findSession, openLink, type PortalSession } from "../store/portal";
import type { AuditContext } from "../store/audit";
import { getDb } from "../store/db";

/**
 * Portal links and sessions (DESIGN.md, "Key holders: the portal"). The operator's backend
 * mints a link for an owner; its one-use code, valid 10 minutes, starts a session when the link
 * is opened; the session lives in a cookie until it expires or its holder signs out. Codes and
 * session ids are 32 random bytes; D1 keeps only their SHA-256 (docs/storage.md).
 */

/** A link's code works this long after minting (or until its session would end, when that is sooner). */
export const CODE_TTL_MS = 10 * 60_000;

const CODE_PREFIX = "kgp_";
const SESSION_PREFIX = "kgs_";
const SECRET = /^[A-Za-z0-9_-]{43}$/;

function secret(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return prefix + btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Only what keygate could have issued is looked up: anything else costs no D1 read. */
const wellFormed = (value: string, prefix: string) => value.startsWith(prefix) && SECRET.test(value.slice(prefix.length));

export interface MintedLink {
  code: string;
  /** when the session the link starts ends */
  sessionExpiresAt: number;
}

/** Mints a link's code for `ownerId`, written with its audit entry. The code is returned this once. */
export async function mintLink(
  d1: D1Database,
  request: { ownerId: string; returnUrl: string | null; ttlSeconds: number },
  audit: AuditContext,
  now = Date.now(),
): Promise<MintedLink> {
  const code = secret(CODE_PREFIX);
  const sessionExpiresAt = now + request.ttlSeconds * 1000;
  await createLink(
    d1,
    {
      codeHash: await sha256(code),
      ownerId: request.ownerId,
      returnUrl: request.returnUrl,
      expiresAt: Math.min(now + CODE_TTL_MS, sessionExpiresAt),
      sessionExpiresAt,
      createdAt: now,
    },
    audit,
  );
  return { code, sessionExpiresAt };
}

/** Spends a code: the new session's id (for the cookie) and the session, or null for a code that is unknown, spent or expired. */
export async function exchangeCode(d1: D1Database, code: string, now = Date.now()): Promise<{ sessionId: string; session: PortalSession } | null> {
  if (!wellFormed(code, CODE_PREFIX)) return null;
  const sessionId = secret(SESSION_PREFIX);
  const session = await openLink(d1, await sha256(code), await sha256(sessionId), now);
  return session && { sessionId, session };
}

/** The live session a cookie's value names, or null. */
export async function sessionOf(d1: D1Database, sessionId: string, now = Date.now()): Promise<PortalSession | null> {
  if (!wellFormed(sessionId, SESSION_PREFIX)) return null;
  return findSession(getDb(d1), await sha256(sessionId), now);
}

/** Ends the session on the server: its cookie works nowhere after this. */
export async function endPortalSession(d1: D1Database, sessionId: string, now = Date.now()): Promise<void> {
  if (!wellFormed(sessionId, SESSION_PREFIX)) return;
  await endSession(getDb(d1), await sha256(sessionId), now);
}

export type { PortalSession };
