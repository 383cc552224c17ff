import { ProblemError } from "../errors";
import { Lru } from "./lru";

/**
 * Distinct unknown keys per client, per isolate (DESIGN.md: `TOO_MANY_INVALID_KEYS`, checked
 * after the key's format and before its lookup). A client that presents `perClient` distinct
 * well-formed keys that match nothing within `windowMs` is refused until the window ends, so
 * minting keys costs it a 429 instead of costing keygate a lookup. Only keys found to match
 * nothing count: lookups still in flight do not, so a busy client's cold but valid keys are
 * never refused for it; what a burst of concurrent unknown keys can cost is bounded by the
 * isolate's D1 budget (src/store/cache.ts). Repeating one wrong key counts once. Bounded: at
 * most `maxClients` clients are remembered, least recent first out.
 */
export const INVALID_KEYS = { perClient: 20, windowMs: 60_000, maxClients: 10_000 };

interface Client {
  start: number;
  /** the first characters of each unknown hash seen in this window */
  seen: Set<string>;
}

const clients = new Lru<Client>(INVALID_KEYS.maxClients, INVALID_KEYS.maxClients * (INVALID_KEYS.perClient * 40 + 200));

const current = (ip: string, now: number): Client | undefined => {
  const client = clients.get(ip);
  return client && now - client.start < INVALID_KEYS.windowMs ? client : undefined;
};

/** TOO_MANY_INVALID_KEYS, for consumer keys and admin credentials alike (checked after a key's format, before its lookup). */
export function refuseIfTooManyInvalid(ip: string | null): void {
  const backoff = invalidKeyBackoff(ip, Date.now());
  if (backoff === null) return;
  throw new ProblemError("TOO_MANY_INVALID_KEYS", "This client presented too many keys that match nothing; wait before trying again.", {
    headers: { "Retry-After": String(backoff) },
  });
}

/** Seconds until this client may try again; null while it may. */
export function invalidKeyBackoff(ip: string | null, now: number): number | null {
  const client = current(ip ?? "", now);
  if (!client || client.seen.size < INVALID_KEYS.perClient) return null;
  return Math.max(1, Math.ceil((client.start + INVALID_KEYS.windowMs - now) / 1000));
}

/** Counts a key the client presented that matched nothing. */
export function recordUnknownKey(ip: string | null, hash: string, now: number): void {
  const id = ip ?? "";
  const client = current(id, now) ?? { start: now, seen: new Set<string>() };
  client.seen.add(hash.slice(0, 16));
  clients.set(id, client, 200 + client.seen.size * 40);
}

