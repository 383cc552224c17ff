import type { Credits, RateLimit, Refill } from "../keys/record";
import { nextRefill } from "./credits";

/**
 * The arithmetic of admission, pure so it is tested alone (test/workers/admission-budget.test.ts).
 *
 * A limit's truth is a **ledger** in the lineage's home: for the current window, how many
 * requests it has let through, counting those it admitted itself and the budgets it granted to
 * regional objects, which never exceeds the limit. A regional object admits out of a
 * **budget**: a share of one window's ledger the home granted it, which it spends without asking
 * anyone and gives back when asked. So the requests admitted in all regions together never
 * exceed the limit in any window (docs/consistency.md, "Regions").
 */

export interface LimitState {
  name: string;
  limit: number;
  windowSeconds: number;
  remaining: number;
  /** seconds until the window resets */
  reset: number;
}

export interface CreditState {
  remaining: number;
  /** seconds until the next refill; null when the credits never refill */
  refillIn: number | null;
}

/** One limit's current window in the home's ledger. */
export interface Window {
  windowMs: number;
  /** when the window began (the home's clock) */
  start: number;
  /** requests let through in this window: admitted by the home and granted away as budgets */
  count: number;
}

/**
 * The window `rl` is in at `now`: the stored one while it lasts, else a fresh one starting now
 * (windows start with the first request after the previous one ended, docs/behaviour.md).
 */
export function currentWindow(stored: Window | undefined, rl: RateLimit, now: number): Window {
  const windowMs = rl.windowSeconds * 1000;
  if (stored && stored.windowMs === windowMs && now < stored.start + windowMs) return stored;
  return { windowMs, start: now, count: 0 };
}

/** What of the window is left to let through. */
export const unallocated = (window: Window, rl: RateLimit): number => Math.max(0, rl.limit - window.count);

export const secondsUntil = (at: number, now: number): number => Math.max(1, Math.ceil((at - now) / 1000));

export function limitState(rl: RateLimit, window: Pick<Window, "start" | "windowMs">, remaining: number, now: number): LimitState {
  return {
    name: rl.name,
    limit: rl.limit,
    windowSeconds: rl.windowSeconds,
    remaining: Math.max(0, Math.min(rl.limit, remaining)),
    reset: secondsUntil(window.start + window.windowMs, now),
  };
}

/** A lineage's credits in its home: the balance not yet spent nor granted away. */
export interface Pool {
  /** credits neither spent at the home nor granted to a regional object */
  remaining: number;
  refill: Refill | null;
  lastRefillAt: number;
  /** +1 at every refill and every balance an operator sets: budgets granted before are void */
  epoch: number;
  /** what the balance was last set or refilled to (key.credits_low counts 20 % of it); absent on pools from before */
  amount?: number;
}

/** The pool at `now`: refilled to the refill amount when a refill moment has passed. */
export function refilled(pool: Pool, now: number): Pool {
  if (!pool.refill || now < nextRefill(pool.refill, pool.lastRefillAt)) return pool;
  return { ...pool, remaining: pool.refill.amount, amount: pool.refill.amount, lastRefillAt: now, epoch: pool.epoch + 1 };
}

export const poolFrom = (credits: Credits, now: number, epoch: number): Pool => ({
  remaining: credits.remaining,
  amount: credits.remaining,
  refill: credits.refill,
  lastRefillAt: now,
  epoch,
});

export function creditState(remaining: number, refill: Refill | null, lastRefillAt: number, now: number): CreditState {
  return { remaining, refillIn: refill ? secondsUntil(nextRefill(refill, lastRefillAt), now) : null };
}

/** A regional object's share of one limit's window. */
export interface Budget {
  /** the limit it was granted under */
  limit: number;
  /** the window it belongs to, on the home's clock */
  start: number;
  windowMs: number;
  /** requests this object may still admit in that window */
  left: number;
  /** the home's count for the window when it last granted: with `left`, what the region shows as remaining */
  homeCount: number;
}

/**
 * Whether a budget may be spent on a request under `rl` at `now`: granted under the same limit and
 * window, and that window still running. A budget of a limit since changed is never spent under
 * the new one: the home counted it against the old.
 */
export const budgetCurrent = (budget: Budget | undefined, rl: RateLimit, now: number): budget is Budget =>
  budget !== undefined && budget.limit === rl.limit && budget.windowMs === rl.windowSeconds * 1000 && now < budget.start + budget.windowMs;

/** Remaining as a region shows it: what no region has taken yet, plus what it holds itself. */
export const budgetRemaining = (budget: Budget, rl: RateLimit): number => rl.limit - budget.homeCount + budget.left;

/**
 * How much to ask the home for: what this object admitted over the last two leases, so it
 * rarely asks twice within one, at least what the request at hand needs, never more than the
 * limit. A budget too large only sits unused in one region while another is refused; the home
 * takes it back when it runs out (docs/consistency.md, "Regions").
 */
export function budgetWanted(recent: number, need: number, limit: number): number {
  return Math.max(need, Math.min(limit, Math.ceil(recent * 2) + need));
}
