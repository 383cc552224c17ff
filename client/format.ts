/**
 * How keygate's records read to a person, the same in the CLI and the dashboard: times
 * ("2 hours ago"), statuses, counts, rate limits and credits. No Node-only imports.
 */
import type { KeyRecord } from "./index.ts";

/** "2 hours ago", "in 3 days", "just now": how tables and views show times. */
const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86_400],
  ["month", 30 * 86_400],
  ["week", 7 * 86_400],
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
  ["second", 1],
];

const format = new Intl.RelativeTimeFormat("en", { numeric: "always" });

export function relativeTime(iso: string, now = Date.now()): string {
  const seconds = (Date.parse(iso) - now) / 1000;
  if (Math.abs(seconds) < 5) return "just now";
  const [unit, size] = UNITS.find(([, size]) => Math.abs(seconds) >= size) ?? UNITS[UNITS.length - 1];
  return format.format(Math.trunc(seconds / size), unit);
}

/** A relative time with the exact UTC time beside it, for single-record views. */
export const whenExactly = (iso: string, now = Date.now()) => `${relativeTime(iso, now)} (${iso.replace(/\.\d{3}Z$/, "Z")})`;

/** "2026-11-20 10:00": a UTC time to the minute, for series and ranges. */
export const utcMinute = (iso: string) => iso.slice(0, 16).replace("T", " ");

export type KeyStatus = "active" | "disabled" | "suspended" | "expired" | "revoked";

/** How a key stands now; "suspended": the abuse rule refuses it (KEY_SUSPENDED) until `suspendedUntil`. */
export function keyStatus(key: Pick<KeyRecord, "revokedAt" | "expiresAt" | "enabled"> & { suspendedUntil?: string | null }, now = Date.now()): KeyStatus {
  if (key.revokedAt) return "revoked";
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return "expired";
  if (!key.enabled) return "disabled";
  return key.suspendedUntil && Date.parse(key.suspendedUntil) > now ? "suspended" : "active";
}

/**
 * What stands for a key's start when keygate has none: a key imported by its hash alone, whose
 * characters it never saw (DESIGN.md, "Importing keys").
 */
export const NO_START = "(hash only)";

/** A key's start as tables show it: "kg_live_a1B2", or NO_START. */
export const startText = (key: { start: string | null }) => key.start ?? NO_START;

/** A key as running text names it: "kg_live_a1B2…", or its id when no start is known. */
export const keyLabel = (key: { start: string | null; id: string }) => (key.start ? `${key.start}…` : key.id);

const number = new Intl.NumberFormat("en-US");
export const count = (n: number) => number.format(n);

/** 3600 -> "1 hour", 90 -> "90 seconds": the largest unit that divides evenly. */
export function duration(seconds: number): string {
  const units: [string, number][] = [["day", 86_400], ["hour", 3_600], ["minute", 60], ["second", 1]];
  const [unit, size] = units.find(([, size]) => seconds % size === 0 && seconds >= size) ?? ["second", 1];
  const n = seconds / size;
  return `${count(n)} ${unit}${n === 1 ? "" : "s"}`;
}

/** "minute: 100 per 1 minute, day: 10,000 per 1 day", or "none". */
export const rateLimitsText = (limits: KeyRecord["ratelimits"]) =>
  limits.map((r) => `${r.name}: ${count(r.limit)} per ${duration(r.windowSeconds)}`).join(", ") || "none";

/** "900 left, refilled to 1,000 monthly on day 1", or "unlimited". */
export function creditsText(c: KeyRecord["credits"]): string {
  if (!c) return "unlimited";
  if (!c.refill) return `${count(c.remaining)} left, no refill`;
  const when = c.refill.interval === "daily" ? "daily" : `monthly on day ${c.refill.day ?? 1}`;
  return `${count(c.remaining)} left, refilled to ${count(c.refill.amount)} ${when}`;
}

type Refill = NonNullable<NonNullable<KeyRecord["credits"]>["refill"]>;

/** "daily" or "monthly on day 1": when a balance is refilled. */
export const refillWhen = (refill: Refill) => (refill.interval === "daily" ? "daily" : `monthly on day ${refill.day ?? 1}`);

/** A plan's shared balance per owner: "1,000, refilled daily", or "none". */
export const planCreditsText = (c: Refill | null) => (c ? `${count(c.amount)}, refilled ${refillWhen(c)}` : "none");

/** A limit with what is left of its window: "day: 3 of 5 left, resets in 23 hours". */
export function limitStateText(l: { name: string; limit: number; remaining: number; reset: number }, now = Date.now()): string {
  const reset = relativeTime(new Date(now + l.reset * 1000).toISOString(), now);
  return `${l.name}: ${count(l.remaining)} of ${count(l.limit)} left, resets ${reset}`;
}

/** A shared balance with what is left: "3 left, refilled to 5 daily (in 20 hours)", or "none" (nothing shared). */
export function balanceText(b: { remaining: number; refill: Refill | null; refillIn: number | null } | null, now = Date.now()): string {
  if (!b) return "none";
  if (!b.refill) return `${count(b.remaining)} left, no refill`;
  const next = b.refillIn === null ? "" : ` (${relativeTime(new Date(now + b.refillIn * 1000).toISOString(), now)})`;
  return `${count(b.remaining)} left, refilled to ${count(b.refill.amount)} ${refillWhen(b.refill)}${next}`;
}

/** A plan's scope ceiling: "posts:read posts:write", "none" (an empty ceiling) or "any (no ceiling)". */
export const scopeCeilingText = (scopes: string[] | null) => (scopes === null ? "any (no ceiling)" : scopes.join(" ") || "none");

/** A plan's key count per owner: "20", or "MAX_KEYS_PER_OWNER" when the plan sets none. */
export const maxKeysText = (maxKeys: number | null) => (maxKeys === null ? "MAX_KEYS_PER_OWNER" : count(maxKeys));

/** The plan fields a preview names, as people read them. */
export const PLAN_FIELD_LABELS: Record<string, string> = {
  name: "name",
  description: "description",
  keyRatelimits: "key rate limits",
  ownerRatelimits: "owner rate limits",
  ownerCredits: "owner credits",
  maxKeys: "max keys",
  scopes: "scopes",
};

/** A field of a plan (a preview's before or after) as people read it. */
export function planFieldText(field: string, value: unknown): string {
  switch (field) {
    case "keyRatelimits":
    case "ownerRatelimits":
      return rateLimitsText((value ?? []) as KeyRecord["ratelimits"]);
    case "ownerCredits":
      return planCreditsText((value ?? null) as Refill | null);
    case "maxKeys":
      return maxKeysText((value ?? null) as number | null);
    case "scopes":
      return scopeCeilingText((value ?? null) as string[] | null);
    default:
      return value === null || value === undefined || value === "" ? "none" : String(value);
  }
}
