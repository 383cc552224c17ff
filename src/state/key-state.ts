import { DurableObject } from "cloudflare:workers";
import { recordUsage, type UsageDelta } from "../store/keys";
import { readLineageState, type LineageState } from "../store/lineage";
import type { Credits, RateLimit } from "../keys/record";
import { nextRefill } from "./credits";

/**
 * One object per key lineage (a key and the keys rotated from it). It owns what must be
 * exact and immediate: rate-limit counters, credits, and the version of each key's record,
 * so an admin change applies to the very next request. How it learns of changes without the
 * admin API ever creating it is in docs/consistency.md. Counters change only in synchronous
 * code, so concurrent requests are serialised and the counts are exact.
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
  /** seconds until the next refill; null when the key never refills */
  refillIn: number | null;
}

/** Every call names the lineage, so the object can read it from D1 when it must. */
interface LineageCall {
  lineageId: string;
}

export interface CheckRequest extends LineageCall {
  keyId: string;
  /** the version of the record the gateway holds */
  version: number;
  ratelimits: RateLimit[];
  cost: number;
}

export type CheckResult =
  | { outcome: "STALE"; version: number }
  | {
      outcome: "OK" | "RATE_LIMITED" | "QUOTA_EXHAUSTED";
      limits: LimitState[];
      credits: CreditState | null;
      /** seconds, on a refusal */
      retryAfter?: number;
    };

export interface PeekResult {
  limits: LimitState[];
  credits: CreditState | null;
}

/** From the admin API before it commits a change: D1 may soon hold versions this object lacks. */
export interface Prepare extends LineageCall {
  token: string;
  /** the lineage's `seq` once the change commits */
  expectSeq: number;
}

/** From the admin API after the change committed: the versions and credits D1 now holds. */
export interface Confirm extends LineageCall {
  seq: number;
  versions: Record<string, number>;
  credits?: { version: number; value: Credits | null };
}

interface Pending {
  token: string;
  expectSeq: number;
  /** after this, the object claims the lineage, so a change that has not committed never can */
  until: number;
}

interface Window {
  windowMs: number;
  start: number;
  count: number;
}

interface StoredCredits {
  remaining: number;
  refill: Credits["refill"];
  lastRefillAt: number;
}

/** A usage write to D1 in progress: kept until D1 confirms it, and retried under the same id. */
interface Flush {
  id: string;
  deltas: UsageDelta[];
  remaining?: number;
}

/** How long usage may wait before it is written to D1 (DESIGN.md allows 60 s of lag). */
export const FLUSH_INTERVAL_MS = 30_000;
/** How long a failed usage write waits before it is tried again. */
const FLUSH_RETRY_MS = 10_000;
/** How long counter updates may wait in memory before they reach the object's storage. */
export const PERSIST_DELAY_MS = 1_000;
/** How long an admin change may take between telling the object and committing to D1. */
const PENDING_MS = 30_000;
const NO_REFILL_RETRY_SECONDS = 86_400;

export class KeyState extends DurableObject<Env> {
  private readonly kv = this.ctx.storage.kv;
  /**
   * Storage values as last read or written. The object runs one call at a time, so while it
   * lives this is the truth; storage is its durable copy.
   */
  private readonly memo = new Map<string, unknown>();
  /** Names written to `memo` that storage has not caught up with yet. */
  private readonly dirty = new Set<string>();
  private persistTimer: ReturnType<typeof setTimeout> | null = null;
  private alarmArmed = false;
  /** The D1 read in flight, and at most one more queued behind it (see `refresh`). */
  private reading: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private queuedClaims = false;

  /**
   * Rate limits then credits; all or nothing, so a refused request consumes nothing. Answers
   * at once, without a promise, when the object already knows what D1 holds (the hot path).
   */
  check(req: CheckRequest): CheckResult | Promise<CheckResult> {
    const settling = this.settle(req);
    return settling ? settling.then(() => this.checkNow(req)) : this.checkNow(req);
  }

