import type { RateLimit } from "../keys/record";
import { sharedCredits, sharedLimits, viewVersion, type OwnerView } from "../owners/record";
import { newerOwnerVersion } from "../owners/version";
import { commitOwnerChange, markPlanSeen, readOwnerState, settleOwnerChange, type OwnerChange } from "../store/owners";
import { poolFrom, type Pool } from "./budget";
import { AdmissionObject } from "./object";
import { link } from "./link";
import { Ledger, type HolderAddress, type HolderCalls } from "./ledger";
import type { LeaseGrant, OwnerLeaseRequest, PeekResult, Returned } from "./protocol";

/**
 * An owner's home (`OwnerState`, one per owner): the truth of what all the owner's keys share
 * (DESIGN.md, "Owners and plans"): the ledger of its shared limits and its shared balance
 * (src/admission/ledger.ts), and the owner's and its plan's version. It never admits a request
 * itself: its keys' objects (each lineage's home and regional objects) hold budgets of it, under
 * leases, and admit out of them in the same call that checks the key's own limits. It is created
 * by the first of those to ask, in that object's region, and is the single writer of its owner's
 * changes once it exists, as a lineage's home is of its keys' (docs/consistency.md). A plan
 * change reaches it by a call from the admin API or, at the latest, when it reads D1 again
 * (every PLAN_REFRESH_MS while its keys are used).
 */

/** How long the home trusts what it read of its plan before it reads D1 again (while asked for leases). */
export const PLAN_REFRESH_MS = 30_000;

/** An owner change handed to the owner's home (the admin API planned it from `seq`). */
export type OwnerChangeRequest = Omit<OwnerChange, "seq"> & { seq: number };

export class OwnerState extends AdmissionObject implements HolderCalls {
  private reading: Promise<void> | null = null;
  private changing: Promise<unknown> = Promise.resolve();

  private readonly ledger = new Ledger(
    this,
    "owner",
    (holder, send) => {
      const ns = holder.kind === "home" ? this.env.KEY_STATE : this.env.REGIONAL_STATE;
      return link().call(this.region, { name: holder.name, region: holder.region, hint: holder.region }, () =>
        send(ns.get(ns.idFromName(holder.name), holder.region ? { locationHint: holder.region } : undefined) as unknown as HolderCalls),
      );
    },
    () => this.config,
  );

  /** The owner's id (kept where a lineage's objects keep their lineage's). */
  private get ownerId(): string {
    return this.lineageId;
  }

  protected get name(): string {
    return this.ownerId;
  }

  protected get address(): HolderAddress {
    return { kind: "home", name: this.ownerId, region: this.region };
  }

  private view(): OwnerView | null {
    return this.read<OwnerView>("view") ?? null;
  }

  /**
   * A holder's lease: the owner's version, budgets of its shared limits, and of its balance.
   * Reads D1 first on the home's first call, and again when what it read of the plan is older
   * than PLAN_REFRESH_MS.
   */
  async lease(req: OwnerLeaseRequest): Promise<LeaseGrant> {
    this.remember(req.ownerId, req.holder.region);
    await this.settle();
    const version = this.read<string>("version") ?? "0.0";
    const granted = await this.ledger.grant(req.holder, req, (source) => !("owner" in source) || !newerOwnerVersion(version, source.owner));
    // The shared balance, as its holders report what they spent.
    const balance = req.spent > 0 ? this.ledger.balance(Date.now()) : null;
    if (balance) this.noticeCredits(req.ownerId, balance, req.ownerId);
    return { ...granted, ownerVersion: version };
  }

  /** What is left of the shared limits and balance, without consuming anything (admin reads, the portal). */
  async peek(req: { ownerId: string; ratelimits?: RateLimit[] }): Promise<PeekResult> {
    this.remember(req.ownerId, null);
    await this.settle();
    const view = this.view();
    return this.ledger.view(req.ratelimits ?? (view ? sharedLimits(view) : []), Date.now());
  }

  /**
   * An owner change: committed to D1 here, gated on the `seq` it was planned from and on
   * `until`, then taken in and told to every holder before the answer.
   */
  change(req: OwnerChangeRequest): Promise<{ outcome: "committed" | "conflict" | "refused" | "expired" | "failed" }> {
    const run = this.changing.then(() => this.changeNow(req));
    this.changing = run.catch(() => undefined);
    return run;
  }

