import { asc, inArray, lt, sql, type SQL } from "drizzle-orm";
import { eventOutbox } from "./schema";
import { getDb } from "./db";

/**
 * The event outbox (docs/events.md): events are written in the D1 batch of the change that
 * raises them, then put on the queue; a row is deleted once its event is queued, and the
 * relay queues whatever was left behind (an isolate that ended, a queue that failed).
 */

/** An event as keygate raises it, before it is delivered to any endpoint. */
export interface RaisedEvent {
  /** `evt_` + ULID: the `webhook-id` of every delivery of it, on every retry */
  id: string;
  type: string;
  /** when it was raised (ms): the payload's `timestamp` */
  at: number;
  /**
   * The key the event is about. When `data` has no `key`, the record as D1 holds it when the
   * event is fanned out fills it in (events raised where only the key's id is known).
   */
  keyId?: string;
  data: Record<string, unknown>;
}

/** An outbox insert that lands only when `guard` holds (the change's gate opened). */
export function outboxInsert(event: RaisedEvent, guard: SQL): SQL {
  return sql`
    INSERT INTO ${eventOutbox} (id, type, event, created_at)
    SELECT ${event.id}, ${event.type}, ${JSON.stringify(event)}, ${event.at}
    WHERE ${guard}`;
}

/** Forgets events now on the queue. */
export async function removeFromOutbox(d1: D1Database, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await getDb(d1).delete(eventOutbox).where(inArray(eventOutbox.id, ids));
}

/** Events raised before `before` that were never confirmed queued, oldest first. */
export async function leftInOutbox(d1: D1Database, before: number, limit: number): Promise<RaisedEvent[]> {
  const rows = await getDb(d1)
    .select({ event: eventOutbox.event })
    .from(eventOutbox)
    .where(lt(eventOutbox.createdAt, before))
    .orderBy(asc(eventOutbox.createdAt))
    .limit(limit);
  return rows.map((row) => JSON.parse(row.event) as RaisedEvent);
}
