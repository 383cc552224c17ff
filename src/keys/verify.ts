import { ProblemError, type ProblemCode } from "../errors";
import type { StoredKey } from "../store/record";

/** Checks 4 to 6 of DESIGN.md's table: what makes a stored key unusable, whatever the route. */
export function keyUnusable(key: StoredKey, now: number): ProblemError | null {
  if (key.revokedAt !== null) {
    return new ProblemError("KEY_REVOKED", `This key was revoked at ${new Date(key.revokedAt).toISOString()}.`);
  }
  if (key.expiresAt !== null && key.expiresAt <= now) {
    return new ProblemError("KEY_EXPIRED", `This key expired at ${new Date(key.expiresAt).toISOString()}.`);
  }
  if (!key.enabled) return new ProblemError("KEY_DISABLED", "This key is disabled; ask the API's operator to enable it.");
  return null;
}

export const VERIFY_CODES = [
  "VALID",
  "MISSING_KEY",
  "MALFORMED_KEY",
  "KEY_NOT_FOUND",
  "KEY_REVOKED",
  "KEY_EXPIRED",
  "KEY_DISABLED",
  "INSUFFICIENT_SCOPE",
  "RATE_LIMITED",
  "QUOTA_EXHAUSTED",
] as const satisfies readonly ("VALID" | ProblemCode)[];
