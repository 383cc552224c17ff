import type { Credits, RateLimit } from "../keys/record";
import { commitChange, readLineageState, settleLostCommit, type LineageState } from "../store/lineage";
import { creditState, limitState, type CreditState, type LimitState } from "./budget";
import { AdmissionObject, LAST_ROUND } from "./object";
import { link } from "./link";
import { regionalName } from "./names";
import { Ledger, type HolderAddress, type HolderCalls } from "./ledger";
import type {
  AdmitRequest,
  AdmitResult,
  Apply,
  ChangeRequest,
  ChangeResult,
  LeaseGrant,
  LeaseRequest,
  PeekRequest,
  PeekResult,
  Returned,
  VersionRequest,
} from "./protocol";
import type { Region } from "./regions";

/**
 * A lineage's home: the one `KeyState` object per key lineage (a key and the keys rotated from
 * it) that holds its truth (DESIGN.md, "Consistency" and "Regions"): each key's record version,
 * the ledger of its limits and credits (src/admission/ledger.ts), and which regions hold leases
 * and budgets. It admits the requests of its own region itself, out of its ledger and, for what
 * the owner's keys share, out of budgets the owner's home granted it; grants budgets to the
 * lineage's regional objects and takes them back; and is the single writer of its lineage's
 * changes once it exists: the admin API hands it a planned change, it commits the gated D1
 * batch, takes the change into its state, tells every region, then answers. The protocol and
 * the interleavings it was checked against are in docs/consistency.md.
 */

/** A change being committed: what a restarted home settles from D1 before it answers anything. */
interface Committing {
  until: number;
  audit: ChangeRequest["audit"];
  writes: Pick<ChangeRequest["writes"][number], "after">[];
}

const NO_REFILL_RETRY_SECONDS = 86_400;
/** A change handed over this close to its `until` is not started: its batch could land too late to be told. */
const CHANGE_MARGIN_MS = 500;

export class KeyState extends AdmissionObject implements HolderCalls {
  /** The D1 read in flight, and at most one more queued behind it (see `refresh`). */
  private reading: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private queuedClaims = false;
  /** Changes run one at a time, in the order they arrive. */
  private changing: Promise<unknown> = Promise.resolve();

  private readonly ledger = new Ledger(
    this,
    "lineage",
    (holder, send) => {
      const ns = this.env.REGIONAL_STATE;
      const region = holder.region!;
      return link().call(this.region, { name: holder.name, region, hint: region }, () =>
        send(ns.get(ns.idFromName(holder.name), { locationHint: region }) as unknown as HolderCalls),
      );
    },
    () => this.config,
  );

  protected get name(): string {
    return this.lineageId;
  }

  protected get address(): HolderAddress {
    return { kind: "home", name: this.lineageId, region: this.region };
  }

  /**
   * Rate limits then credits, the key's and its owner's; all or nothing, so a refused request
   * consumes nothing. Answers at once, without a promise, when the home already knows what D1
   * holds and has what the request needs in hand (the hot path).
   */
  admit(req: AdmitRequest): AdmitResult | Promise<AdmitResult> {
    const settling = this.settle(req);
    if (settling) return settling.then(() => this.attempt(req, 0));
    return this.attempt(req, 0);
  }

