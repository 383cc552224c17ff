import type { AbusePolicy, Config, Route } from "../config";
import type { RateLimit } from "../keys/record";
import { enqueueEvent, sendToQueue } from "./dispatch";
import type { RaisedEvent, SuspensionRequest } from "./types";

/**
 * Events a consumer request causes, noticed where the decision is made: inside the admission
 * objects (src/admission/), off the request's path (DESIGN.md, "Events and webhooks"). The
 * deciding is pure arithmetic on state the object keeps per key; the object then hands the
 * event to `enqueueEvent` or the suspension to `requestSuspension` without awaiting them on
 * the request's path (its `ctx.waitUntil`). docs/events.md, "Events the admission objects
 * raise", says where each call goes.
 */

// ---- key.rate_limited: the first RATE_LIMITED refusal of a key in a window, once per key, limit and window

/** Per key: for each limit name, the start (ms) of the last window whose first refusal was noticed. */
export type RateLimitNotices = Record<string, number>;

/**
 * Whether this RATE_LIMITED refusal is the first of `limit`'s window starting at `windowStart`,
 * for the key whose `noticed` this is. Updates `noticed` (the caller keeps it, per key).
 */
export function noticeRateLimited(noticed: RateLimitNotices, limit: Pick<RateLimit, "name">, windowStart: number): boolean {
  if (noticed[limit.name] === windowStart) return false;
  noticed[limit.name] = windowStart;
  return true;
}

/**
 * The `key.rate_limited` event. Its id follows from the key, the limit and the window, so two
 * objects that both notice the same window (two regions) raise one event as far as any receiver
 * can tell: the same `webhook-id`.
 */
export async function rateLimitedEvent(keyId: string, limit: RateLimit, windowStart: number, at = Date.now()): Promise<RaisedEvent> {
  return {
    id: await stableId("key.rate_limited", keyId, limit.name, windowStart),
    type: "key.rate_limited",
    at,
    keyId,
    data: {
      limit: {
        name: limit.name,
        limit: limit.limit,
        windowSeconds: limit.windowSeconds,
        windowStart: new Date(windowStart).toISOString(),
        resetAt: new Date(windowStart + limit.windowSeconds * 1000).toISOString(),
      },
    },
  };
}

// ---- key.credits_low: the balance falls to 20 % of its last set or refilled amount, and again at 0

/** Per key (or per owner's shared balance): which thresholds were crossed since the balance was last set or refilled. */
export interface CreditNotices {
  /** the caller's count of settings and refills: a new value starts the thresholds over */
  epoch: number;
  low: boolean;
  empty: boolean;
}

export type CreditThreshold = "low" | "empty";

/**
 * The threshold this charge crosses, if any: "low" when the balance falls to 20 % of `amount`
 * (the balance it was last set or refilled to) or below, "empty" when it reaches 0. Each at most
 * once per `epoch`; a charge that takes the balance from above 20 % straight to 0 is "empty"
 * only. Updates `state` (the caller keeps it).
 */
export function noticeCredits(state: CreditNotices, epoch: number, amount: number, remaining: number): CreditThreshold | null {
  if (state.epoch !== epoch) Object.assign(state, { epoch, low: false, empty: false });
  if (remaining <= 0 && !state.empty) {
    Object.assign(state, { low: true, empty: true });
    return "empty";
  }
  if (remaining > 0 && remaining * 5 <= amount && !state.low) {
    state.low = true;
    return "low";
  }
  return null;
}

/** The `key.credits_low` event; its id follows from the key, the epoch and the threshold. */
export async function creditsLowEvent(
  keyId: string,
  threshold: CreditThreshold,
  credits: { remaining: number; amount: number; epoch: number },
  at = Date.now(),
): Promise<RaisedEvent> {
  return {
    id: await stableId("key.credits_low", keyId, credits.epoch, threshold),
    type: "key.credits_low",
    at,
    keyId,
    data: { credits: { remaining: credits.remaining, amount: credits.amount, threshold } },
  };
}

// ---- abuse: suspension of a key refused RATE_LIMITED too often

/** The abuse rule for requests on `route`: its own `abuse`, else ABUSE_POLICY; null when off. */
export function abusePolicyFor(config: Pick<Config, "abusePolicy">, route: Pick<Route, "abuse"> | null): AbusePolicy | null {
  if (route?.abuse !== undefined) return route.abuse;
  return config.abusePolicy;
}

/** Per key: RATE_LIMITED refusals in the current and the previous minute, and the suspension last asked for. */
export interface AbuseCount {
  /** start of the current minute (ms) */
  minute: number;
  current: number;
  previous: number;
  /** the end of the last suspension this count asked for (0: none) */
  suspendedUntil: number;
}

export const newAbuseCount = (): AbuseCount => ({ minute: 0, current: 0, previous: 0, suspendedUntil: 0 });

const MINUTE_MS = 60_000;

/**
 * Counts one RATE_LIMITED refusal of the key at `now` and answers until when it must be
 * suspended (ms), or null. "More than `rateLimitedPerMinute` within a minute" is judged over the
 * sliding minute before `now`, estimated from this minute's and the last minute's counts
 * (the part of the last minute still inside the sliding one, assumed even). Once a suspension is
 * asked for, the count starts over and no other is asked for until it ends. Updates `count`.
 */
export function countRateLimited(count: AbuseCount, now: number, policy: AbusePolicy): number | null {
  const minute = now - (now % MINUTE_MS);
  if (minute !== count.minute) {
    count.previous = minute - count.minute === MINUTE_MS ? count.current : 0;
    count.current = 0;
    count.minute = minute;
  }
  count.current += 1;
  if (count.suspendedUntil > now) return null;
  const within = count.previous * (1 - (now - minute) / MINUTE_MS) + count.current;
  if (within <= policy.rateLimitedPerMinute) return null;
  count.suspendedUntil = now + policy.suspendSeconds * 1000;
  count.current = 0;
  count.previous = 0;
  return count.suspendedUntil;
}

/**
 * Asks for the suspension `countRateLimited` decided. It travels on the EVENTS queue to the
 * key lifecycle (src/queue.ts → `suspendKey`), which writes `suspendedUntil` as an admin change
 * does: committed with its audit entry (actor `keygate`) and its `key.suspended` event, and in
 * force on the next request in every isolate and region. Throws when the queue refuses it.
 */
export async function requestSuspension(env: Partial<Pick<Env, "EVENTS">>, request: SuspensionRequest): Promise<void> {
  await sendToQueue(env, [{ body: { kind: "suspend", suspension: request } }]);
}

export { enqueueEvent };

/** `evt_` and 26 characters of the SHA-256 of what identifies the event, in Crockford's base32 (as a ULID's). */
async function stableId(...parts: (string | number)[]): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\n"))));
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  let out = "";
  for (let i = 0; i < 26; i++) out += alphabet[digest[i] & 31];
  return `evt_${out}`;
}
