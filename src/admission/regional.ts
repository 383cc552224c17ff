import { AdmissionObject, LAST_ROUND } from "./object";
import { link } from "./link";
import { regionalName } from "./names";
import { Holder } from "./holder";
import type { HolderAddress, HolderCalls } from "./ledger";
import type { AdmitRequest, AdmitResult, Apply, LeaseGrant, Returned, VersionRequest } from "./protocol";
import type { Region } from "./regions";

/**
 * A lineage's admission object in one region (DESIGN.md, "Regions"): created with the region's
 * `locationHint` by the first request from there whose lineage has its home elsewhere. It admits
 * that region's requests out of budgets its home granted (and, for what the owner's keys share,
 * budgets the owner's home granted), under a lease of `LEASE_MS`: within the lease it knows
 * every change the home committed (the home tells it, or waits for the lease to end before
 * answering the operator), so a request it admits is judged by the latest record. Past the
 * lease, it asks the home again before admitting anything; a home it cannot reach means it
 * admits nothing. docs/consistency.md has the protocol and its interleavings.
 */

const NO_REFILL_RETRY_SECONDS = 86_400;

export class RegionalAdmission extends AdmissionObject implements HolderCalls {
  private home: Region | null = null;
  private readonly versions = new Map<string, number>();
  /** Key ids the next lease should ask the home about. */
  private readonly unknownKeys = new Set<string>();

  /** This object's share of its lineage's limits and credits. */
  private readonly lineage = new Holder(
    this,
    "",
    (wants) => {
      const ns = this.env.KEY_STATE;
      const keys = [...this.unknownKeys];
      return link().call(this.region, { name: this.lineageId, region: this.home, hint: null }, () =>
        ns.get(ns.idFromName(this.lineageId)).lease({ ...wants, keys, lineageId: this.lineageId, region: this.region! }),
      ) as Promise<LeaseGrant>;
    },
    (grant) => {
      this.home = grant.home ?? null;
      for (const [keyId, version] of Object.entries(grant.versions ?? {})) {
        if (version > (this.versions.get(keyId) ?? 0)) this.versions.set(keyId, version);
      }
      for (const keyId of this.unknownKeys) if (!this.versions.has(keyId)) this.versions.set(keyId, 0);
      this.unknownKeys.clear();
    },
  );

  protected get name(): string {
    return regionalName(this.lineageId, this.region!);
  }

  protected get address(): HolderAddress {
    return { kind: "regional", name: this.name, region: this.region };
  }

  /** Rate limits then credits, the key's and its owner's, all or nothing, out of what this object holds. */
  admit(req: AdmitRequest): AdmitResult | Promise<AdmitResult> {
    this.remember(req.lineageId, req.region);
    return this.attempt(req, 0);
  }

  /**
   * One look at what the request needs, decided and spent in one synchronous breath (a budget
   * looked at before an await may have been spent by another request meanwhile). When a home
   * must be asked, it asks and looks again; after LAST_ROUND a lack is a refusal.
   */
  private attempt(req: AdmitRequest, round: number): AdmitResult | Promise<AdmitResult> {
    const home = this.home;
    const now = Date.now();
    const last = round >= LAST_ROUND;
    if (!this.lineage.leased(now) || !this.versions.has(req.keyId)) {
      if (last) throw new Error("the lineage's home granted no lease");
      if (!this.versions.has(req.keyId)) this.unknownKeys.add(req.keyId);
      return this.lineage.renew(req.ratelimits, req.cost, true, {}, { keyId: req.keyId, version: req.version }).then(() => this.attempt(req, round + 1));
    }
    const known = this.versions.get(req.keyId)!;
    if (known > req.version) return { outcome: "STALE", version: known, home };
    if (req.version > known) this.versions.set(req.keyId, req.version);
    const source = { keyId: req.keyId, version: req.version };
    const key = this.lineage.verdict(req.ratelimits, req.cost, true, now, last, source);
    if (key.kind === "ask") return this.lineage.renew(req.ratelimits, req.cost, true, {}, source).then(() => this.attempt(req, round + 1));
    if (this.ownerStale(req)) return { outcome: "STALE", owner: true, home };
    // The key's own rate limit refusing decides the answer: the owner's home need not be asked.
    const keyLimited = key.kind === "refuse" && !key.credits;
    if (keyLimited && this.ownerLeased(req, now)) return this.refused("RATE_LIMITED", key.limit, req, now);
    const owner = this.ownerVerdict(req, now, round);
    if (owner?.kind === "ask") return this.renewOwner(req).then(() => this.attempt(req, round + 1));
    if (keyLimited) return this.refused("RATE_LIMITED", key.limit, req, now);
    if (owner?.kind === "refuse" && !owner.credits) return this.refused("RATE_LIMITED", owner.limit, req, now);
    if (key.kind === "refuse") return this.refused("QUOTA_EXHAUSTED", "credits", req, now);
    if (owner?.kind === "refuse") return this.refused("QUOTA_EXHAUSTED", "owner.credits", req, now);
    this.lineage.spend(key, req.cost, now);
    if (owner?.kind === "admit") this.ownerHolder(req.owner!.id).holder.spend(owner, req.cost, now);
    this.recordUse(req.keyId, now);
    return { outcome: "OK", limits: this.states(req, now), credits: this.credits(req, now), home };
  }