  /**
   * One look at what the request needs, decided and spent in one synchronous breath (a budget
   * looked at before an await may have been spent by another request meanwhile). When the
   * owner's home must be asked, or the regions hold what the ledger lacks, it does that and
   * looks again; after LAST_ROUND a lack is a refusal.
   */
  private attempt(req: AdmitRequest, round: number): AdmitResult | Promise<AdmitResult> {
    const home = this.region;
    const known = this.known(req.keyId);
    if (known > req.version) return { outcome: "STALE", version: known, home };
    if (req.version > known) this.writeNow(`ver:${req.keyId}`, req.version);

    const now = Date.now();
    const last = round >= LAST_ROUND;
    if (this.ownerStale(req)) return { outcome: "STALE", owner: true, home };
    const lacking = this.ledger.lacking(req.ratelimits, req.cost, true, now);
    if (lacking !== null && !last && this.ledger.holdersHold(lacking, now)) return this.ledger.reclaim().then(() => this.attempt(req, round + 1));
    // The key's own rate limit refusing decides the answer: the owner's home need not be asked.
    const keyLimited = lacking !== null && lacking !== "credits";
    if (keyLimited && this.ownerLeased(req, now)) return this.refused("RATE_LIMITED", lacking, req, now);
    const owner = this.ownerVerdict(req, now, round);
    if (owner?.kind === "ask") return this.renewOwner(req).then(() => this.attempt(req, round + 1));
    if (keyLimited) return this.refused("RATE_LIMITED", lacking, req, now);
    if (owner?.kind === "refuse" && !owner.credits) return this.refused("RATE_LIMITED", owner.limit, req, now);
    if (lacking === "credits") return this.refused("QUOTA_EXHAUSTED", "credits", req, now);
    if (owner?.kind === "refuse") return this.refused("QUOTA_EXHAUSTED", "owner.credits", req, now);

    this.ledger.take(req.ratelimits, req.cost, true, now);
    if (owner?.kind === "admit") this.ownerHolder(req.owner!.id).holder.spend(owner, req.cost, now);
    this.recordUse(req.keyId, now);
    if (req.cost > 0) {
      const balance = this.ledger.balance(now);
      if (balance) this.noticeCredits(req.keyId, balance);
    }
    return { outcome: "OK", limits: this.states(req, now), credits: this.credits(req, now), home };
  }

  private refused(outcome: "RATE_LIMITED" | "QUOTA_EXHAUSTED", limit: string, req: AdmitRequest, now: number): AdmitResult {
    if (outcome === "RATE_LIMITED") {
      const own = req.ratelimits.find((rl) => rl.name === limit);
      const shared = req.owner?.ratelimits.find((rl) => rl.name === limit);
      if (own) this.noticeRateLimited(req, own, this.ledger.window(own, now).start, now);
      else if (shared) this.noticeRateLimited(req, shared, this.ownerHolder(req.owner!.id).holder.windowStart(limit), now);
    }
    const limits = this.states(req, now);
    const credits = this.credits(req, now);
    const retryAfter =
      outcome === "RATE_LIMITED"
        ? (limits.find((l) => l.name === limit)?.reset ?? 1)
        : ((limit === "credits" ? this.ledger.creditView(now) : this.ownerHolder(req.owner!.id).holder.creditView(now))?.refillIn ?? NO_REFILL_RETRY_SECONDS);
    return { outcome, limits, credits, retryAfter, limit, home: this.region };
  }

  /** Every limit the request had to fit: the key's, then its owner's. */
  private states(req: AdmitRequest, now: number): LimitState[] {
    const own = this.ledger.states(req.ratelimits, now);
    return req.owner ? [...own, ...this.ownerHolder(req.owner.id).holder.states(req.owner.ratelimits, now)] : own;
  }

  /** The key's credits when it has its own, else its owner's shared balance. */
  private credits(req: AdmitRequest, now: number): CreditState | null {
    return this.ledger.creditView(now) ?? (req.owner?.credits ? this.ownerHolder(req.owner.id).holder.creditView(now) : null);
  }

  /** The current state without consuming anything (for `POST /admin/keys/verify` and key reads). */
  async peek(req: PeekRequest): Promise<PeekResult> {
    await this.settle({ ...req, region: null });
    return this.ledger.view(req.ratelimits, Date.now());
  }

  /** The newest record version of a key that D1 holds, as far as this object can tell (0: unknown). */
  async version(req: VersionRequest): Promise<number> {
    await this.settle(req);
    return this.known(req.keyId);
  }

