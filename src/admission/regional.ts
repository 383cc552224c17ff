import type { RateLimit, Refill } from "../keys/record";
import { budgetCurrent, budgetRemaining, budgetWanted, creditState, limitState, type Budget, type CreditState } from "./budget";
import { AdmissionObject } from "./object";
import { link } from "./link";
import { regionalName } from "./names";
import type { AdmitRequest, AdmitResult, Apply, LeaseGrant, LeaseRequest, Returned, VersionRequest } from "./protocol";
import type { Region } from "./regions";

/**
 * A lineage's admission object in one region (DESIGN.md, "Regions"): created with the region's
 * `locationHint` by the first request from there whose lineage has its home elsewhere. It admits
 * that region's requests out of budgets its home granted, under a lease of `LEASE_MS`: within the
 * lease it knows every change the home committed (the home tells it, or waits for the lease to
 * end before answering the operator), so a request it admits is judged by the latest record.
 * Past the lease, it asks the home again before admitting anything; a home it cannot reach means
 * it admits nothing. docs/consistency.md has the protocol and its interleavings.
 */

/** A credit budget: what the home granted out of the balance of one epoch (a refill or a setting ends it). */
interface CreditBudget {
  epoch: number;
  left: number;
  /** the home's balance when it last granted, for the remaining this region shows */
  pool: number;
  refill: Refill | null;
  lastRefillAt: number;
}

const NO_REFILL_RETRY_SECONDS = 86_400;
/**
 * After the home had nothing to grant, requests are refused here without asking it again for
 * this long: a flood of refused requests costs the home a few calls a second per region, and
 * budget the home took back from another region meanwhile is found within it.
 */
const SPENT_FOR_MS = 250;

export class RegionalAdmission extends AdmissionObject {
  /** Until then (this object's clock, from when it asked) it may admit on what it knows. */
  private leaseUntil = 0;
  /** When it asked for its last lease. */
  private leaseAt = 0;
  private home: Region | null = null;
  private readonly versions = new Map<string, number>();
  private readonly budgets = new Map<string, Budget>();
  /** The limits of the requests it has seen, so a renewal asks for all of them. */
  private readonly specs = new Map<string, RateLimit>();
  /** Until when a limit (or "credits") is known spent: the home had nothing more to grant. */
  private readonly spentUntil = new Map<string, number>();
  /** Requests admitted and credits spent since the last lease: what the next one asks for and reports. */
  private admitted = 0;
  private spent = 0;
  private renewing: Promise<void> | null = null;

  protected get name(): string {
    return regionalName(this.lineageId, this.region!);
  }

  /** Rate limits then credits, all or nothing, out of what this object holds; the home only when it must. */
  admit(req: AdmitRequest): AdmitResult | Promise<AdmitResult> {
    this.remember(req.lineageId, req.region);
    return this.admitNow(req, Date.now(), false) ?? this.renewFor(req).then(() => this.admitNow(req, Date.now(), true)!);
  }

  /** The answer from what this object holds; null when it must ask its home first (unless it just did). */
  private admitNow(req: AdmitRequest, now: number, renewed: boolean): AdmitResult | null {
    const home = this.home;
    if (now >= this.leaseUntil) {
      if (renewed) throw new Error("the lineage's home granted no lease");
      return null;
    }
    const known = this.versions.get(req.keyId);
    if (known === undefined && !renewed) return null;
    if ((known ?? 0) > req.version) return { outcome: "STALE", version: known!, home };
    if (req.version > (known ?? 0)) this.versions.set(req.keyId, req.version);

    const budgets: Budget[] = [];
    for (const rl of req.ratelimits) {
      this.specs.set(rl.name, rl);
      const budget = this.budgets.get(rl.name);
      if (budgetCurrent(budget, rl, now) && budget.left >= 1) {
        budgets.push(budget);
        continue;
      }
      if (!renewed && (this.spentUntil.get(rl.name) ?? 0) <= now) return null;
      const limits = this.limitStates(req.ratelimits, now);
      const reset = limits.find((l) => l.name === rl.name)!.reset;
      return { outcome: "RATE_LIMITED", limits, credits: this.creditView(now), retryAfter: reset, limit: rl.name, home };
    }
    const credits = this.read<CreditBudget | null>("credits");
    if (credits && credits.left < req.cost) {
      if (!renewed && (this.spentUntil.get("credits") ?? 0) <= now) return null;
      const view = this.creditView(now)!;
      return {
        outcome: "QUOTA_EXHAUSTED",
        limits: this.limitStates(req.ratelimits, now),
        credits: view,
        retryAfter: view.refillIn ?? NO_REFILL_RETRY_SECONDS,
        limit: "credits",
        home,
      };
    }

    for (const budget of budgets) budget.left -= 1;
    // A charge is durable before the answer leaves: credits are what a consumer pays for.
    if (credits && req.cost > 0) {
      this.writeNow("credits", { ...credits, left: credits.left - req.cost });
      this.spent += req.cost;
    }
    this.admitted += 1;
    this.recordUse(req.keyId, now);
    // Renewed in the background before the lease or a budget runs out, so requests rarely wait.
    const lease = this.leaseUntil - this.leaseAt;
    if (now - this.leaseAt > lease / 2 || budgets.some((b) => b.left <= this.admitted / 2)) this.renewSoon();
    return { outcome: "OK", limits: this.limitStates(req.ratelimits, now), credits: this.creditView(now), home };
  }