  private checkNow(req: CheckRequest): CheckResult {
    const known = this.known(req.keyId);
    if (known > req.version) return { outcome: "STALE", version: known };
    if (req.version > known) this.writeNow(`ver:${req.keyId}`, req.version);

    const now = Date.now();
    const windows = req.ratelimits.map((rl) => this.window(rl, now));
    const credits = this.credits(now);
    const refused = windows.some((w, i) => w.count >= req.ratelimits[i].limit);
    if (refused) {
      const limits = req.ratelimits.map((rl, i) => limitState(rl, windows[i], now));
      return {
        outcome: "RATE_LIMITED",
        limits,
        credits: creditState(credits, now),
        retryAfter: Math.max(...limits.filter((l) => l.remaining <= 0).map((l) => l.reset)),
      };
    }
    if (credits && credits.remaining < req.cost) {
      const state = creditState(credits, now)!;
      const limits = req.ratelimits.map((rl, i) => limitState(rl, windows[i], now));
      return { outcome: "QUOTA_EXHAUSTED", limits, credits: state, retryAfter: state.refillIn ?? NO_REFILL_RETRY_SECONDS };
    }

    // Counted in place: the window object is this object's own (memo), and is what gets persisted.
    for (let i = 0; i < windows.length; i++) {
      windows[i].count += 1;
      this.writeSoon(`rl:${req.ratelimits[i].name}`, windows[i]);
    }
    // A charge is durable before the answer leaves: credits are what a consumer pays for.
    if (credits !== null && req.cost > 0) this.writeNow("credits", { ...credits, remaining: credits.remaining - req.cost });
    this.recordUse(req.keyId, now);
    return {
      outcome: "OK",
      limits: req.ratelimits.map((rl, i) => limitState(rl, windows[i], now)),
      credits: creditState(this.read<StoredCredits>("credits") ?? null, now),
    };
  }

  /** The current state without consuming anything (for `POST /admin/keys/verify` and key reads). */
  async peek(req: Omit<CheckRequest, "cost" | "version"> & { keyId: string }): Promise<PeekResult> {
    await this.settle(req);
    const now = Date.now();
    return {
      limits: req.ratelimits.map((rl) => limitState(rl, this.window(rl, now), now)),
      credits: creditState(this.credits(now), now),
    };
  }

  /** The newest record version of a key that D1 holds, as far as this object can tell (0: unknown). */
  async version(req: LineageCall & { keyId: string }): Promise<number> {
    await this.settle(req);
    return this.known(req.keyId);
  }

  /** Step 1 of an admin change: until it is confirmed or D1 says otherwise, check D1 before answering. */
  prepare(req: Prepare): void {
    this.remember(req.lineageId);
    this.writeNow("pending", [...this.pending(), { token: req.token, expectSeq: req.expectSeq, until: Date.now() + PENDING_MS }]);
  }

  /** Step 3 of an admin change, after D1 committed it. */
  confirm(req: Confirm): void {
    this.remember(req.lineageId);
    // A change that set no credits says nothing about them: the balance is left as it is.
    this.adopt({ seq: req.seq, versions: req.versions, ...(req.credits ? { credits: req.credits.value, creditsVersion: req.credits.version } : {}) });
  }

  /** An admin change that is known not to have committed. */
  abort(req: LineageCall & { token: string }): void {
    this.writeNow(
      "pending",
      this.pending().filter((p) => p.token !== req.token),
    );
  }

