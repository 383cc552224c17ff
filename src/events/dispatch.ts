import { leftInOutbox, removeFromOutbox } from "../store/outbox";
import type { QueueMessage, RaisedEvent } from "./types";

/**
 * Hands events to the EVENTS queue (docs/events.md). Events a change raised are already in the
 * outbox, written with the change: they are forgotten there once the queue holds them, and an
 * event whose send or whose removal failed stays for the relay, so nothing is lost and nothing
 * but a duplicate (the same `webhook-id`) can come of a failure.
 */

let warnedNoQueue = false;

/** Messages per `sendBatch`: the queue takes at most 100. */
const SEND_BATCH = 100;

/** The queue, when this deployment has one (the benchmark runs without). */
const queueOf = (env: Partial<Pick<Env, "EVENTS">>): Queue<QueueMessage> | null => (env.EVENTS as Queue<QueueMessage> | undefined) ?? null;

/** Sends `messages` to the queue, in batches; throws when the queue refuses or is missing. */
export async function sendToQueue(env: Partial<Pick<Env, "EVENTS">>, messages: { body: QueueMessage; delaySeconds?: number }[]): Promise<void> {
  const queue = queueOf(env);
  if (!queue) throw new Error("no EVENTS queue is bound");
  for (let i = 0; i < messages.length; i += SEND_BATCH) {
    await queue.sendBatch(messages.slice(i, i + SEND_BATCH).map((m) => ({ body: m.body, contentType: "json", ...(m.delaySeconds ? { delaySeconds: m.delaySeconds } : {}) })));
  }
}

/**
 * Queues events that are in the outbox, then removes them from it. Never throws: what could not
 * be queued or removed stays in the outbox for the relay (`relayOutbox`).
 */
export async function queueEvents(env: Pick<Env, "DB"> & Partial<Pick<Env, "EVENTS">>, events: RaisedEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (!queueOf(env)) {
    if (!warnedNoQueue) console.warn(JSON.stringify({ level: "warn", msg: "no EVENTS queue is bound: events stay in the outbox" }));
    warnedNoQueue = true;
    return;
  }
  try {
    await sendToQueue(env, events.map((event) => ({ body: { kind: "event", event } })));
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "events left in the outbox for the relay", events: events.map((e) => e.id), error: String(err) }));
    return;
  }
  try {
    await removeFromOutbox(env.DB, events.map((e) => e.id));
  } catch (err) {
    // Queued already: the relay will queue them once more, a duplicate with the same webhook-id.
    console.warn(JSON.stringify({ level: "warn", msg: "queued events stay in the outbox", events: events.map((e) => e.id), error: String(err) }));
  }
}

/** An event this young may still be on its way from the change that raised it. */
export const RELAY_AFTER_MS = 30_000;
const RELAY_BATCH = 500;

/**
 * Queues events the outbox still holds a while after they were raised: their change landed but
 * its isolate ended, or the queue failed, before they were queued. Run every minute (Cron
 * Trigger). Answers how many it queued.
 */
export async function relayOutbox(env: Pick<Env, "DB"> & Partial<Pick<Env, "EVENTS">>, now: number): Promise<number> {
  const left = await leftInOutbox(env.DB, now - RELAY_AFTER_MS, RELAY_BATCH);
  if (left.length === 0) return 0;
  await sendToQueue(env, left.map((event) => ({ body: { kind: "event", event } })));
  await removeFromOutbox(env.DB, left.map((e) => e.id));
  return left.length;
}

/**
 * An event raised where no change is written with it (inside an admission object, by the
 * Cron Trigger after its own batch): straight onto the queue. Throws when the queue refuses it,
 * so the caller can keep it and try again.
 */
export async function enqueueEvent(env: Partial<Pick<Env, "EVENTS">>, event: RaisedEvent): Promise<void> {
  await sendToQueue(env, [{ body: { kind: "event", event } }]);
}
