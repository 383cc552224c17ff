import { and, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import { portalKeyReads, portalLinks, portalSessions } from "./schema";
import { auditAfterChange, type AuditContext } from "./audit";
import { getDb, runBatch, type Db } from "./db";

/**
 * The portal's sign-in state in D1 (docs/storage.md): links an operator minted, sessions they
 * started, and the per-minute count of `GET /api/key` calls. Codes and session ids are stored as
 * their SHA-256 only, so a copy of the database opens no portal.
 */

export interface NewLink {
  codeHash: string;
  ownerId: string;
  returnUrl: string | null;
  expiresAt: number;
  sessionExpiresAt: number;
  createdAt: number;
}

/** Stores a link and its audit entry (`portal.link`, the owner as target) in one batch. */
export async function createLink(d1: D1Database, link: NewLink, audit: AuditContext): Promise<void> {
  const changes = {
    ownerId: { from: null, to: link.ownerId },
    sessionExpiresAt: { from: null, to: new Date(link.sessionExpiresAt).toISOString() },
    ...(link.returnUrl ? { returnUrl: { from: null, to: link.returnUrl } } : {}),
  };
  await runBatch(d1, [
    getDb(d1).insert(portalLinks).values({ ...link, usedAt: null }),
    auditAfterChange(audit, "portal.link", link.ownerId, changes, link.createdAt),
  ]);
}

export interface PortalSession {
  ownerId: string;
  returnUrl: string | null;
  expiresAt: number;
}

/**
 * Spends a link's code and starts its session, in one batch: the code is marked used only if it
 * was unused and unexpired, and the session is written only if that mark was this call's. So a
 * code opens at most one session, however many times or however fast it is presented. Null for a
 * code that is unknown, spent or expired.
 */
export async function openLink(d1: D1Database, codeHash: string, sessionHash: string, now: number): Promise<PortalSession | null> {
  const [, inserted] = await runBatch(d1, [
    sql`UPDATE ${portalLinks} SET used_at = ${now}
        WHERE code_hash = ${codeHash} AND used_at IS NULL AND expires_at > ${now}`,
    sql`INSERT INTO ${portalSessions} (id_hash, owner_id, return_url, created_at, expires_at, ended_at)
        SELECT ${sessionHash}, owner_id, return_url, ${now}, session_expires_at, NULL FROM ${portalLinks}
        WHERE code_hash = ${codeHash} AND used_at = ${now} AND changes() = 1
        RETURNING owner_id AS ownerId, return_url AS returnUrl, expires_at AS expiresAt`,
  ]);
  const row = (inserted.results as PortalSession[] | undefined)?.[0];
  return row ?? null;
}

/** The session a cookie names, while it has neither ended nor expired. */
export async function findSession(db: Db, idHash: string, now: number): Promise<PortalSession | null> {
  const row = await db
    .select({ ownerId: portalSessions.ownerId, returnUrl: portalSessions.returnUrl, expiresAt: portalSessions.expiresAt })
    .from(portalSessions)
    .where(and(eq(portalSessions.idHash, idHash), isNull(portalSessions.endedAt), gt(portalSessions.expiresAt, now)))
    .get();
  return row ?? null;
}

/** Sign-out: the session ends on the server, so its cookie works nowhere, whoever still holds it. */
export async function endSession(db: Db, idHash: string, now: number): Promise<void> {
  await db.update(portalSessions).set({ endedAt: now }).where(and(eq(portalSessions.idHash, idHash), isNull(portalSessions.endedAt)));
}

/** Counts one `GET /api/key` call of a key in a minute; answers the minute's count so far, this call included. */
export async function countKeyRead(db: Db, keyId: string, minute: number): Promise<number> {
  const row = await db
    .insert(portalKeyReads)
    .values({ keyId, minute, count: 1 })
    .onConflictDoUpdate({ target: [portalKeyReads.keyId, portalKeyReads.minute], set: { count: sql`${portalKeyReads.count} + 1` } })
    .returning({ count: portalKeyReads.count })
    .get();
  return row?.count ?? 1;
}

const DAY = 86_400_000;

/** The hourly cleanup: links and sessions a day after they ended or expired, call counts an hour after their minute. */
export async function prunePortal(db: Db, now: number): Promise<{ links: number; sessions: number; keyReads: number }> {
  const [links, sessions, keyReads] = await db.batch([
    db.delete(portalLinks).where(lt(portalLinks.expiresAt, now - DAY)),
    db.delete(portalSessions).where(or(lt(portalSessions.expiresAt, now - DAY), lt(portalSessions.endedAt, now - DAY))),
    db.delete(portalKeyReads).where(lt(portalKeyReads.minute, now - 3_600_000)),
  ]);
  return { links: links.meta.changes, sessions: sessions.meta.changes, keyReads: keyReads.meta.changes };
}
