import { DurableObject } from "cloudflare:workers";
import { recordUsage, type UsageDelta } from "../store/keys";
import type { Credits, RateLimit } from "../store/record";
import { nextRefill } from "./credits";

/**
 * One object per key lineage (a key and the keys rotated from it). It owns what must be
 * exact and immediate: rate-limit counters, credits, and the version of each key's record,
 * so an admin change applies to the very next request (DESIGN.md, "Consistency").
 * Every method runs synchronously against the object's SQLite storage, so concurrent
 * requests are serialised and the counters are exact.
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

export interface CheckRequest {
  keyId: string;
  /** the version of the record the gateway holds */
  version: number;
  ratelimits: RateLimit[];
  /** the record's credits, used only if this lineage has no credit state yet */
  credits: Credits | null;
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
  version: number;
}

export interface SyncRequest {
  keyId: string;
  version: number;
  /** present when the record's credits were set: replaces the lineage's credit state */
  credits?: Credits | null;
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

/** How long usage may wait before it is written to D1 (DESIGN.md allows 60 s of lag). */
export const FLUSH_INTERVAL_MS = 30_000;
/** How long counter updates may wait in memory before they reach the object's storage. */
export const PERSIST_DELAY_MS = 1_000;
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

  /** Rate limits then credits; all or nothing, so a refused request consumes nothing. */
  check(req: CheckRequest): CheckResult {
    const known = this.version(req.keyId);
    if (known > req.version) return { outcome: "STALE", version: known };
    if (req.version > known) this.writeNow(`ver:${req.keyId}`, req.version);

    const now = Date.now();
    const windows = req.ratelimits.map((rl) => this.window(rl, now));
    const limits = req.ratelimits.map((rl, i) => limitState(rl, windows[i], now));
    const exhausted = limits.filter((l) => l.remaining <= 0);
    const credits = this.credits(req.credits, now);
    if (exhausted.length > 0) {
      return {
        outcome: "RATE_LIMITED",
        limits,
        credits: creditState(credits, now),
        retryAfter: Math.max(...exhausted.map((l) => l.reset)),
      };
    }
    if (credits && credits.remaining < req.cost) {
      const state = creditState(credits, now)!;
      return {
        outcome: "QUOTA_EXHAUSTED",
        limits,
        credits: state,
        retryAfter: state.refillIn ?? NO_REFILL_RETRY_SECONDS,
      };
    }

    req.ratelimits.forEach((rl, i) => {
      windows[i] = { ...windows[i], count: windows[i].count + 1 };
      this.writeSoon(`rl:${rl.name}`, windows[i]);
    });
    const charged = credits !== null && req.cost > 0;
    // A charge is durable before the answer leaves: credits are what a consumer pays for.
    if (charged) this.writeNow("credits", { ...credits, remaining: credits.remaining - req.cost });
    this.recordUse(req.keyId, now, charged ? credits.remaining - req.cost : undefined);
    return {
      outcome: "OK",
      limits: req.ratelimits.map((rl, i) => limitState(rl, windows[i], now)),
      credits: creditState(this.read<StoredCredits>("credits") ?? null, now),
    };
  }

  /** The current state without consuming anything (for `POST /admin/keys/verify`). */
  peek(req: Omit<CheckRequest, "cost">): PeekResult {
    const now = Date.now();
    return {
      limits: req.ratelimits.map((rl) => limitState(rl, this.window(rl, now), now)),
      credits: creditState(this.credits(req.credits, now), now),
      version: this.version(req.keyId),
    };
  }

  /** The newest record version this object has seen for a key (0: none yet). Reads only. */
  version(keyId: string): number {
    return this.read<number>(`ver:${keyId}`) ?? 0;
  }

  /** Called by the admin API after every change to a key of this lineage. */
  sync(req: SyncRequest): void {
    this.writeNow(`ver:${req.keyId}`, Math.max(this.version(req.keyId), req.version));
    if (req.credits === undefined) return;
    this.writeNow("credits", req.credits === null ? undefined : { ...req.credits, lastRefillAt: Date.now() });
  }

  override async alarm(): Promise<void> {
    this.persist();
    const pending = [...this.kv.list<UsageDelta>({ prefix: "use:" })];
    if (pending.length > 0) {
      await recordUsage(
        this.env.DB,
        pending.map(([, delta]) => delta),
      );
    }
    // Requests that arrived during the write added to the same entries; keep their share.
    for (const [name, written] of pending) {
      const now = this.read<UsageDelta>(name);
      this.writeNow(name, !now || now.count === written.count ? undefined : { ...now, count: now.count - written.count });
    }
    this.alarmArmed = false;
    if ([...this.memo.keys()].some((name) => name.startsWith("use:") && this.memo.get(name) !== undefined)) this.armAlarm();
  }

  private window(rl: RateLimit, now: number): Window {
    const windowMs = rl.windowSeconds * 1000;
    const stored = this.read<Window>(`rl:${rl.name}`);
    if (stored && stored.windowMs === windowMs && now < stored.start + windowMs) return stored;
    return { windowMs, start: now, count: 0 };
  }

  private credits(initial: Credits | null, now: number): StoredCredits | null {
    let credits = this.read<StoredCredits>("credits");
    if (!credits) {
      if (!initial) return null;
      credits = { ...initial, lastRefillAt: now };
      this.writeNow("credits", credits);
    }
    if (credits.refill && now >= nextRefill(credits.refill, credits.lastRefillAt)) {
      credits = { ...credits, remaining: credits.refill.amount, lastRefillAt: now };
      this.writeNow("credits", credits);
    }
    return credits;
  }

  private recordUse(keyId: string, now: number, remaining: number | undefined): void {
    const name = `use:${keyId}`;
    const previous = this.read<UsageDelta>(name);
    this.writeSoon(name, { keyId, count: (previous?.count ?? 0) + 1, lastUsedAt: now, remaining: remaining ?? previous?.remaining });
    // The first pending use arms the flush to D1; later ones ride along.
    if (!this.alarmArmed) this.armAlarm();
  }

  private armAlarm(): void {
    this.alarmArmed = true;
    void this.ctx.storage.setAlarm(Date.now() + FLUSH_INTERVAL_MS);
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
