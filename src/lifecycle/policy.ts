import type { ExpiryRule, KeyPolicy } from "../config";
import { ProblemError } from "../errors";
import type { StoredKey } from "../keys/record";

/**
 * KEY_POLICY (DESIGN.md, "Lifecycle rules"): per environment, the longest a key may live
 * (`maxLifetimeDays`, from its creation) and whether it must expire at all (`requireExpiry`).
 * Checked by the key lifecycle, so the admin API, the CLI, the dashboard and the portal are
 * held to it alike (docs/behaviour.md, "Lifecycle rules").
 */

const DAY_MS = 86_400_000;

const refused = (path: string, message: string) =>
  new ProblemError("VALIDATION_FAILED", `${path}: ${message}`, { extensions: { issues: [{ path, message }] } });

const ruleName = (environment: string, field: keyof ExpiryRule) => `KEY_POLICY.${environment}.${field}`;

/**
 * The expiry a new key gets: the one asked for, or, without one, `maxLifetimeDays` from now
 * when the policy requires an expiry. A lifetime past `maxLifetimeDays` is refused, naming the rule.
 */
export function expiryOnCreate(policy: KeyPolicy, environment: StoredKey["environment"], requested: number | null, now: number): number | null {
  const rule = policy[environment];
  if (!rule) return requested;
  const max = rule.maxLifetimeDays;
  if (requested === null) return rule.requireExpiry && max !== undefined ? now + max * DAY_MS : null;
  if (max !== undefined && requested - now > max * DAY_MS) {
    throw refused(
      "expiresAt",
      `a ${environment} key may live at most ${max} days (${ruleName(environment, "maxLifetimeDays")}); ask for an expiry by ${new Date(now + max * DAY_MS).toISOString()} or earlier`,
    );
  }
  return requested;
}

/**
 * The expiry a rotation's new key gets: the one it takes over from the key it replaces, held
 * within `maxLifetimeDays` from now; without one, `maxLifetimeDays` from now when the policy
 * requires an expiry. A rotation asks for no expiry, so nothing here is refused.
 */
export function expiryOnRotate(policy: KeyPolicy, environment: StoredKey["environment"], inherited: number | null, now: number): number | null {
  const rule = policy[environment];
  const max = rule?.maxLifetimeDays;
  if (!rule || max === undefined) return inherited;
  const longest = now + max * DAY_MS;
  if (inherited === null) return rule.requireExpiry ? longest : null;
  return Math.min(inherited, longest);
}

/**
 * A PATCH of `expiresAt`: removing the expiry of a key that must expire, or moving it past
 * `maxLifetimeDays` after the key's creation, is refused, naming the rule.
 */
export function checkExpiryChange(policy: KeyPolicy, key: Pick<StoredKey, "environment" | "createdAt">, expiresAt: number | null): void {
  const rule = policy[key.environment];
  if (!rule) return;
  if (expiresAt === null) {
    if (rule.requireExpiry) {
      throw refused("expiresAt", `a ${key.environment} key must expire (${ruleName(key.environment, "requireExpiry")}); it cannot be set to null`);
    }
    return;
  }
  const max = rule.maxLifetimeDays;
  if (max !== undefined && expiresAt - key.createdAt > max * DAY_MS) {
    throw refused(
      "expiresAt",
      `a ${key.environment} key may live at most ${max} days after its creation (${ruleName(key.environment, "maxLifetimeDays")}): ` +
        `${new Date(key.createdAt + max * DAY_MS).toISOString()} at the latest`,
    );
  }
}
