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
