import { DurableObject } from "cloudflare:workers";
import { recordUsage, type UsageDelta } from "../store/keys";
import { getConfig } from "../config";
import { newerOwnerVersion } from "../owners/version";
import { link } from "./link";
import { Holder, type Verdict } from "./holder";
import type { HolderAddress } from "./ledger";
import type { AdmitRequest, Apply, LeaseGrant, Returned } from "./protocol";
import type { RateLimit } from "../keys/record";
import {
  countRateLimited,
  creditsLowEvent,
  enqueueEvent,
  newAbuseCount,
  noticeCredits,
  noticeRateLimited,
  rateLimitedEvent,
  requestSuspension,
  type AbuseCount,
  type CreditNotices,
  type RateLimitNotices,
} from "../events/notice";
import type { Region } from "./regions";

/** How long usage may wait before it is written to D1 (DESIGN.md allows 60 s of lag). */
/**
 * Looks at a request again after asking another object for what it lacks, at most this many
 * times. A lack is a refusal once a home had nothing more to grant (the holder then knows the
 * window or balance spent); other requests spending what a renewal brought before this one looks
 * are no reason to refuse it, so it asks again, up to this bound.
 */
export const LAST_ROUND = 16;
/**
 * Past LAST_ROUND a lack is a refusal, but a lease that lapsed meanwhile (the owner's, while the
 * rounds went to the key's) is still asked for, up to this many rounds in all: without a lease
 * nothing can be decided, and only a home that grants none (or cannot be reached) makes the
 * request fail.
 */
export const GIVE_UP_ROUND = 2 * LAST_ROUND;

export const FLUSH_INTERVAL_MS = 30_000;
/** How long a failed usage write waits before it is tried again. */
const FLUSH_RETRY_MS = 10_000;
/** How long counter updates may wait in memory before they reach the object's storage. */
export const PERSIST_DELAY_MS = 1_000;

/** A usage write to D1 in progress: kept until D1 confirms it, and retried under the same id. */
interface Flush {
  id: string;
  deltas: UsageDelta[];
  remaining?: number;
}

/**
 * What a lineage's home and its regional objects share: storage read once and kept in memory,
 * writes now (with the call's storage commit) or soon (a burst shares one commit), the
 * lineage and region the object serves, and the batched write-back of usage to D1.
 */
export abstract class AdmissionObject extends DurableObject<Env> {
  protected readonly kv = this.ctx.storage.kv;
  /**
   * Storage values as last read or written. The object runs one call at a time between its
   * awaits, so while it lives this is the truth; storage is its durable copy.
   */
  private readonly memo = new Map<string, unknown>();
  /** Names written to `memo` that storage has not caught up with yet. */
  private readonly dirty = new Set<string>();
  private persistTimer: ReturnType<typeof setTimeout> | null = null;
  private alarmArmed = false;

  protected get config() {
    return getConfig(this.env);
  }

  protected get lineageId(): string {
    return this.read<string>("lineage")!;
  }

  /** The region this object was created in (null: created by a request from nowhere known). */
  protected get region(): Region | null {
    return this.read<Region | null>("region") ?? null;
  }

  /** The object's name, as its namespace knows it. */
  protected abstract get name(): string;

  /** Where this object is, for a home that grants it budgets to call it back. */
  protected abstract get address(): HolderAddress;

  /**
   * Per key, what was noticed of its refusals (the first of each window, and the count the abuse
   * rule judges) and of its balance (the thresholds crossed since it was last set or refilled).
   * Memory only: an object that ends may notice a window again, which raises the same event (its
   * id follows from the key, the limit and the window), a duplicate receivers recognise.
   */
  private readonly noticed = new Map<string, { limits: RateLimitNotices; abuse: AbuseCount; credits: CreditNotices }>();

  private notices(keyId: string) {
    let n = this.noticed.get(keyId);
    if (!n) {
      n = { limits: {}, abuse: newAbuseCount(), credits: { epoch: -1, low: false, empty: false } };
      this.noticed.set(keyId, n);
    }
    return n;
  }

  /** Work handed on from a decision, never on the request's path (DESIGN.md, "Events and webhooks"). */
  private later(work: Promise<unknown>, what: string): void {
    this.ctx.waitUntil(work.catch((err) => console.warn(JSON.stringify({ level: "warn", msg: `${what} not queued`, error: String(err) }))));
  }

  /**
   * A RATE_LIMITED refusal, where it was decided: the key's first in the limit's window raises
   * `key.rate_limited`; past the abuse rule's count, the key's suspension is asked for.
   */
  protected noticeRateLimited(req: AdmitRequest, limit: RateLimit, windowStart: number | null, now: number): void {
    const n = this.notices(req.keyId);
    if (windowStart !== null && noticeRateLimited(n.limits, limit, windowStart)) {
      this.later(rateLimitedEvent(req.keyId, limit, windowStart, now).then((event) => enqueueEvent(this.env, event)), "key.rate_limited");
    }
    if (!req.abuse) return;
    const until = countRateLimited(n.abuse, now, req.abuse);
    if (until !== null) {
      this.later(requestSuspension(this.env, { keyId: req.keyId, until, at: now, policy: req.abuse, refusals: req.abuse.rateLimitedPerMinute + 1 }), "suspension");
    }
  }