  /** The newest record version of a key D1 holds, as far as the lease tells (0: unknown). */
  async version(req: VersionRequest): Promise<number> {
    this.remember(req.lineageId, req.region);
    if (Date.now() >= this.leaseUntil || !this.versions.has(req.keyId)) await this.renewFor({ ...req, version: 0, ratelimits: [], cost: 0 });
    return this.versions.get(req.keyId) ?? 0;
  }

  /**
   * From the home: a change it committed. The new versions are in force at once; budgets of
   * limits or credits that changed are given back, for the home to count again.
   */
  apply(change: Apply): Returned {
    for (const [keyId, version] of Object.entries(change.versions)) {
      if (version > (this.versions.get(keyId) ?? 0)) this.versions.set(keyId, version);
    }
    return this.giveBack(change.limits, change.credits);
  }

  /** From the home, which ran out: everything this object holds unused goes back. */
  release(): Returned {
    return this.giveBack(true, true);
  }

  /** What this object holds unused, left where it is (for the home's view of what is left). */
  holding(): Returned {
    const held = this.read<CreditBudget | null>("credits");
    return { limits: this.unused(Date.now()), credits: held ? { epoch: held.epoch, amount: held.left } : null };
  }

  private unused(now: number): Returned["limits"] {
    return [...this.budgets]
      .filter(([, budget]) => now < budget.start + budget.windowMs && budget.left > 0)
      .map(([name, budget]) => ({ name, start: budget.start, amount: budget.left }));
  }

  private giveBack(limits: boolean, credits: boolean): Returned {
    const returned: Returned = { limits: [], credits: null };
    const now = Date.now();
    if (limits) {
      returned.limits = this.unused(now);
      this.budgets.clear();
      for (const name of [...this.spentUntil.keys()]) if (name !== "credits") this.spentUntil.delete(name);
    }
    const held = this.read<CreditBudget | null>("credits");
    if (credits && held) {
      returned.credits = { epoch: held.epoch, amount: held.left };
      this.writeNow("credits", { ...held, left: 0 });
      this.spentUntil.delete("credits");
    }
    return returned;
  }

