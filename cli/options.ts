/**
 * Parsers for flag values, and what `update` commands make of them. Each parser throws
 * commander's InvalidArgumentError, which the CLI reports as a usage error (exit 2) naming the
 * flag, before any request is made.
 */
import { InvalidArgumentError, type Command } from "commander";

export const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : " up"}.`);
    }
    return Number(value);
  };

/** An ISO 8601 date and time with a zone, as the admin API takes it: 2026-12-01T00:00:00Z. */
export function isoTime(value: string): string {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError("expected an ISO 8601 time with a zone, e.g. 2026-12-01T00:00:00Z.");
  }
  return value;
}

/** `NAME=LIMIT/WINDOWSECONDS`, e.g. `minute=100/60`. */
export function ratelimit(value: string) {
  const match = /^([^=]+)=(\d+)\/(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError("expected NAME=LIMIT/WINDOWSECONDS, e.g. minute=100/60.");
  return { name: match[1], limit: Number(match[2]), windowSeconds: Number(match[3]) };
}

/** `AMOUNT/daily` or `AMOUNT/monthly`. */
export function refill(value: string) {
  const match = /^(\d+)\/(daily|monthly)$/.exec(value);
  if (!match) throw new InvalidArgumentError("expected AMOUNT/daily or AMOUNT/monthly, e.g. 1000/monthly.");
  return { amount: Number(match[1]), interval: match[2] as "daily" | "monthly" };
}

/** A JSON object, e.g. '{"plan":"pro"}'. */
export function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError(`expected a JSON object, e.g. '{"plan":"pro"}'.`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError(`expected a JSON object, e.g. '{"plan":"pro"}'.`);
  }
  return parsed as Record<string, unknown>;
}

/** For repeatable flags: each use adds one value, parsed by `parse`. */
export const repeatable =
  <T>(parse: (value: string) => T) =>
  (value: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(value)];

export const text = (value: string) => value;

/** `AMOUNT/daily`, `AMOUNT/monthly` or `AMOUNT/monthly/DAY`: a plan's shared balance per owner. */
export function planCredits(value: string) {
  const match = /^(\d+)\/(daily|monthly)(?:\/(\d+))?$/.exec(value);
  if (!match || (match[3] !== undefined && match[2] !== "monthly")) {
    throw new InvalidArgumentError("expected AMOUNT/daily, AMOUNT/monthly or AMOUNT/monthly/DAY, e.g. 10000/monthly/1.");
  }
  const day = match[3] === undefined ? undefined : Number(match[3]);
  if (day !== undefined && (day < 1 || day > 31)) throw new InvalidArgumentError("the day of the month is 1 to 31.");
  return { amount: Number(match[1]), interval: match[2] as "daily" | "monthly", ...(day === undefined ? {} : { day }) };
}

export type RefillSpec = ReturnType<typeof refill>;

/**
 * What `update` sends for credits (a key's or an owner's): `--credits N` alone sets the balance
 * and leaves the refill out, so the refill in place is kept (as PATCH does); `--refill` replaces
 * it, `--clear-refill` removes it.
 */
export function creditsChange(command: Command, options: { credits?: number; refill?: RefillSpec; clearRefill?: boolean }) {
  if (options.clearRefill && options.credits === undefined) command.error("error: --clear-refill needs --credits.", { exitCode: 2 });
  if (options.refill && options.credits === undefined) command.error("error: --refill needs --credits.", { exitCode: 2 });
  if (options.credits === undefined) return undefined;
  if (options.clearRefill) return { remaining: options.credits, refill: null };
  return options.refill ? { remaining: options.credits, refill: options.refill } : { remaining: options.credits };
}

/** An `update` field: `empty` when its `--clear-…` flag is given, else what was set (undefined: unchanged). */
export const setOrCleared = <T>(set: T | undefined, cleared: boolean | undefined, empty: T) => (cleared ? empty : set);
