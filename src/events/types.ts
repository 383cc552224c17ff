import type { RaisedEvent } from "../store/outbox";

export type { RaisedEvent };

/** Every event type keygate sends (DESIGN.md, "Events and webhooks"). */
export const EVENT_TYPES = [
  "key.created",
  "key.updated",
  "key.rotated",
  "key.revoked",
  "key.expiring",
  "key.expired",
  "key.rate_limited",
  "key.credits_low",
  "key.suspended",
  "key.leaked",
  "owner.updated",
  "plan.updated",
  "webhook.test",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** A delivery of one event to one endpoint: its body is fixed once, so every retry sends the same bytes. */
export interface Delivery {
  endpointId: string;
  eventId: string;
  type: string;
  /** the JSON body, `{ type, timestamp, data }` */
  body: string;
  /** the number of the attempt this message asks for (1: the first) */
  attempt: number;
}

/** A suspension the abuse rule decided inside an admission object, carried out off the request's path. */
export interface SuspensionRequest {
  keyId: string;
  /** when the suspension ends (ms) */
  until: number;
  /** when it was decided (ms) */
  at: number;
  /** the rule that decided it */
  policy: { rateLimitedPerMinute: number; suspendSeconds: number };
  /** RATE_LIMITED refusals counted within the minute */
  refusals: number;
  /** the request that tipped it, for the security event */
  request?: { ip: string | null; country: string | null; userAgent: string | null; method: string; path: string; route: string | null; requestId: string };
}

/** What travels on the EVENTS queue (docs/events.md). */
export type QueueMessage =
  | { kind: "event"; event: RaisedEvent }
  | { kind: "delivery"; delivery: Delivery }
  | { kind: "suspend"; suspension: SuspensionRequest };