  private async changeNow(req: OwnerChangeRequest): Promise<{ outcome: "committed" | "conflict" | "refused" | "expired" | "failed" }> {
    this.remember(req.ownerId, null);
    await this.settle();
    const last = this.read<{ token: string; outcome: "committed" | "conflict" | "refused" | "expired" | "failed" }>("lastChange");
    if (last?.token === req.token) return { outcome: last.outcome };
    if (Date.now() >= req.until - 500) return { outcome: "expired" };
    this.writeNow("committing", { until: req.until, audit: req.audit, ownerId: req.ownerId });
    let outcome: "committed" | "conflict" | "refused" | "expired" | "failed";
    try {
      outcome = await commitOwnerChange(this.env.DB, req);
    } catch {
      outcome = (await settleOwnerChange(this.env.DB, req)) ? "committed" : "failed";
    }
    this.writeNow("committing", undefined);
    this.writeNow("lastChange", { token: req.token, outcome });
    if (outcome === "committed") await this.refresh(false, req.setsCredits);
    return { outcome };
  }

  /** The owner's plan changed: read it again, tell the holders, and record that it was taken in. */
  async planChanged(req: { ownerId: string }): Promise<void> {
    this.remember(req.ownerId, null);
    await this.settle();
    await this.refresh(false, false);
  }

  apply(): Returned {
    return { limits: [], credits: null };
  }

  release(): Returned {
    return { limits: [], credits: null };
  }

  holding(): Returned {
    return { limits: [], credits: null };
  }

  /** Reads D1 when this home has not yet (claiming its owner), when a change was left unsettled, or when its plan is old. */
  private async settle(): Promise<void> {
    const committing = this.read<{ until: number; audit: OwnerChange["audit"]; ownerId: string }>("committing");
    if (committing) {
      await settleOwnerChange(this.env.DB, committing);
      this.writeNow("committing", undefined);
      await this.refresh(false, false);
      return;
    }
    if (this.read("claimed") !== true) return this.refresh(true, false);
    if (Date.now() - (this.read<number>("checkedAt") ?? 0) > PLAN_REFRESH_MS) return this.refresh(false, false);
  }

  /** One read of the owner (and its plan) at a time; what it finds is taken in and told to the holders. */
  private refresh(claim: boolean, creditsSet: boolean): Promise<void> {
    this.reading ??= (async () => {
      const read = await readOwnerState(this.env.DB, this.ownerId, claim);
      if (claim) this.writeNow("claimed", true);
      this.writeNow("checkedAt", Date.now());
      if (read) await this.adopt(read, creditsSet);
    })().finally(() => (this.reading = null));
    return this.reading;
  }

  /**
   * Takes in the owner and its plan as D1 holds them. What changed (shared limits, the shared
   * balance) is told to every holder, which gives its budgets of it back; the new version to all.
   */
  private async adopt(view: OwnerView, creditsSet: boolean): Promise<void> {
    const before = this.view();
    const version = viewVersion(view);
    const known = this.read<string>("version");
    this.writeNow("view", view);
    this.writeNow("version", version);
    const limits = JSON.stringify(before ? sharedLimits(before) : []) !== JSON.stringify(sharedLimits(view));
    const credits = this.adoptCredits(view, creditsSet);
    if (known !== version || limits || credits) await this.ledger.tell({ from: "owner", ownerVersion: version, limits, credits }, Date.now());
    // Only once every holder was told: the plan's `pending` reaching 0 means the change is in force.
    if (view.plan) await markPlanSeen(this.env.DB, view.owner.id, view.plan.version).catch(() => undefined);
  }

  /**
   * The shared balance: an operator's setting is applied once (a new epoch: budgets granted
   * before are void); a plan's balance starts at its amount and, when the plan changes, keeps
   * what is left and refills to the new amount; moving to another plan starts at that plan's
   * amount. True when budgets granted before are void.
   */
  private adoptCredits(view: OwnerView, creditsSet: boolean): boolean {
    const shared = sharedCredits(view);
    const from = this.read<"owner" | "plan" | null>("creditsFrom") ?? null;
    const now = Date.now();
    if (!shared) {
      if (from === null) return false;
      this.writeNow("creditsFrom", null);
      this.ledger.setCredits(null, view.owner.creditsVersion, now);
      return true;
    }
    if (shared.from === "owner") {
      if (from === "owner" && !creditsSet && view.owner.creditsVersion <= this.ledger.creditsVersion()) return false;
      this.writeNow("creditsFrom", "owner");
      this.ledger.setCredits(shared.credits, view.owner.creditsVersion, now);
      return true;
    }
    const pool = this.read<Pool>("credits");
    const planBefore = this.read<string>("creditsPlan");
    this.writeNow("creditsFrom", "plan");
    this.writeNow("creditsPlan", view.plan!.id);
    // A plan the owner moved to starts it at that plan's amount; its own plan's change keeps what is left.
    if (from !== "plan" || !pool || (planBefore !== undefined && planBefore !== view.plan!.id)) {
      this.ledger.setCredits(shared.credits, view.owner.creditsVersion, now);
      return true;
    }
    if (JSON.stringify(pool.refill) !== JSON.stringify(shared.credits.refill)) this.writeNow("credits", { ...poolFrom(shared.credits, pool.lastRefillAt, pool.epoch), remaining: pool.remaining });
    return false;
  }
}
