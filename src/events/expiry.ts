import { getDb } from "../store/db";
import { dueNotices, noteNotices, type NoticeKind } from "../store/notices";
import { keyEvent } from "./raise";
import { queueEvents } from "./dispatch";

/**
 * `key.expiring` (7 days and 1 day before `expiresAt`, once each) and `key.expired`, raised by
 * the hourly Cron Trigger (DESIGN.md, "Lifecycle rules"; docs/events.md). A key created with
 * less than 7 days to live gets the notice of the window it is in, not one it has passed.
 */

const PER_KIND = 1000;
const PER_BATCH = 100;

export async function noticeExpiries(env: Pick<Env, "DB"> & Partial<Pick<Env, "EVENTS">>, now: number): Promise<Record<NoticeKind, number>> {
  const db = getDb(env.DB);
  const counts: Record<NoticeKind, number> = { "7d": 0, "1d": 0, expired: 0 };
  for (const kind of ["expired", "1d", "7d"] as const) {
    const due = await dueNotices(db, kind, now, PER_KIND);
    for (let i = 0; i < due.length; i += PER_BATCH) {
      const notices = due.slice(i, i + PER_BATCH).map((key) => ({
        key,
        kind,
        event: kind === "expired" ? keyEvent("key.expired", key, {}, now) : keyEvent("key.expiring", key, { daysBefore: kind === "7d" ? 7 : 1 }, now),
      }));
      const written = await noteNotices(env.DB, notices);
      counts[kind] += written.length;
      await queueEvents(env, written);
    }
  }
  return counts;
}