  /** Asks the home, once or twice, until this object can decide the request (admit or refuse). */
  private async renewFor(req: AdmitRequest): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.renewing) await this.renewing.catch(() => undefined);
      if (this.decidable(req, Date.now())) return;
      this.renewing ??= this.askHome(req).finally(() => (this.renewing = null));
      await this.renewing;
    }
  }

  private renewSoon(): void {
    if (this.renewing) return;
    this.renewing = this.askHome(null).finally(() => (this.renewing = null));
    this.renewing.catch((err) => console.warn(JSON.stringify({ level: "warn", msg: "lease renewal failed", lineage: this.lineageId, error: String(err) })));
  }

  /** Whether what this object holds lets it admit or refuse the request without its home. */
  private decidable(req: AdmitRequest, now: number): boolean {
    if (now >= this.leaseUntil || !this.versions.has(req.keyId)) return false;
    const settled = (name: string, enough: boolean) => enough || (this.spentUntil.get(name) ?? 0) > now;
    for (const rl of req.ratelimits) {
      const budget = this.budgets.get(rl.name);
      if (!settled(rl.name, budgetCurrent(budget, rl, now) && budget.left >= 1)) return false;
    }
    const credits = this.read<CreditBudget | null>("credits");
    return !credits || settled("credits", credits.left >= req.cost);
  }

  /** One lease from the home: versions, budgets for every limit seen (at least what `req` needs), credits. */
  private async askHome(req: AdmitRequest | null): Promise<void> {
    for (const rl of req?.ratelimits ?? []) this.specs.set(rl.name, rl);
    const sentAt = Date.now();
    const recent = this.admitted;
    const needs = new Set(req?.ratelimits.map((rl) => rl.name));
    const wants = [...this.specs.values()]
      .map((limit) => {
        const budget = this.budgets.get(limit.name);
        const current = budgetCurrent(budget, limit, sentAt) ? budget.left : 0;
        const need = needs.has(limit.name) && current < 1 ? 1 : 0;
        const wanted = budgetWanted(recent, need, limit.limit);
        return { limit, want: current * 2 > wanted && need === 0 ? 0 : Math.max(need, wanted - current) };
      })
      .filter((w) => w.want > 0);
    const held = this.read<CreditBudget | null>("credits");
    const creditsNeed = req && held !== null && (held?.left ?? 0) < req.cost ? req.cost : 0;
    const creditsWant = held === null ? 0 : Math.max(creditsNeed, budgetWanted(this.spent || recent, creditsNeed, Number.MAX_SAFE_INTEGER) - (held?.left ?? 0));
    const spent = this.spent;
    const lease: LeaseRequest = {
      lineageId: this.lineageId,
      region: this.region!,
      wants,
      credits: Math.max(0, creditsWant),
      spent,
      keys: req && !this.versions.has(req.keyId) ? [req.keyId] : [],
    };
    const ns = this.env.KEY_STATE;
    const grant = (await link().call(this.region, { name: this.lineageId, region: this.home, hint: null }, () =>
      ns.get(ns.idFromName(this.lineageId)).lease(lease),
    )) as LeaseGrant;
    this.take(grant, sentAt, req, creditsNeed > 0);
    this.admitted = Math.max(0, this.admitted - recent);
    this.spent = Math.max(0, this.spent - spent);
  }

  private take(grant: LeaseGrant, sentAt: number, req: AdmitRequest | null, creditsNeeded: boolean): void {
    const now = Date.now();
    this.home = grant.home;
    this.leaseAt = sentAt;
    this.leaseUntil = sentAt + grant.leaseMs;
    for (const [keyId, version] of Object.entries(grant.versions)) {
      if (version > (this.versions.get(keyId) ?? 0)) this.versions.set(keyId, version);
    }
    if (req && !this.versions.has(req.keyId)) this.versions.set(req.keyId, 0);
    for (const g of grant.grants) {
      const budget = this.budgets.get(g.name);
      if (budget && budget.start === g.start && budget.windowMs === g.windowMs) {
        budget.left += g.amount;
        budget.homeCount = g.count;
      } else {
        this.budgets.set(g.name, { start: g.start, windowMs: g.windowMs, left: g.amount, homeCount: g.count, exhausted: false });
      }
      if (g.amount === 0) this.spentUntil.set(g.name, Math.min(g.start + g.windowMs, now + SPENT_FOR_MS));
      else this.spentUntil.delete(g.name);
    }
    const held = this.read<CreditBudget | null>("credits");
    if (!grant.credits) {
      if (held !== null) this.writeNow("credits", null);
      return;
    }
    const c = grant.credits;
    const left = (held && held.epoch === c.epoch ? held.left : 0) + c.amount;
    this.writeNow("credits", { epoch: c.epoch, left, pool: c.pool, refill: c.refill, lastRefillAt: c.lastRefillAt } satisfies CreditBudget);
    if (c.amount === 0 && creditsNeeded) this.spentUntil.set("credits", now + SPENT_FOR_MS);
    else if (c.amount > 0) this.spentUntil.delete("credits");
  }

  private limitStates(ratelimits: RateLimit[], now: number) {
    return ratelimits.map((rl) => {
      const budget = this.budgets.get(rl.name);
      if (!budgetCurrent(budget, rl, now)) return { name: rl.name, limit: rl.limit, windowSeconds: rl.windowSeconds, remaining: 0, reset: rl.windowSeconds };
      return limitState(rl, budget, budgetRemaining(budget, rl), now);
    });
  }

  private creditView(now: number): CreditState | null {
    const credits = this.read<CreditBudget | null>("credits");
    if (!credits) return null;
    return creditState(credits.pool + credits.left, credits.refill, credits.lastRefillAt, now);
  }
}

