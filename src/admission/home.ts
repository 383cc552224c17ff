import type { Credits, RateLimit } from "../keys/record";
import { commitChange, readLineageState, settleLostCommit, type LineageState } from "../store/lineage";
import {
  creditState,
  currentWindow,
  limitState,
  poolFrom,
  refilled,
  unallocated,
  type CreditState,
  type Pool,
  type Window,
} from "./budget";
import { AdmissionObject } from "./object";
import { link } from "./link";
import { regionalName } from "./names";
import { withTimeout } from "./timeout";
import type {
  AdmitRequest,
  AdmitResult,
  Apply,
  ChangeRequest,
  ChangeResult,
  Grant,
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
 * the ledger of every rate-limit window, the credit balance, and which regions hold leases and
 * budgets. It admits the requests of its own region itself, grants budgets to the lineage's
 * regional objects and takes them back, and is the single writer of its lineage's changes once
 * it exists: the admin API hands it a planned change, it commits the gated D1 batch, takes the
 * change into its state, tells every region, then answers. The protocol and the interleavings it
 * was checked against are in docs/consistency.md.
 */

/** A region's lease and what it holds, as the home recorded them (the home's clock). */
interface RegionLease {
  /** the lease ends by then: the region stops admitting on what it knew */
  until: number;
  /** when the home last granted it a lease */
  at: number;
  /** per limit: the window the region's budget belongs to, and how much it was granted in it */
  grants: Record<string, { start: number; amount: number }>;
  /** the credit budget it was granted in the current epoch, and what it reported spent of it */
  credits: { epoch: number; granted: number; spent: number } | null;
}

/** A change being committed: what a restarted home settles from D1 before it answers anything. */
interface Committing {
  until: number;
  audit: ChangeRequest["audit"];
  writes: Pick<ChangeRequest["writes"][number], "after">[];
}

type RegionalStub = ReturnType<Env["REGIONAL_STATE"]["get"]>;

/**
 * The most one grant takes of what is left: half of it (all of the last one), so the regions
 * still asking find some, and a busy region's budget grows over a few leases instead of one
 * region taking the whole window at once.
 */
const shareOf = (left: number): number => (left <= 1 ? Math.max(0, left) : Math.ceil(left / 2));

const NO_REFILL_RETRY_SECONDS = 86_400;
/** A change handed over this close to its `until` is not started: its batch could land too late to be told. */
const CHANGE_MARGIN_MS = 500;

export class KeyState extends AdmissionObject {
  /** The D1 read in flight, and at most one more queued behind it (see `refresh`). */
  private reading: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private queuedClaims = false;
  /** Changes run one at a time, in the order they arrive. */
  private changing: Promise<unknown> = Promise.resolve();
  /** The budgets being taken back from the regions, shared by whoever needs them meanwhile. */
  private reclaiming: Promise<void> | null = null;

  protected get name(): string {
    return this.lineageId;
  }

  /**
   * Rate limits then credits; all or nothing, so a refused request consumes nothing. Answers
   * at once, without a promise, when the home already knows what D1 holds and has what the
   * request needs in hand (the hot path).
   */
  admit(req: AdmitRequest): AdmitResult | Promise<AdmitResult> {
    const settling = this.settle(req);
    if (settling) return settling.then(() => this.admitNow(req, true));
    return this.admitNow(req, true);
  }

  /** Earlier name of `admit`, for gateways deployed before regions (one release). */
  check(req: AdmitRequest): AdmitResult | Promise<AdmitResult> {
    return this.admit(req);
  }

  private admitNow(req: AdmitRequest, mayReclaim: boolean): AdmitResult | Promise<AdmitResult> {
    const home = this.region;
    const known = this.known(req.keyId);
    if (known > req.version) return { outcome: "STALE", version: known, home };
    if (req.version > known) this.writeNow(`ver:${req.keyId}`, req.version);

    const now = Date.now();
    const windows = req.ratelimits.map((rl) => currentWindow(this.read<Window>(`rl:${rl.name}`), rl, now));
    const full = req.ratelimits.findIndex((rl, i) => windows[i].count >= rl.limit);
    if (full >= 0) {
      const name = req.ratelimits[full].name;
      if (mayReclaim && this.regionsHold(name, windows[full].start, now)) {
        return this.reclaim().then(() => this.admitNow(req, false));
      }
      const limits = req.ratelimits.map((rl, i) => limitState(rl, windows[i], unallocated(windows[i], rl), now));
      return {
        outcome: "RATE_LIMITED",
        limits,
        credits: this.creditView(now),
        retryAfter: Math.max(...limits.filter((l) => l.remaining <= 0).map((l) => l.reset)),
        limit: name,
        home,
      };
    }
    const pool = this.pool(now);
    if (pool && pool.remaining < req.cost) {
      if (mayReclaim && this.regionsHoldCredits(pool.epoch, now)) return this.reclaim().then(() => this.admitNow(req, false));
      const credits = this.creditView(now)!;
      const limits = req.ratelimits.map((rl, i) => limitState(rl, windows[i], unallocated(windows[i], rl), now));
      return { outcome: "QUOTA_EXHAUSTED", limits, credits, retryAfter: credits.refillIn ?? NO_REFILL_RETRY_SECONDS, limit: "credits", home };
    }

    // Counted in place: the window object is this object's own (memo), and is what gets persisted.
    for (let i = 0; i < windows.length; i++) {
      windows[i].count += 1;
      this.writeSoon(`rl:${req.ratelimits[i].name}`, windows[i]);
    }
    // A charge is durable before the answer leaves: credits are what a consumer pays for.
    if (pool && req.cost > 0) this.writeNow("credits", { ...pool, remaining: pool.remaining - req.cost });
    this.recordUse(req.keyId, now);
    return {
      outcome: "OK",
      limits: req.ratelimits.map((rl, i) => limitState(rl, windows[i], unallocated(windows[i], rl), now)),
      credits: this.creditView(now),
      home,
    };
  }

  /**
   * The current state without consuming anything (for `POST /admin/keys/verify` and key reads):
   * what no one has taken, plus what the regions hold unused, as they say (or, for a region that
   * does not answer, as the home last heard).
   */
  async peek(req: PeekRequest): Promise<PeekResult> {
    await this.settle({ ...req, region: null });
    const now = Date.now();
    const held = await this.regionsHolding(now);
    const pool = this.pool(now);
    return {
      limits: req.ratelimits.map((rl) => {
        const window = currentWindow(this.read<Window>(`rl:${rl.name}`), rl, now);
        const unused = held.reduce((sum, h) => sum + (h.limits.find((l) => l.name === rl.name && l.start === window.start)?.amount ?? 0), 0);
        return limitState(rl, window, unallocated(window, rl) + unused, now);
      }),
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

  /** What each region holding a lease holds unused. */
  private async regionsHolding(now: number): Promise<Returned[]> {
    return Promise.all(
      Object.entries(this.regions())
        .filter(([, lease]) => lease!.until > now)
        .map(async ([region, lease]) => {
          try {
            return await withTimeout(this.callRegion(region as Region, (stub) => stub.holding()), Math.min(lease!.until - now, this.config.stateTimeoutMs));
          } catch {
            const credits = lease!.credits;
            return { limits: [], credits: credits && { epoch: credits.epoch, amount: credits.granted - credits.spent } };
          }
        }),
    );
  }

  /** The newest record version of a key that D1 holds, as far as this object can tell (0: unknown). */
  async version(req: VersionRequest): Promise<number> {
    await this.settle(req);
    return this.known(req.keyId);
  }

  /**
   * A regional object's lease: the lineage's versions, budgets for the windows it asks about,
   * and credits, for `LEASE_MS` from when it asked. A region that asks for a budget the ledger no
   * longer has makes the home take back what other regions hold unused first.
   */
  async lease(req: LeaseRequest): Promise<LeaseGrant> {
    // A lease never places the home: only a consumer request from its own region creates it.
    await this.settle({ ...req, region: null, keyId: req.keys[0] ?? null });
    for (const keyId of req.keys.slice(1)) await this.settle({ ...req, region: null, keyId });
    const short = (now: number) =>
      req.wants.some(({ limit, want }) => unallocated(currentWindow(this.read<Window>(`rl:${limit.name}`), limit, now), limit) < Math.min(want, 1)) ||
      (req.credits > 0 && (this.pool(now)?.remaining ?? 1) < 1);
    if (short(Date.now()) && this.othersHold(req.region, Date.now())) await this.reclaim(req.region);

    const now = Date.now();
    const leaseMs = this.config.leaseMs;
    const regions = this.regions();
    const held: RegionLease = regions[req.region] ?? { until: 0, at: 0, grants: {}, credits: null };
    const grants: Grant[] = [];
    for (const { limit, want } of req.wants) {
      const window = currentWindow(this.read<Window>(`rl:${limit.name}`), limit, now);
      const amount = Math.min(want, shareOf(unallocated(window, limit)));
      window.count += amount;
      this.writeNow(`rl:${limit.name}`, window);
      const before = held.grants[limit.name];
      held.grants[limit.name] = { start: window.start, amount: (before?.start === window.start ? before.amount : 0) + amount };
      grants.push({ name: limit.name, start: window.start, windowMs: window.windowMs, amount, count: window.count });
    }
    let credits: LeaseGrant["credits"] = null;
    const pool = this.pool(now);
    if (pool) {
      const outstanding = held.credits?.epoch === pool.epoch ? held.credits : { epoch: pool.epoch, granted: 0, spent: 0 };
      outstanding.spent = Math.min(outstanding.granted, outstanding.spent + req.spent);
      const amount = Math.min(req.credits, shareOf(pool.remaining));
      outstanding.granted += amount;
      held.credits = outstanding;
      if (amount > 0) this.writeNow("credits", { ...pool, remaining: pool.remaining - amount });
      credits = { epoch: pool.epoch, amount, pool: pool.remaining - amount, refill: pool.refill, lastRefillAt: pool.lastRefillAt };
    }
    held.at = now;
    held.until = now + leaseMs;
    this.writeNow("regions", { ...regions, [req.region]: held });
    return { leaseMs, home: this.region, seq: this.read<number>("seq") ?? 0, versions: this.versions(), grants, credits };
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
    if (outcome === "committed") {
      const changedAt = Date.now();
      const limits = req.writes.some((w) => w.before !== null && JSON.stringify(w.before.ratelimits) !== JSON.stringify(w.after.ratelimits));
      const versions = Object.fromEntries(req.writes.map((w) => [w.after.id, w.after.version]));
      this.adopt({ seq: req.seq + 1, versions });
      if (req.credits) this.setCredits(req.credits.value, this.creditsVersion() + 1, changedAt);
      this.writeNow("committing", undefined);
      this.writeNow("lastChange", { token: req.token, outcome });
      await this.tellRegions({ lineageId: req.lineageId, seq: req.seq + 1, versions, limits, credits: req.credits !== undefined }, changedAt);
    } else {
      this.writeNow("committing", undefined);
      this.writeNow("lastChange", { token: req.token, outcome });
    }
    return { outcome };
  }

  /**
   * Tells every region that may hold a lease of a change, and waits until each has taken it in
   * or its lease has ended (at most LEASE_MS): a region that cannot be told stops admitting on
   * what it knew by then. A region whose lease was renewed after the change learned it that way.
   */
  private async tellRegions(apply: Apply, changedAt: number): Promise<void> {
    const regions = this.regions();
    await Promise.all(
      Object.entries(regions)
        .filter(([, lease]) => lease.until > changedAt)
        .map(async ([region, lease]) => {
          const wait = lease.until - Date.now();
          try {
            const returned = await withTimeout(this.callRegion(region as Region, (stub) => stub.apply(apply)), Math.max(0, wait));
            this.takeBack(region as Region, returned, apply.credits);
          } catch {
            // Unreachable: its lease ends by `lease.until` unless it renews, which tells it the change.
            for (;;) {
              const now = Date.now();
              const current = this.regions()[region as Region];
              if (!current || current.at >= changedAt || now >= lease.until) break;
              await new Promise((resolve) => setTimeout(resolve, Math.min(50, lease.until - now)));
            }
          }
        }),
    );
  }

  /** Takes back the budgets regions hold unused, so a request that finds the ledger spent can use them. */
  private reclaim(except?: Region): Promise<void> {
    this.reclaiming ??= (async () => {
      const now = Date.now();
      await Promise.all(
        Object.entries(this.regions())
          .filter(([region, lease]) => region !== except && lease.until > now)
          .map(async ([region, lease]) => {
            try {
              const returned = await withTimeout(
                this.callRegion(region as Region, (stub) => stub.release()),
                Math.max(0, Math.min(lease.until - now, this.config.stateTimeoutMs)),
              );
              this.takeBack(region as Region, returned, false);
            } catch {
              // What an unreachable region holds stays counted until its window ends: never over-admitted.
            }
          }),
      );
    })().finally(() => (this.reclaiming = null));
    return this.reclaiming;
  }

  /** Adds what a region gave back to the ledger, for the windows it belongs to; void credits are dropped. */
  private takeBack(region: Region, returned: Returned, creditsVoid: boolean): void {
    const regions = this.regions();
    const held = regions[region];
    if (!held) return;
    for (const back of returned.limits) {
      const window = this.read<Window>(`rl:${back.name}`);
      const grant = held.grants[back.name];
      if (!window || window.start !== back.start || !grant || grant.start !== back.start) continue;
      const amount = Math.min(back.amount, grant.amount);
      window.count -= amount;
      grant.amount -= amount;
      this.writeNow(`rl:${back.name}`, window);
    }
    const pool = this.pool(Date.now());
    if (returned.credits && pool && held.credits && returned.credits.epoch === pool.epoch && !creditsVoid) {
      const amount = Math.min(returned.credits.amount, held.credits.granted - held.credits.spent);
      held.credits.granted -= amount;
      this.writeNow("credits", { ...pool, remaining: pool.remaining + amount });
    }
    this.writeNow("regions", { ...regions, [region]: held });
  }

  private callRegion<T>(region: Region, call: (stub: RegionalStub) => Promise<T>): Promise<T> {
    const name = regionalName(this.lineageId, region);
    const ns = this.env.REGIONAL_STATE;
    return link().call(this.region, { name, region, hint: region }, () => call(ns.get(ns.idFromName(name), { locationHint: region })));
  }

  private regions(): Partial<Record<Region, RegionLease>> {
    return this.read<Partial<Record<Region, RegionLease>>>("regions") ?? {};
  }

  private regionsHold(name: string, start: number, now: number): boolean {
    return Object.values(this.regions()).some((lease) => lease!.until > now && lease!.grants[name]?.start === start && lease!.grants[name].amount > 0);
  }

  private regionsHoldCredits(epoch: number, now: number): boolean {
    return Object.values(this.regions()).some((lease) => lease!.until > now && lease!.credits?.epoch === epoch && lease!.credits.granted > lease!.credits.spent);
  }

  private othersHold(except: Region, now: number): boolean {
    return Object.entries(this.regions()).some(([region, lease]) => region !== except && lease!.until > now);
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
    if (state.creditsVersion !== undefined) this.adoptReadCredits(state.credits, state.creditsVersion);
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
    else if (creditsVersion > (applied ?? 0)) this.setCredits(credits, creditsVersion, Date.now());
  }

  /** An operator set the credits: the live balance is what they set, and every budget granted before is void. */
  private setCredits(credits: Credits | null, creditsVersion: number, now: number): void {
    const epoch = (this.read<Pool>("credits")?.epoch ?? 0) + 1;
    this.writeNow("credits", credits ? poolFrom(credits, now, epoch) : undefined);
    this.writeNow("creditsVersion", creditsVersion);
  }

  private creditsVersion(): number {
    return this.read<number>("creditsVersion") ?? 0;
  }

  private known(keyId: string): number {
    return this.read<number>(`ver:${keyId}`) ?? 0;
  }

  private versions(): Record<string, number> {
    return Object.fromEntries([...this.kv.list<number>({ prefix: "ver:" })].map(([name, version]) => [name.slice(4), version]));
  }

  /** The pool at `now`, refilled when a refill moment has passed (then budgets granted before are void). */
  private pool(now: number): Pool | null {
    const stored = this.read<Pool>("credits");
    if (!stored) return null;
    const pool = refilled({ ...stored, epoch: stored.epoch ?? 0 }, now);
    if (pool !== stored && pool.lastRefillAt !== stored.lastRefillAt) this.writeNow("credits", pool);
    return pool;
  }

  /** What the lineage has left: the pool, and what regions were granted in this epoch and have not reported spent. */
  private creditView(now: number): CreditState | null {
    const pool = this.pool(now);
    if (!pool) return null;
    const outstanding = Object.values(this.regions()).reduce(
      (sum, lease) => sum + (lease!.credits?.epoch === pool.epoch ? lease!.credits.granted - lease!.credits.spent : 0),
      0,
    );
    return creditState(pool.remaining + outstanding, pool.refill, pool.lastRefillAt, now);
  }

  protected override liveCredits(): number | undefined {
    return this.creditView(Date.now())?.remaining;
  }
}

/** What a lineage's home would answer before it exists: every window unused, credits as last set. */
export function freshState(ratelimits: readonly RateLimit[], credits: Credits | null, now: number): PeekResult {
  return {
    limits: ratelimits.map((rl) => limitState(rl, { start: now, windowMs: rl.windowSeconds * 1000 }, rl.limit, now)),
    credits: credits && creditState(credits.remaining, credits.refill, now, now),
  };
}
