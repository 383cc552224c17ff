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
