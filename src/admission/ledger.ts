import type { Credits, RateLimit } from "../keys/record";
import { creditState, currentWindow, limitState, poolFrom, refilled, unallocated, type CreditState, type LimitState, type Pool, type Window } from "./budget";
import { withTimeout } from "./timeout";
import type { Apply, Grant, LeaseGrant, LeaseWants, LimitSource, Returned } from "./protocol";
import type { Region } from "./regions";

/**
 * The truth of a set of limits and credits, kept by their home (docs/regions.md): a lineage's
 * home for its keys' limits and credits, an owner's home for what its keys share. For each
 * limit's current window, what the home admitted itself plus the budgets it granted to holders
 * (never more than the limit); the credit pool (the balance neither spent here nor granted);
 * and each holder's lease and budgets. It grants budgets, takes them back, tells holders of
 * changes, and answers what is left.
 */

/** Where a holder is, so the home can call it back. */
export interface HolderAddress {
  /** "home": a lineage's home (KEY_STATE); "regional": a lineage's object in a region (REGIONAL_STATE) */
  kind: "home" | "regional";
  name: string;
  region: Region | null;
}

/** A holder's lease and what it holds, as the home recorded them (the home's clock). */
export interface HolderLease {
  address: HolderAddress;
  /** the lease ends by then: the holder stops admitting on what it knew */
  until: number;
  /** when the home last granted it a lease */
  at: number;
  /** per limit: the window the holder's budget belongs to, and how much it was granted in it */
  grants: Record<string, { start: number; amount: number }>;
  /** the credit budget it was granted in the current epoch, and what it reported spent of it */
  credits: { epoch: number; granted: number; spent: number } | null;
}

interface Store {
  read<T>(name: string): T | undefined;
  writeNow(name: string, value: unknown): void;
  writeSoon(name: string, value: unknown): void;
}

/** The calls a holder answers (RegionalAdmission and KeyState). */
export interface HolderCalls {
  apply(apply: Apply): Promise<Returned> | Returned;
  release(from: Apply["from"]): Promise<Returned> | Returned;
  holding(from: Apply["from"]): Promise<Returned> | Returned;
}

/**
 * The most one grant takes of what is left: half of it (all of the last one), so the holders
 * still asking find some, and a busy holder's budget grows over a few leases instead of one
 * taking the whole window at once.
 */
const shareOf = (left: number): number => (left <= 1 ? Math.max(0, left) : Math.ceil(left / 2));