  /** A balance after a charge or a report: falling to 20 % of what it was set or refilled to, and to 0, raises `key.credits_low`. */
  protected noticeCredits(subject: string, balance: { epoch: number; amount: number; remaining: number }, owner?: string): void {
    const threshold = noticeCredits(this.notices(subject).credits, balance.epoch, balance.amount, balance.remaining);
    if (!threshold) return;
    const event = creditsLowEvent(subject, threshold, balance).then((e) => (owner ? { ...e, keyId: undefined, data: { ...e.data, owner: { id: owner } } } : e));
    this.later(event.then((e) => enqueueEvent(this.env, e)), "key.credits_low");
  }

  /** The budgets this object holds of its lineage's owner's shared limits and credits, and the owner's version. */
  private ownerHold: { ownerId: string; holder: Holder; version: string | null } | null = null;

  /** The holder of the owner's budgets (one owner per lineage: a key's owner never changes). */
  protected ownerHolder(ownerId: string): { holder: Holder; version: string | null } {
    if (this.ownerHold?.ownerId !== ownerId) {
      const hold: { ownerId: string; holder: Holder; version: string | null } = {
        ownerId,
        version: null,
        holder: new Holder(
          this,
          "owner:",
          (wants) => {
            const ns = this.env.OWNER_STATE;
            const hint = this.region;
            return link().call(this.region, { name: ownerId, region: null, hint }, () =>
              ns.get(ns.idFromName(ownerId), hint ? { locationHint: hint } : undefined).lease({ ...wants, ownerId, holder: this.address }),
            ) as Promise<LeaseGrant>;
          },
          (grant) => {
            if (grant.ownerVersion && newerOwnerVersion(grant.ownerVersion, hold.version)) hold.version = grant.ownerVersion;
          },
        ),
      };
      this.ownerHold = hold;
    }
    return this.ownerHold;
  }

  /** Whether the request's owner changed since the gateway read it: the request must be read again. */
  protected ownerStale(req: AdmitRequest): boolean {
    if (!req.owner) return false;
    const hold = this.ownerHolder(req.owner.id);
    return hold.version !== null && newerOwnerVersion(hold.version, req.owner.version);
  }

  /**
   * Whether the owner's part is settled without asking: no owner, or a lease of its home in hand
   * (its holders are told every change, so the version this object knows is the owner's).
   */
  protected ownerLeased(req: AdmitRequest, now: number): boolean {
    return !req.owner || this.ownerHolder(req.owner.id).holder.leased(now);
  }

  /**
   * What the owner's part of a request allows now: null when the request names no owner; "ask"
   * when the owner's home must be asked first (`renewOwner`); else the holder's verdict. From
   * LAST_ROUND on a lack is a refusal; at GIVE_UP_ROUND a lease still missing is an error.
   */
  protected ownerVerdict(req: AdmitRequest, now: number, round: number): Verdict | null {
    if (!req.owner) return null;
    const hold = this.ownerHolder(req.owner.id);
    const verdict = hold.holder.verdict(req.owner.ratelimits, req.cost, req.owner.credits, now, round >= LAST_ROUND, { owner: req.owner.version });
    if (verdict.kind === "ask" && round >= GIVE_UP_ROUND) throw new Error("the owner's home granted no lease");
    return verdict;
  }

  protected renewOwner(req: AdmitRequest): Promise<void> {
    return this.ownerHolder(req.owner!.id).holder.renew(req.owner!.ratelimits, req.cost, req.owner!.credits, {}, { owner: req.owner!.version });
  }

  /** From the owner's home: a change to the owner or its plan; budgets of what changed go back. */
  protected applyOwner(apply: Apply): Returned {
    const hold = this.ownerHold;
    if (!hold) return { limits: [], credits: null };
    if (apply.ownerVersion && newerOwnerVersion(apply.ownerVersion, hold.version)) hold.version = apply.ownerVersion;
    return hold.holder.giveBack(apply.limits, apply.credits);
  }

  protected ownerHolding(release: boolean): Returned {
    const hold = this.ownerHold;
    if (!hold) return { limits: [], credits: null };
    return release ? hold.holder.giveBack(true, true) : hold.holder.holding();
  }

  /** The balance to write into D1's lagging copy of the credits with a usage flush; the home's alone. */
  protected liveCredits(): number | undefined {
    return undefined;
  }

  /** Takes note of the lineage and, on the first call of the object's life, of its region. */
  protected remember(lineageId: string, region: Region | null): void {
    if (this.read<string>("lineage") === undefined) {
      this.writeNow("lineage", lineageId);
      this.writeNow("region", region);
      link().placed(this.name, region);
    }
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
        flush = { id: `${this.ctx.id.toString()}:${n}`, deltas, remaining: this.liveCredits() };
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

  /** Counts one admitted request of a key, for its `usageCount` and `lastUsedAt`. */
  protected recordUse(keyId: string, now: number): void {
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

  read<T>(name: string): T | undefined {
    if (!this.memo.has(name)) this.memo.set(name, this.kv.get(name));
    return this.memo.get(name) as T | undefined;
  }

  /** Written with this call's storage commit (undefined deletes). */
  writeNow(name: string, value: unknown): void {
    this.memo.set(name, value);
    this.dirty.delete(name);
    if (value === undefined) this.kv.delete(name);
    else this.kv.put(name, value);
  }

  /**
   * Written to storage within PERSIST_DELAY_MS, so a burst of requests shares one commit
   * instead of paying one each. Should the object end before then, those writes are lost:
   * the trade documented in docs/behaviour.md.
   */
  writeSoon(name: string, value: unknown): void {
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