  /**
   * A regional object's lease: the lineage's versions, budgets for the windows it asks about, and
   * credits, for `LEASE_MS` from when it asked.
   */
  async lease(req: LeaseRequest): Promise<LeaseGrant> {
    // A lease never places the home: only a consumer request from its own region creates it.
    await this.settle({ ...req, region: null, keyId: req.keys[0] ?? null });
    for (const keyId of req.keys.slice(1)) await this.settle({ ...req, region: null, keyId });
    const granted = await this.ledger.grant(
      { kind: "regional", name: regionalName(req.lineageId, req.region), region: req.region },
      req,
      (source) => !("keyId" in source) || this.known(source.keyId) <= source.version,
    );
    // What the region reported spent moves the balance: the lineage's first key stands for it.
    const balance = req.spent > 0 ? this.ledger.balance(Date.now()) : null;
    if (balance) this.noticeCredits(req.lineageId, balance);
    return { ...granted, home: this.region, seq: this.read<number>("seq") ?? 0, versions: this.versions() };
  }

  /** From the owner's home: a change to the owner or its plan. */
  apply(apply: Apply): Returned {
    return this.applyOwner(apply);
  }

  /** From the owner's home, which ran out: the owner's budgets held here go back. */
  release(from: Apply["from"]): Returned {
    return from === "owner" ? this.ownerHolding(true) : { limits: [], credits: null };
  }

  holding(from: Apply["from"]): Returned {
    return from === "owner" ? this.ownerHolding(false) : { limits: [], credits: null };
  }

  /**
   * An admin change to this lineage: committed to D1 here, gated on the `seq` the admin API
   * planned it from and on `until`, then taken into this object's state and told to every region
   * before the answer. "failed": D1 could not write it, and nothing was written.
   */
  change(req: ChangeRequest): Promise<ChangeResult | { outcome: "failed" }> {
    const run = this.changing.then(() => this.changeNow(req));
    this.changing = run.catch(() => undefined);
    return run;
  }

  private async changeNow(req: ChangeRequest): Promise<ChangeResult | { outcome: "failed" }> {
    await this.settle({ ...req, region: null, keyId: null });
    // The admin API hands a change over again when the answer to it was lost: the first outcome stands.
    const last = this.read<{ token: string; outcome: ChangeResult["outcome"] | "failed" }>("lastChange");
    if (last?.token === req.token) return { outcome: last.outcome };
    if (Date.now() >= req.until - CHANGE_MARGIN_MS) return { outcome: "expired" };
    const committing: Committing = { until: req.until, audit: req.audit, writes: req.writes.map((w) => ({ after: w.after })) };
    this.writeNow("committing", committing);
    let outcome;
    try {
      outcome = await commitChange(this.env.DB, { ...req, credits: req.credits?.value, lineage: { id: req.lineageId, seq: req.seq } });
    } catch {
      // D1 threw: the batch may still land, until D1's clock passes `until`. Settle it for good.
      // If D1 cannot be read either, the marker stays and this object settles it before it answers anything.
      const landed = await settleLostCommit(this.env.DB, committing);
      outcome = landed ? ("committed" as const) : ("failed" as const);
    }
    this.writeNow("committing", undefined);
    this.writeNow("lastChange", { token: req.token, outcome });
    if (outcome === "committed") {
      const changedAt = Date.now();
      const limits = req.writes.some((w) => w.before !== null && JSON.stringify(w.before.ratelimits) !== JSON.stringify(w.after.ratelimits));
      const versions = Object.fromEntries(req.writes.map((w) => [w.after.id, w.after.version]));
      this.adopt({ seq: req.seq + 1, versions });
      if (req.credits) this.ledger.setCredits(req.credits.value, this.ledger.creditsVersion() + 1, changedAt);
      await this.ledger.tell({ from: "lineage", seq: req.seq + 1, versions, limits, credits: req.credits !== undefined }, changedAt);
    }
    return { outcome };
  }