export class Ledger {
  /** The budgets being taken back from the holders, shared by whoever needs them meanwhile. */
  private reclaiming: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    /** which ledger this is, as holders know it */
    private readonly from: Apply["from"],
    private readonly call: <T>(holder: HolderAddress, send: (stub: HolderCalls) => Promise<T>) => Promise<T>,
    private readonly times: () => { leaseMs: number; stateTimeoutMs: number },
  ) {}

  window(rl: RateLimit, now: number): Window {
    return currentWindow(this.store.read<Window>(`rl:${rl.name}`), rl, now);
  }

  /** The pool at `now`, refilled when a refill moment has passed (budgets granted before are then void). */
  pool(now: number): Pool | null {
    const stored = this.store.read<Pool>("credits");
    if (!stored) return null;
    const pool = refilled({ ...stored, epoch: stored.epoch ?? 0 }, now);
    if (pool.lastRefillAt !== stored.lastRefillAt) this.store.writeNow("credits", pool);
    return pool;
  }

  holders(): Record<string, HolderLease> {
    return this.store.read<Record<string, HolderLease>>("holders") ?? {};
  }

  /** The first limit (or "credits") with nothing left for one more request; null when all have room. */
  lacking(ratelimits: readonly RateLimit[], cost: number, chargesCredits: boolean, now: number): string | null {
    for (const rl of ratelimits) if (this.window(rl, now).count >= rl.limit) return rl.name;
    const pool = chargesCredits ? this.pool(now) : null;
    return pool && pool.remaining < cost ? "credits" : null;
  }

  /** Whether holders hold budget unused that would let a request `lacking` found wanting through. */
  holdersHold(lacking: string, now: number): boolean {
    if (lacking === "credits") {
      const pool = this.pool(now);
      return !!pool && Object.values(this.holders()).some((h) => h.until > now && h.credits?.epoch === pool.epoch && h.credits.granted > h.credits.spent);
    }
    const window = this.store.read<Window>(`rl:${lacking}`);
    return !!window && Object.values(this.holders()).some((h) => h.until > now && h.grants[lacking]?.start === window.start && h.grants[lacking].amount > 0);
  }

  /** Admits one request here: each window counts it, the pool pays its cost. */
  take(ratelimits: readonly RateLimit[], cost: number, chargesCredits: boolean, now: number): void {
    for (const rl of ratelimits) {
      // Counted in place: the window object is this object's own (memo), and is what gets persisted.
      const window = this.window(rl, now);
      window.count += 1;
      this.store.writeSoon(`rl:${rl.name}`, window);
    }
    const pool = chargesCredits ? this.pool(now) : null;
    // A charge is durable before the answer leaves: credits are what a consumer pays for.
    if (pool && cost > 0) this.store.writeNow("credits", { ...pool, remaining: pool.remaining - cost });
  }

  states(ratelimits: readonly RateLimit[], now: number, unused: (name: string, start: number) => number = () => 0): LimitState[] {
    return ratelimits.map((rl) => {
      const window = this.window(rl, now);
      return limitState(rl, window, unallocated(window, rl) + unused(rl.name, window.start), now);
    });
  }

  /** The balance as key.credits_low judges it: what is left, of what it was last set or refilled to; null without credits. */
  balance(now: number): { epoch: number; amount: number; remaining: number } | null {
    const pool = this.pool(now);
    const view = this.creditView(now);
    const amount = pool?.amount ?? pool?.refill?.amount;
    return pool && view && amount !== undefined ? { epoch: pool.epoch, amount, remaining: view.remaining } : null;
  }

  /** What is left: the pool, and what holders were granted in this epoch and have not reported spent. */
  creditView(now: number): CreditState | null {
    const pool = this.pool(now);
    if (!pool) return null;
    const outstanding = Object.values(this.holders()).reduce(
      (sum, h) => sum + (h.credits?.epoch === pool.epoch ? h.credits.granted - h.credits.spent : 0),
      0,
    );
    return creditState(pool.remaining + outstanding, pool.refill, pool.lastRefillAt, now);
  }

  /** The view an admin read gets: what no one has taken, plus what holders hold unused, as they say. */
  async view(ratelimits: readonly RateLimit[], now: number): Promise<{ limits: LimitState[]; credits: CreditState | null }> {
    const held = await this.holding(now);
    const pool = this.pool(now);
    return {
      limits: this.states(ratelimits, now, (name, start) =>
        held.reduce((sum, h) => sum + (h.limits.find((l) => l.name === name && l.start === start)?.amount ?? 0), 0),
      ),
      credits:
        pool &&
        creditState(
          pool.remaining + held.reduce((sum, h) => sum + (h.credits?.epoch === pool.epoch ? h.credits.amount : 0), 0),
          pool.refill,
          pool.lastRefillAt,
          now,
        ),
    };
  }

  /**
   * A holder's lease: budgets for the windows it asks about, and credits, for `leaseMs` from when it
   * asked. What it gives back of limits since changed is counted back first. A limit it learned
   * from a version the home knows to be old (`current` says no) gets nothing, and its window is
   * left alone: the holder learns the new version from the grant. A holder that asks for what the
   * ledger no longer has makes the home take back what the other holders hold unused first.
   */
  async grant(address: HolderAddress, req: LeaseWants, current: (source: LimitSource) => boolean): Promise<Pick<LeaseGrant, "leaseMs" | "grants" | "credits">> {
    if (req.returned?.length) this.takeBack(address.name, { limits: req.returned, credits: null }, false);
    const wants = req.wants.filter((w) => !w.source || current(w.source));
    const short = (now: number) =>
      wants.some(({ limit, want }) => unallocated(this.window(limit, now), limit) < Math.min(want, 1)) ||
      (req.credits > 0 && (this.pool(now)?.remaining ?? 1) < 1);
    if (short(Date.now()) && Object.keys(this.holders()).some((name) => name !== address.name)) await this.reclaim(address.name);

    const now = Date.now();
    const { leaseMs } = this.times();
    const holders = this.holders();
    const held: HolderLease = holders[address.name] ?? { address, until: 0, at: 0, grants: {}, credits: null };
    const grants: Grant[] = [];
    for (const { limit, want } of wants) {
      const window = this.window(limit, now);
      const amount = Math.min(want, shareOf(unallocated(window, limit)));
      window.count += amount;
      this.store.writeNow(`rl:${limit.name}`, window);
      const before = held.grants[limit.name];
      held.grants[limit.name] = { start: window.start, amount: (before?.start === window.start ? before.amount : 0) + amount };
      grants.push({ name: limit.name, limit: limit.limit, start: window.start, windowMs: window.windowMs, amount, count: window.count });
    }
    let credits: LeaseGrant["credits"] = null;
    const pool = this.pool(now);
    if (pool) {
      const outstanding = held.credits?.epoch === pool.epoch ? held.credits : { epoch: pool.epoch, granted: 0, spent: 0 };
      outstanding.spent = Math.min(outstanding.granted, outstanding.spent + req.spent);
      const amount = Math.min(req.credits, shareOf(pool.remaining));
      outstanding.granted += amount;
      held.credits = outstanding;
      if (amount > 0) this.store.writeNow("credits", { ...pool, remaining: pool.remaining - amount });
      credits = { epoch: pool.epoch, amount, pool: pool.remaining - amount, refill: pool.refill, lastRefillAt: pool.lastRefillAt };
    }
    held.address = address;
    held.at = now;
    held.until = now + leaseMs;
    this.store.writeNow("holders", { ...holders, [address.name]: held });
    return { leaseMs, grants, credits };
  }

  /** Takes back the budgets holders hold unused, so a request that finds the ledger spent can use them. */
  reclaim(except?: string): Promise<void> {
    this.reclaiming ??= (async () => {
      const now = Date.now();
      const { stateTimeoutMs } = this.times();
      await Promise.all(
        Object.entries(this.holders())
          .filter(([name, lease]) => name !== except && lease.until > now)
          .map(async ([name, lease]) => {
            try {
              const returned = await withTimeout(this.call(lease.address, (stub) => Promise.resolve(stub.release(this.from))), Math.max(0, Math.min(lease.until - now, stateTimeoutMs)));
              this.takeBack(name, returned, false);
            } catch {
              // What an unreachable holder holds stays counted until its window ends: never over-admitted.
            }
          }),
      );
    })().finally(() => (this.reclaiming = null));
    return this.reclaiming;
  }

  /** Adds what a holder gave back to the ledger, for the windows it belongs to; void credits are dropped. */
  takeBack(name: string, returned: Returned, creditsVoid: boolean): void {
    const holders = this.holders();
    const held = holders[name];
    if (!held) return;
    for (const back of returned.limits) {
      const window = this.store.read<Window>(`rl:${back.name}`);
      const grant = held.grants[back.name];
      if (!window || window.start !== back.start || !grant || grant.start !== back.start) continue;
      const amount = Math.min(back.amount, grant.amount);
      window.count -= amount;
      grant.amount -= amount;
      this.store.writeNow(`rl:${back.name}`, window);
    }
    const pool = this.pool(Date.now());
    if (returned.credits && pool && held.credits && returned.credits.epoch === pool.epoch && !creditsVoid) {
      const amount = Math.min(returned.credits.amount, held.credits.granted - held.credits.spent);
      held.credits.granted -= amount;
      this.store.writeNow("credits", { ...pool, remaining: pool.remaining + amount });
    }
    this.store.writeNow("holders", { ...holders, [name]: held });
  }

  /**
   * Tells every holder that may hold a lease of a change, and waits until each has taken it in or
   * its lease has ended (at most LEASE_MS): a holder that cannot be told stops admitting on what it
   * knew by then. A holder whose lease was renewed after the change learned it that way.
   */
  async tell(apply: Apply, changedAt: number): Promise<void> {
    await Promise.all(
      Object.entries(this.holders())
        .filter(([, lease]) => lease.until > changedAt)
        .map(async ([name, lease]) => {
          try {
            const returned = await withTimeout(this.call(lease.address, (stub) => Promise.resolve(stub.apply(apply))), Math.max(0, lease.until - Date.now()));
            this.takeBack(name, returned, apply.credits);
          } catch {
            // Unreachable: its lease ends by `lease.until` unless it renews, which tells it the change.
            for (;;) {
              const now = Date.now();
              const current = this.holders()[name];
              if (!current || current.at >= changedAt || now >= lease.until) break;
              await new Promise((resolve) => setTimeout(resolve, Math.min(50, lease.until - now)));
            }
          }
        }),
    );
  }

  /** What each holder holding a lease holds unused (as it says, or as the home last heard). */
  private async holding(now: number): Promise<Returned[]> {
    const { stateTimeoutMs } = this.times();
    return Promise.all(
      Object.values(this.holders())
        .filter((lease) => lease.until > now)
        .map(async (lease) => {
          try {
            return await withTimeout(this.call(lease.address, (stub) => Promise.resolve(stub.holding(this.from))), Math.min(lease.until - now, stateTimeoutMs));
          } catch {
            const credits = lease.credits;
            return { limits: [], credits: credits && { epoch: credits.epoch, amount: credits.granted - credits.spent } };
          }
        }),
    );
  }

  /** An operator set the credits: the live balance is what they set, and every budget granted before is void. */
  setCredits(credits: Credits | null, creditsVersion: number, now: number): void {
    const epoch = (this.store.read<Pool>("credits")?.epoch ?? 0) + 1;
    this.store.writeNow("credits", credits ? poolFrom(credits, now, epoch) : undefined);
    this.store.writeNow("creditsVersion", creditsVersion);
  }

  creditsVersion(): number {
    return this.store.read<number>("creditsVersion") ?? 0;
  }
}
