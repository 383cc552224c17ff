import type { RateLimit, Refill } from "../keys/record";
import { budgetCurrent, budgetRemaining, budgetWanted, creditState, limitState, type Budget, type CreditState, type LimitState } from "./budget";
import type { LeaseGrant, LeaseWants, LimitSource, Returned } from "./protocol";

/**
 * The budgets an object holds of a ledger that lives elsewhere (docs/regions.md): a regional
 * object's share of its lineage's limits and credits, or a lineage's objects' share of their
 * owner's. It admits out of them without asking anyone, within a lease; past the lease, or out of
 * budget, it asks the ledger's home (`ask`), in the background before it runs out, and blocking
 * only when it must. Budgets and the lease live in memory only: an object that ends forgets them
 * and never spends a budget twice. A credit budget is written to storage before each charge's
 * answer leaves, under `<prefix>credits`.
 */

/** A credit budget: what the home granted out of the balance of one epoch (a refill or a setting ends it). */
export interface CreditBudget {
  epoch: number;
  left: number;
  /** the home's balance when it last granted, for the remaining this object shows */
  pool: number;
  refill: Refill | null;
  lastRefillAt: number;
}

/** How an object's storage is reached (AdmissionObject's memo). */
export interface Store {
  read<T>(name: string): T | undefined;
  writeNow(name: string, value: unknown): void;
}

/**
 * After the home had nothing to grant, requests are refused here without asking it again for
 * this long: a flood of refused requests costs the home a few calls a second per holder, and
 * budget the home took back from another holder meanwhile is found within it.
 */
const SPENT_FOR_MS = 250;

/** What the holder says of a request: admit out of these, refuse, or ask the home first. */
export type Verdict =
  | { kind: "admit"; budgets: Budget[]; credits: CreditBudget | null }
  | { kind: "refuse"; limit: string; credits: boolean }
  | { kind: "ask" };