  override async alarm(): Promise<void> {
    this.persist();
    const lineageId = this.read<string>("lineage");
    let flush = this.read<Flush>("flush");
    if (!flush && lineageId) {
      // persist() above brought storage up to date with memory, so storage lists every pending use.
      const deltas = [...this.kv.list<UsageDelta>({ prefix: "use:" })].map(([, delta]) => delta);
      if (deltas.length > 0) {
        // Taken out of `use:` in one step, so uses arriving during the write start afresh.
        const n = (this.read<number>("flushes") ?? 0) + 1;
        flush = { id: `${this.ctx.id.toString()}:${n}`, deltas, remaining: this.read<StoredCredits>("credits")?.remaining };
        this.writeNow("flushes", n);
        this.writeNow("flush", flush);
        for (const delta of deltas) this.writeNow(`use:${delta.keyId}`, undefined);
      }
    }
    this.alarmArmed = false;
    if (flush && lineageId) {
      try {
        await recordUsage(this.env.DB, flush.id, lineageId, flush.deltas, flush.remaining);
        this.writeNow("flush", undefined);
      } catch (err) {
        console.error(JSON.stringify({ level: "error", msg: "usage flush failed; retrying", flush: flush.id, error: String(err) }));
        this.armAlarm(FLUSH_RETRY_MS);
        return;
      }
    }
    if ([...this.memo.entries()].some(([name, value]) => name.startsWith("use:") && value !== undefined)) this.armAlarm();
  }

  /**
   * Makes sure this object knows what D1 holds before it answers. Costs nothing on the hot
   * path: only the first call of the object's life, an admin change not yet confirmed, or a
   * key never seen before make it read D1.
   */
  private settle(req: LineageCall & { keyId: string }): Promise<void> | null {
    this.remember(req.lineageId);
    const claimed = this.read<boolean>("claimed") === true;
    const pending = this.pending();
    if (claimed && pending.length === 0 && this.read(`ver:${req.keyId}`) !== undefined) return null;
    return this.settleFromD1(req, !claimed || pending.some((p) => p.until <= Date.now()));
  }

  private async settleFromD1(req: { keyId: string }, claim: boolean): Promise<void> {
    await this.refresh(claim);
    // A key D1 does not list either: remember that it was looked for, so it is not looked for again.
    if (this.read(`ver:${req.keyId}`) === undefined) this.writeNow(`ver:${req.keyId}`, 0);
  }

  /**
   * A read of D1 that started after the caller arrived. A read already in flight may have
   * started before the caller's admin change committed, so callers arriving during one share
   * the next read instead: at most one read runs and one waits, however many requests come.
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
    const state = await readLineageState(this.env.DB, this.read<string>("lineage")!, claim);
    this.adopt(state);
    if (claim) this.writeNow("claimed", true);
  }

  /**
   * Takes in what D1 holds (or held when an admin change committed). Never moves anything
   * backwards. Without `creditsVersion` (a confirmed change that did not set credits) the
   * credits are not touched.
   */
  private adopt(state: Omit<LineageState, "credits" | "creditsVersion"> & Partial<Pick<LineageState, "credits" | "creditsVersion">>): void {
    for (const [keyId, version] of Object.entries(state.versions)) {
      if (version > this.known(keyId)) this.writeNow(`ver:${keyId}`, version);
    }
    if (state.creditsVersion !== undefined) this.adoptCredits(state.credits ?? null, state.creditsVersion);
    const pending = this.pending();
    const open = pending.filter((p) => p.expectSeq > state.seq);
    if (open.length !== pending.length) this.writeNow("pending", open);
  }

  private adoptCredits(credits: LineageState["credits"], creditsVersion: number): void {
    const applied = this.read<number>("creditsVersion");
    if (applied === undefined && this.read("credits") !== undefined) {
      // A balance kept from before credits were versioned: it is live, D1's is a lagging copy.
      this.writeNow("creditsVersion", creditsVersion);
    } else if (creditsVersion > (applied ?? 0)) {
      // Each setting by an operator is applied once, whatever the balance has become since.
      this.writeNow("credits", credits ? { ...credits, lastRefillAt: Date.now() } : undefined);
      this.writeNow("creditsVersion", creditsVersion);
    }
  }