  /**
   * Makes sure this object knows what D1 holds before it answers. Costs nothing on the hot
   * path: only the first call of the object's life, a change a previous life left unsettled,
   * or a key never seen before make it read D1.
   */
  private settle(req: { lineageId: string; region: Region | null; keyId: string | null }): Promise<void> | null {
    this.remember(req.lineageId, req.region);
    const claimed = this.read<boolean>("claimed") === true;
    const unsettled = this.read("committing") !== undefined || this.read("pending") !== undefined;
    if (claimed && !unsettled && (req.keyId === null || this.read(`ver:${req.keyId}`) !== undefined)) return null;
    return this.settleFromD1(req.keyId, !claimed);
  }

  private async settleFromD1(keyId: string | null, claim: boolean): Promise<void> {
    const committing = this.read<Committing>("committing");
    // A change a previous life of this object was committing: once D1's clock has passed its
    // `until` it has landed or never will, and the read below sees which.
    if (committing) await settleLostCommit(this.env.DB, committing);
    await this.refresh(claim);
    if (committing) this.writeNow("committing", undefined);
    // Announcements of the protocol before regions: the read above settled them.
    if (this.read("pending") !== undefined) this.writeNow("pending", undefined);
    // A key D1 does not list either: remember that it was looked for, so it is not looked for again.
    if (keyId !== null && this.read(`ver:${keyId}`) === undefined) this.writeNow(`ver:${keyId}`, 0);
  }

  /**
   * A read of D1 that started after the caller arrived. A read already in flight may have
   * started before the caller's change committed, so callers arriving during one share the next
   * read instead: at most one read runs and one waits, however many requests come.
   */
  private refresh(claim: boolean): Promise<void> {
    if (!this.reading) {
      this.reading = this.readLineage(claim).finally(() => (this.reading = null));
      return this.reading;
    }
    this.queuedClaims ||= claim;
    this.queued ??= this.reading
      .catch(() => undefined)
      .then(() => {
        const claimNext = this.queuedClaims;
        this.queued = null;
        this.queuedClaims = false;
        return this.refresh(claimNext);
      });
    return this.queued;
  }

  private async readLineage(claim: boolean): Promise<void> {
    const state = await readLineageState(this.env.DB, this.lineageId, claim);
    this.adopt(state);
    this.adoptReadCredits(state.credits, state.creditsVersion);
    if (claim) this.writeNow("claimed", true);
  }

  /** Takes in versions D1 holds (or held when a change committed). Never moves anything backwards. */
  private adopt(state: Pick<LineageState, "seq" | "versions">): void {
    for (const [keyId, version] of Object.entries(state.versions)) {
      if (version > this.known(keyId)) this.writeNow(`ver:${keyId}`, version);
    }
    if (state.seq > (this.read<number>("seq") ?? 0)) this.writeNow("seq", state.seq);
  }

  /**
   * The credits D1 says an operator last set, read by this object (not handed over by a change).
   * Each setting is applied once, whatever the balance has become since. An object from before
   * credits were versioned holds a live balance and no version: the first version it reads is
   * the one its balance already reflects, so it is recorded, not applied.
   */
  private adoptReadCredits(credits: Credits | null, creditsVersion: number): void {
    const applied = this.read<number>("creditsVersion");
    if (applied === undefined && this.read("credits") !== undefined) this.writeNow("creditsVersion", creditsVersion);
    else if (creditsVersion > (applied ?? 0)) this.ledger.setCredits(credits, creditsVersion, Date.now());
  }

  private known(keyId: string): number {
    return this.read<number>(`ver:${keyId}`) ?? 0;
  }

  private versions(): Record<string, number> {
    return Object.fromEntries([...this.kv.list<number>({ prefix: "ver:" })].map(([name, version]) => [name.slice(4), version]));
  }

  protected override liveCredits(): number | undefined {
    return this.ledger.creditView(Date.now())?.remaining;
  }
}

/** What a lineage's home would answer before it exists: every window unused, credits as last set. */
export function freshState(ratelimits: readonly RateLimit[], credits: Credits | null, now: number): PeekResult {
  return {
    limits: ratelimits.map((rl) => limitState(rl, { start: now, windowMs: rl.windowSeconds * 1000 }, rl.limit, now)),
    credits: credits && creditState(credits.remaining, credits.refill, now, now),
  };
}
