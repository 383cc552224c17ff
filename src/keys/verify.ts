import type { StoredKey } from "./record";

/** Why a key cannot be used: one of DESIGN.md's codes and a sentence for the consumer. */
export interface Refusal {
  code: "KEY_REVOKED" | "KEY_EXPIRED" | "KEY_DISABLED" | "KEY_SUSPENDED";
  detail: string;
  /** KEY_SUSPENDED: seconds until the suspension ends, for `Retry-After` */
  retryAfter?: number;
}

/** Whether the abuse rule holds the key suspended at `now` (check 6b). */
export function suspendedAt(key: Pick<StoredKey, "suspendedUntil">, now: number): boolean {
  const until = key.suspendedUntil ?? null;
  return until !== null && until > now;
}

/** Whole seconds from `now` until the suspension ends, at least 1. */
export const suspensionLeft = (until: number, now: number): number => Math.max(1, Math.ceil((until - now) / 1000));

/**
 * Whether a key is past its expiry. A key whose `expiresAt` is at or before the moment its record
 * last changed (a rotation with no grace period, a grace ended by the next rotation) expired
 * with that change, whatever the clock of the isolate judging it says; any other expiry is
 * judged by the clock (DESIGN.md, "Consistency").
 */
export function expiredBy(key: Pick<StoredKey, "expiresAt" | "updatedAt">, now: number): boolean {
  return key.expiresAt !== null && (key.expiresAt <= now || key.expiresAt <= key.updatedAt);
}

/** Checks 4 to 6b of DESIGN.md's table: what makes a stored key unusable, whatever the route. */
export function keyUnusable(key: StoredKey, now: number): Refusal | null {
  if (key.revokedAt !== null) {
    return { code: "KEY_REVOKED", detail: `This key was revoked at ${new Date(key.revokedAt).toISOString()}.` };
  }
  if (key.expiresAt !== null && expiredBy(key, now)) {
    return { code: "KEY_EXPIRED", detail: `This key expired at ${new Date(key.expiresAt).toISOString()}.` };
  }
  if (!key.enabled) return { code: "KEY_DISABLED", detail: "This key is disabled; ask the API's operator to enable it." };
  if (suspendedAt(key, now)) {
    const until = key.suspendedUntil!;
    return {
      code: "KEY_SUSPENDED",
      detail: `This key is suspended until ${new Date(until).toISOString()}: it was refused for its rate limits too often.`,
      retryAfter: suspensionLeft(until, now),
    };
  }
  return null;
}

/** What `POST /admin/keys/verify` answers in `code`: VALID, or the code the gateway would answer. */
export const VERIFY_CODES = [
  "VALID",
  "MISSING_KEY",
  "MALFORMED_KEY",
  "KEY_NOT_FOUND",
  "KEY_REVOKED",
  "KEY_EXPIRED",
  "KEY_DISABLED",
  "KEY_SUSPENDED",
  "INSUFFICIENT_SCOPE",
  "RATE_LIMITED",
  "QUOTA_EXHAUSTED",
] as const;