  private remember(lineageId: string): void {
    if (this.read<string>("lineage") === undefined) this.writeNow("lineage", lineageId);
  }

  private known(keyId: string): number {
    return this.read<number>(`ver:${keyId}`) ?? 0;
  }

  private pending(): Pending[] {
    return this.read<Pending[]>("pending") ?? [];
  }

  private window(rl: RateLimit, now: number): Window {
    const windowMs = rl.windowSeconds * 1000;
    const stored = this.read<Window>(`rl:${rl.name}`);
    if (stored && stored.windowMs === windowMs && now < stored.start + windowMs) return stored;
    return { windowMs, start: now, count: 0 };
  }

  private credits(now: number): StoredCredits | null {
    let credits = this.read<StoredCredits>("credits");
    if (!credits) return null;
    if (credits.refill && now >= nextRefill(credits.refill, credits.lastRefillAt)) {
      credits = { ...credits, remaining: credits.refill.amount, lastRefillAt: now };
      this.writeNow("credits", credits);
    }
    return credits;
  }

  private recordUse(keyId: string, now: number): void {
    const name = `use:${keyId}`;
    const use = this.read<UsageDelta>(name);
    if (use) {
      // counted in place, as windows are: a flush takes its own copy from storage
      use.count += 1;
      use.lastUsedAt = now;
    }
    this.writeSoon(name, use ?? { keyId, count: 1, lastUsedAt: now });
    // The first pending use arms the flush to D1; later ones ride along.
    if (!this.alarmArmed) this.armAlarm();
  }

  private armAlarm(delay = FLUSH_INTERVAL_MS): void {
    this.alarmArmed = true;
    void this.ctx.storage.setAlarm(Date.now() + delay);
  }

  private read<T>(name: string): T | undefined {
    if (!this.memo.has(name)) this.memo.set(name, this.kv.get(name));
    return this.memo.get(name) as T | undefined;
  }

  /** Written with this call's storage commit (undefined deletes). */
  private writeNow(name: string, value: unknown): void {
    this.memo.set(name, value);
    this.dirty.delete(name);
    if (value === undefined) this.kv.delete(name);
    else this.kv.put(name, value);
  }

  /**
   * Written to storage within PERSIST_DELAY_MS, so a burst of requests shares one commit
   * instead of paying one each. Should the object end before then, those counts are lost:
   * the trade documented in docs/behaviour.md.
   */
  private writeSoon(name: string, value: unknown): void {
    this.memo.set(name, value);
    this.dirty.add(name);
    this.persistTimer ??= setTimeout(() => this.persist(), PERSIST_DELAY_MS);
  }

  private persist(): void {
    if (this.persistTimer !== null) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    for (const name of this.dirty) this.kv.put(name, this.memo.get(name));
    this.dirty.clear();
  }
}

/** What a lineage's object would answer before it exists: every window unused, credits as last set. */
export function freshState(ratelimits: readonly RateLimit[], credits: Credits | null, now: number): PeekResult {
  return {
    limits: ratelimits.map((rl) => limitState(rl, { windowMs: rl.windowSeconds * 1000, start: now, count: 0 }, now)),
    credits: creditState(credits && { ...credits, lastRefillAt: now }, now),
  };
}

function limitState(rl: RateLimit, window: Window, now: number): LimitState {
  return {
    name: rl.name,
    limit: rl.limit,
    windowSeconds: rl.windowSeconds,
    remaining: Math.max(0, rl.limit - window.count),
    reset: Math.max(1, Math.ceil((window.start + window.windowMs - now) / 1000)),
  };
}

function creditState(credits: StoredCredits | null, now: number): CreditState | null {
  if (!credits) return null;
  return {
    remaining: credits.remaining,
    refillIn: credits.refill ? Math.max(1, Math.ceil((nextRefill(credits.refill, credits.lastRefillAt) - now) / 1000)) : null,
  };
}