  private refused(outcome: "RATE_LIMITED" | "QUOTA_EXHAUSTED", limit: string, req: AdmitRequest, now: number): AdmitResult {
    if (outcome === "RATE_LIMITED") {
      const own = req.ratelimits.find((rl) => rl.name === limit);
      const shared = req.owner?.ratelimits.find((rl) => rl.name === limit);
      if (own) this.noticeRateLimited(req, own, this.lineage.windowStart(limit), now);
      else if (shared) this.noticeRateLimited(req, shared, this.ownerHolder(req.owner!.id).holder.windowStart(limit), now);
    }
    const limits = this.states(req, now);
    const credits = this.credits(req, now);
    const retryAfter =
      outcome === "RATE_LIMITED"
        ? (limits.find((l) => l.name === limit)?.reset ?? 1)
        : ((limit === "credits" ? this.lineage.creditView(now) : this.ownerHolder(req.owner!.id).holder.creditView(now))?.refillIn ?? NO_REFILL_RETRY_SECONDS);
    return { outcome, limits, credits, retryAfter, limit, home: this.home };
  }

  private states(req: AdmitRequest, now: number) {
    const own = this.lineage.states(req.ratelimits, now);
    return req.owner ? [...own, ...this.ownerHolder(req.owner.id).holder.states(req.owner.ratelimits, now)] : own;
  }

  private credits(req: AdmitRequest, now: number) {
    return this.lineage.creditView(now) ?? (req.owner?.credits ? this.ownerHolder(req.owner.id).holder.creditView(now) : null);
  }

  /** The newest record version of a key D1 holds, as far as the lease tells (0: unknown). */
  async version(req: VersionRequest): Promise<number> {
    this.remember(req.lineageId, req.region);
    for (let round = 0; round < LAST_ROUND && (!this.lineage.leased(Date.now()) || !this.versions.has(req.keyId)); round++) {
      this.unknownKeys.add(req.keyId);
      await this.lineage.renew([], 0, false);
    }
    return this.versions.get(req.keyId) ?? 0;
  }

  /**
   * From a home: a change it committed. The lineage's new versions are in force at once; budgets
   * of limits or credits that changed are given back, for the home to count again.
   */
  apply(change: Apply): Returned {
    if (change.from === "owner") return this.applyOwner(change);
    for (const [keyId, version] of Object.entries(change.versions ?? {})) {
      if (version > (this.versions.get(keyId) ?? 0)) this.versions.set(keyId, version);
    }
    return this.lineage.giveBack(change.limits, change.credits);
  }

  /** From a home which ran out: everything this object holds unused of its ledger goes back. */
  release(from: Apply["from"]): Returned {
    return from === "owner" ? this.ownerHolding(true) : this.lineage.giveBack(true, true);
  }

  /** What this object holds unused of a home's ledger, left where it is. */
  holding(from: Apply["from"]): Returned {
    return from === "owner" ? this.ownerHolding(false) : this.lineage.holding();
  }
}