export class Holder {
  /** Until then (this object's clock, from when it asked) it may admit on what it knows. */
  private leaseUntil = 0;
  /** When it asked for its last lease. */
  private leaseAt = 0;
  private readonly budgets = new Map<string, Budget>();
  /** The limits of the requests it has seen, and where it learned each, so a renewal asks for all of them. */
  private readonly specs = new Map<string, { limit: RateLimit; source?: LimitSource }>();
  /** Until when a limit (or "credits") is known spent: the home had nothing more to grant. */
  private readonly spentUntil = new Map<string, number>();
  /** Requests admitted and credits spent since the last lease: what the next one asks for and reports. */
  private admitted = 0;
  private spent = 0;
  private renewing: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly prefix: string,
    /** the call to the ledger's home; `extra` is what the holder's owner adds (versions wanted) */
    private readonly ask: (wants: LeaseWants) => Promise<LeaseGrant>,
    /** what else a grant carries, for the holder's owner (versions) */
    private readonly onGrant: (grant: LeaseGrant) => void = () => undefined,
  ) {}

  leased(now: number): boolean {
    return now < this.leaseUntil;
  }

  /** The credit budget (null: the ledger has no credits; undefined: not known before a lease). */
  private credits(): CreditBudget | null | undefined {
    return this.store.read<CreditBudget | null>(`${this.prefix}credits`);
  }

  /** Takes note of a request's limits and where they come from, for the next lease to ask for. */
  private learn(ratelimits: readonly RateLimit[], source: LimitSource | undefined): void {
    for (const limit of ratelimits) this.specs.set(limit.name, { limit, source });
  }

  /**
   * What these limits and credits allow now. `renewed`: the home was just asked, so a lack is a
   * refusal, not a reason to ask again. `source`: where the limits come from (LimitSource).
   */
  verdict(ratelimits: readonly RateLimit[], cost: number, chargesCredits: boolean, now: number, renewed: boolean, source?: LimitSource): Verdict {
    if (!this.leased(now)) return { kind: "ask" };
    this.learn(ratelimits, source);
    const budgets: Budget[] = [];
    for (const rl of ratelimits) {
      const budget = this.budgets.get(rl.name);
      if (budgetCurrent(budget, rl, now) && budget.left >= 1) {
        budgets.push(budget);
        continue;
      }
      if (!renewed && (this.spentUntil.get(rl.name) ?? 0) <= now) return { kind: "ask" };
      return { kind: "refuse", limit: rl.name, credits: false };
    }
    const credits = chargesCredits ? (this.credits() ?? null) : null;
    if (credits && credits.left < cost) {
      if (!renewed && (this.spentUntil.get("credits") ?? 0) <= now) return { kind: "ask" };
      return { kind: "refuse", limit: "credits", credits: true };
    }
    return { kind: "admit", budgets, credits };
  }

  /** Spends what `verdict` allowed; renews in the background before the lease or a budget runs out. */
  spend(allowed: Extract<Verdict, { kind: "admit" }>, cost: number, now: number): void {
    for (const budget of allowed.budgets) budget.left -= 1;
    if (allowed.credits && cost > 0) {
      // A charge is durable before the answer leaves: credits are what a consumer pays for.
      this.store.writeNow(`${this.prefix}credits`, { ...allowed.credits, left: allowed.credits.left - cost });
      this.spent += cost;
    }
    this.admitted += 1;
    const lease = this.leaseUntil - this.leaseAt;
    if (now - this.leaseAt > lease / 2 || allowed.budgets.some((b) => b.left <= this.admitted / 2)) this.renewSoon();
  }

  /**
   * Asks the home once for what a request needs (or waits for the renewal already on its way).
   * The caller then looks again, synchronously, and spends in the same breath: budgets looked at
   * before an await may have been spent by another request meanwhile.
   */
  async renew(ratelimits: readonly RateLimit[], cost: number, chargesCredits: boolean, wants: Partial<LeaseWants> = {}, source?: LimitSource): Promise<void> {
    this.learn(ratelimits, source);
    if (this.renewing) {
      await this.renewing.catch(() => undefined);
      return;
    }
    this.renewing = this.askHome(new Set(ratelimits.map((rl) => rl.name)), chargesCredits ? cost : 0, wants).finally(() => (this.renewing = null));
    await this.renewing;
  }

  renewSoon(): void {
    if (this.renewing) return;
    this.renewing = this.askHome(new Set(), 0, {}).finally(() => (this.renewing = null));
    this.renewing.catch((err) => console.warn(JSON.stringify({ level: "warn", msg: "lease renewal failed", holder: this.prefix || "lineage", error: String(err) })));
  }

  /** One lease from the home: budgets for every limit seen (at least what is needed now), credits. */
  private async askHome(needs: Set<string>, creditsNeed: number, extra: Partial<LeaseWants>): Promise<void> {
    const sentAt = Date.now();
    const recent = this.admitted;
    // What it holds of a limit since changed goes back: the home counted it against the old limit.
    const returned: NonNullable<LeaseWants["returned"]> = [];
    for (const [name, budget] of this.budgets) {
      const spec = this.specs.get(name)?.limit;
      if (!spec || (budget.limit === spec.limit && budget.windowMs === spec.windowSeconds * 1000)) continue;
      if (sentAt < budget.start + budget.windowMs && budget.left > 0) returned.push({ name, start: budget.start, amount: budget.left });
      this.budgets.delete(name);
    }
    const wants = [...this.specs.values()]
      .map(({ limit, source }) => {
        const budget = this.budgets.get(limit.name);
        const current = budgetCurrent(budget, limit, sentAt) ? budget.left : 0;
        const need = needs.has(limit.name) && current < 1 ? 1 : 0;
        const wanted = budgetWanted(recent, need, limit.limit);
        return { limit, source, want: current * 2 > wanted && need === 0 ? 0 : Math.max(need, wanted - current) };
      })
      .filter((w) => w.want > 0);
    const held = this.credits();
    const creditsWant = held === null ? 0 : Math.max(creditsNeed, budgetWanted(this.spent || recent, creditsNeed, Number.MAX_SAFE_INTEGER) - (held?.left ?? 0));
    const spent = this.spent;
    const grant = await this.ask({ keys: [], ...extra, wants, returned, credits: Math.max(0, creditsWant), spent });
    this.take(grant, sentAt, creditsNeed > 0);
    // A limit the home granted nothing for was learned from a version it knows to be old: forgotten
    // until a request brings it again.
    for (const { limit } of wants) if (!grant.grants.some((g) => g.name === limit.name) && this.specs.get(limit.name)?.limit === limit) this.specs.delete(limit.name);
    this.admitted = Math.max(0, this.admitted - recent);
    this.spent = Math.max(0, this.spent - spent);
  }

  private take(grant: LeaseGrant, sentAt: number, creditsNeeded: boolean): void {
    const now = Date.now();
    this.leaseAt = sentAt;
    this.leaseUntil = sentAt + grant.leaseMs;
    this.onGrant(grant);
    for (const g of grant.grants) {
      const budget = this.budgets.get(g.name);
      if (budget && budget.limit === g.limit && budget.start === g.start && budget.windowMs === g.windowMs) {
        budget.left += g.amount;
        budget.homeCount = g.count;
      } else {
        this.budgets.set(g.name, { limit: g.limit, start: g.start, windowMs: g.windowMs, left: g.amount, homeCount: g.count });
      }
      if (g.amount === 0) this.spentUntil.set(g.name, Math.min(g.start + g.windowMs, now + SPENT_FOR_MS));
      else this.spentUntil.delete(g.name);
    }
    const held = this.credits();
    if (!grant.credits) {
      if (held !== null) this.store.writeNow(`${this.prefix}credits`, null);
      return;
    }
    const c = grant.credits;
    const left = (held && held.epoch === c.epoch ? held.left : 0) + c.amount;
    this.store.writeNow(`${this.prefix}credits`, { epoch: c.epoch, left, pool: c.pool, refill: c.refill, lastRefillAt: c.lastRefillAt } satisfies CreditBudget);
    if (c.amount === 0 && creditsNeeded) this.spentUntil.set("credits", now + SPENT_FOR_MS);
    else if (c.amount > 0) this.spentUntil.delete("credits");
  }

  /** When the window of a limit's budget began (the home's clock), or null without a budget. */
  windowStart(name: string): number | null {
    return this.budgets.get(name)?.start ?? null;
  }

  /** What this holder holds unused, left where it is. */
  holding(): Returned {
    const held = this.credits();
    return { limits: this.unused(Date.now()), credits: held ? { epoch: held.epoch, amount: held.left } : null };
  }

  /** Gives back what it holds unused: of the limits, of the credits, or both. */
  giveBack(limits: boolean, credits: boolean): Returned {
    const returned: Returned = { limits: [], credits: null };
    if (limits) {
      returned.limits = this.unused(Date.now());
      this.budgets.clear();
      for (const name of [...this.spentUntil.keys()]) if (name !== "credits") this.spentUntil.delete(name);
    }
    const held = this.credits();
    if (credits && held) {
      returned.credits = { epoch: held.epoch, amount: held.left };
      this.store.writeNow(`${this.prefix}credits`, { ...held, left: 0 });
      this.spentUntil.delete("credits");
    }
    return returned;
  }

  private unused(now: number): Returned["limits"] {
    return [...this.budgets]
      .filter(([, budget]) => now < budget.start + budget.windowMs && budget.left > 0)
      .map(([name, budget]) => ({ name, start: budget.start, amount: budget.left }));
  }

  /** Where each limit stands, as this holder sees it: what no holder has taken yet, plus its own. */
  states(ratelimits: readonly RateLimit[], now: number): LimitState[] {
    return ratelimits.map((rl) => {
      const budget = this.budgets.get(rl.name);
      if (!budgetCurrent(budget, rl, now)) return { name: rl.name, limit: rl.limit, windowSeconds: rl.windowSeconds, remaining: 0, reset: rl.windowSeconds };
      return limitState(rl, budget, budgetRemaining(budget, rl), now);
    });
  }

  creditView(now: number): CreditState | null {
    const credits = this.credits();
    if (!credits) return null;
    return creditState(credits.pool + credits.left, credits.refill, credits.lastRefillAt, now);
  }
}
