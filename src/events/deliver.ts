import type { Config } from "../config";
import { getDb, newId } from "../store/db";
import { findById } from "../store/keys";
import { toRecord } from "../keys/record";
import { enabledEndpoints, findEndpoint, recordAttempt, type AttemptOutcome, type AttemptRow, type EndpointRow } from "../store/webhooks";
import { payload } from "./raise";
import { signatures } from "./secret";
import { sendToQueue } from "./dispatch";
import type { Delivery, RaisedEvent } from "./types";

/**
 * Delivery (DESIGN.md, "Events and webhooks"; docs/events.md): an event is fanned out into one
 * delivery per endpoint that wants it, and each delivery is attempted until an attempt is
 * answered 2xx or the retry schedule runs out. A 410 disables the endpoint; so does an endpoint
 * whose attempts have all failed for 3 days.
 */

/** An endpoint failing this long without one success is disabled. */
export const FAILING_DISABLES_AFTER_MS = 3 * 86_400_000;

/** The audit actor of what keygate does by itself. */
export const KEYGATE_ACTOR = { actor: "keygate", clientIp: null };

const wants = (endpoint: EndpointRow, type: string): boolean => {
  const events = JSON.parse(endpoint.events) as string[];
  return events.includes("*") || events.includes(type);
};

/**
 * The deliveries of one event: one per enabled endpoint that wants its type. An event raised
 * where only its key's id was known gets the key's record now. Reads D1 (throws when it cannot).
 */
export async function fanOut(env: Pick<Env, "DB">, event: RaisedEvent): Promise<Delivery[]> {
  const db = getDb(env.DB);
  const endpoints = (await enabledEndpoints(db)).filter((e) => wants(e, event.type));
  if (endpoints.length === 0) return [];
  if (event.keyId && !("key" in event.data)) {
    const key = await findById(db, event.keyId);
    event = { ...event, data: { key: key ? toRecord(key) : null, ...event.data } };
  }
  const body = payload(event);
  return endpoints.map((e) => ({ endpointId: e.id, eventId: event.id, type: event.type, body, attempt: 1 }));
}

export interface AttemptResult {
  status: "succeeded" | "failed";
  statusCode: number | null;
  durationMs: number;
  error: string | null;
}

/** The secrets deliveries are signed with now: the current one, and the one before a rotation for 24 h after it. */
const secretsOf = (endpoint: EndpointRow, now: number): string[] =>
  endpoint.previousSecret && (endpoint.previousSecretUntil ?? 0) > now ? [endpoint.secret, endpoint.previousSecret] : [endpoint.secret];

/** One POST of the delivery to the endpoint, signed, within `timeoutMs`. Never throws. */
export async function post(endpoint: EndpointRow, delivery: Delivery, timeoutMs: number, now = Date.now()): Promise<AttemptResult> {
  const timestamp = Math.floor(now / 1000);
  const started = Date.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(endpoint.url, {
      method: "POST",
      redirect: "manual",
      signal: timeout,
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "keygate-webhooks/1",
        "webhook-id": delivery.eventId,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signatures(secretsOf(endpoint, now), delivery.eventId, timestamp, delivery.body),
      },
      body: delivery.body,
    });
    // The answer's body is not kept (it is the receiver's); reading it ends the exchange.
    await res.body?.cancel().catch(() => undefined);
    const ok = res.status >= 200 && res.status < 300;
    return { status: ok ? "succeeded" : "failed", statusCode: res.status, durationMs: Date.now() - started, error: ok ? null : `answered HTTP ${res.status}` };
  } catch (err) {
    const timedOut = timeout.aborted;
    return {
      status: "failed",
      statusCode: null,
      durationMs: Date.now() - started,
      error: timedOut ? `no answer within ${timeoutMs} ms` : `could not be reached: ${String((err as Error)?.message ?? err).slice(0, 200)}`,
    };
  }
}

/** What became of one attempt: the row it left, and when the next is due (null: none). */
export interface Attempted {
  row: AttemptRow;
  next: Delivery | null;
  nextDelaySeconds: number;
}

/**
 * Makes attempt `delivery.attempt` and settles what follows: the next attempt is queued with
 * its delay before the attempt is recorded, so a failure to record it loses nothing. Answers
 * null when there is nothing to attempt (the endpoint is gone, or disabled and this is not a
 * test). Throws when the next attempt could not be queued, so the queue offers this one again;
 * with `retryMustBeQueued: false` (an attempt made within an admin request) it records the
 * attempt with no retry instead.
 */
export async function attempt(
  env: Pick<Env, "DB"> & Partial<Pick<Env, "EVENTS">>,
  config: Config,
  delivery: Delivery,
  options: { retryMustBeQueued: boolean } = { retryMustBeQueued: true },
): Promise<Attempted | null> {
  const endpoint = await findEndpoint(getDb(env.DB), delivery.endpointId);
  if (!endpoint || (!endpoint.enabled && delivery.type !== "webhook.test")) return null;
  const now = Date.now();
  const result = await post(endpoint, delivery, config.webhookTimeoutMs, now);
  const at = now;
  const failing = result.status === "failed";
  const disable: AttemptOutcome["disable"] =
    failing && result.statusCode === 410
      ? { reason: "gone", audit: { ...KEYGATE_ACTOR, requestId: delivery.eventId }, detail: "the endpoint answered 410 Gone" }
      : failing && endpoint.failingSince !== null && at - endpoint.failingSince >= FAILING_DISABLES_AFTER_MS
        ? { reason: "failing", audit: { ...KEYGATE_ACTOR, requestId: delivery.eventId }, detail: "every delivery failed for 3 days" }
        : undefined;
  const schedule = config.webhookRetrySeconds;
  const retries = failing && !disable && delivery.attempt <= schedule.length;
  const delaySeconds = retries ? schedule[delivery.attempt - 1] : 0;
  let next = retries ? { ...delivery, attempt: delivery.attempt + 1 } : null;
  if (next) {
    try {
      await sendToQueue(env, [{ body: { kind: "delivery", delivery: next }, delaySeconds }]);
    } catch (err) {
      if (options.retryMustBeQueued) throw err;
      // the test route: the attempt is answered and recorded, with no retry to come
      console.warn(JSON.stringify({ level: "warn", msg: "a retry could not be queued", event: delivery.eventId, error: String(err) }));
      next = null;
    }
  }
  const row: AttemptRow = {
    id: newId("wha"),
    endpointId: endpoint.id,
    eventId: delivery.eventId,
    eventType: delivery.type,
    attempt: delivery.attempt,
    at,
    status: result.status,
    statusCode: result.statusCode,
    durationMs: result.durationMs,
    error: result.error,
    nextRetryAt: next ? Date.now() + delaySeconds * 1000 : null,
  };
  try {
    await recordAttempt(env.DB, { attempt: row, endpoint: result.status, ...(disable ? { disable } : {}) });
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "a delivery attempt was made but could not be recorded", event: delivery.eventId, endpoint: endpoint.id, error: String(err) }));
  }
  return { row, next, nextDelaySeconds: delaySeconds };
}
