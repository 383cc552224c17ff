import type { Refill } from "../keys/record";

const DAY_MS = 86_400_000;

/** The first refill moment strictly after `since` (UTC midnights; monthly on `day`, clamped to the month's end). */
export function nextRefill(refill: Refill, since: number): number {
  const d = new Date(since);
  if (refill.interval === "daily") {
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) + DAY_MS;
  }
  const day = refill.day ?? 1;
  const onDay = (year: number, month: number) => {
    const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    return Date.UTC(year, month, Math.min(day, last));
  };
  const thisMonth = onDay(d.getUTCFullYear(), d.getUTCMonth());
  return thisMonth > since ? thisMonth : onDay(d.getUTCFullYear(), d.getUTCMonth() + 1);
}
