import { env } from "cloudflare:workers";
import { runOnce } from "../store/flush";
import { addToPage, entryText, flushStatements, type LogPage, type LogRow, type Rollup } from "../store/usage";
import { Lru } from "../store/lru";
import { addRequest } from "./figures";
import { emptyMeasures } from "../store/measures";
import { REACHED_ORIGIN, type RecordedRequest } from "./writer";
import { DEFAULT_LIMITS, type BufferLimits } from "./limits";
import { securityStatements, type SecurityEntry } from "../store/security-events";

/**
 * Each isolate's usage buffer: the gateway adds every finished request to it (no I/O, no
 * await), and it reaches D1 in batches under `waitUntil` (docs/behaviour.md, "Usage"):
 *
 * - A batch opens with its first request; that request's `waitUntil` keeps a timer that
 *   writes the batch `flushAfterMs` later, so an isolate that receives nothing more still
 *   writes it. A batch that reaches `batchRequests` is written at once instead.
 * - A write is one D1 transaction run at most once per batch id (`runOnce`): a failed or
 *   unanswered write is retried with the same id, so nothing is counted twice.
 * - An isolate never holds more than `maxHeldRequests` unwritten requests: when D1 stays
 *   unreachable that long, the oldest batch is dropped (and logged). That is also the most
 *   an isolate can lose when it ends before a write.
 * - Security events (DESIGN.md, "Security events") travel in the same batches: the gateway's
 *   refusals that a reviewer looks for, and those other parts of keygate record
 *   (`recordSecurity`). Each counts as a request towards the batch's size and the bound.
 */

/** A write not settled after this long went down with its request's context: another may retry it. */
const ABANDONED_AFTER_MS = 30_000;

interface Batch {
  /** the flush id: the same on every attempt */
  id: string;
  /** when its first request arrived */
  opened: number;
  requests: number;
  rollups: Map<string, Rollup>;
  /** the request log, a page per key; refusals before a key was known have no entry */
  pages: Map<string, LogPage>;
  security: SecurityEntry[];
  /** when the running attempt started; null when none runs */
  writing: number | null;
}

interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

const HOUR_MS = 3_600_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const newBatch = (opened: number): Batch => ({
  id: `usage_${crypto.randomUUID()}`,
  opened,
  requests: 0,
  rollups: new Map(),
  pages: new Map(),
  security: [],
  writing: null,
});

/**
 * Refusals of a revoked or expired key that an isolate logs one by one per key and minute
 * (DESIGN.md, request log): past it, one entry per batch carries the `count` of the rest, so a
 * leaked dead key cannot fill the log with the text its requests bring (paths, user agents).
 */
export const DEAD_KEY_LOG = { perMinute: 100, maxKeys: 10_000 };
const DEAD_KEY_OUTCOMES = new Set(["KEY_REVOKED", "KEY_EXPIRED"]);

/** One dead key's refusals in the current minute, and the entry that summarises the rest in the open batch. */
interface DeadKeyMinute {
  minute: number;
  logged: number;
  summary: { batch: Batch; page: LogPage; index: number; row: LogRow } | null;
}

const deadKeys = new Lru<DeadKeyMinute>(DEAD_KEY_LOG.maxKeys, DEAD_KEY_LOG.maxKeys * 256);

/** Adds the request to its key's log page, or, for a dead key past its bound, to the entry that stands for the rest. */
function log(batch: Batch, keyId: string, row: LogRow): void {
  if (!DEAD_KEY_OUTCOMES.has(row.outcome)) {
    addToPage(batch.pages, keyId, row);
    return;
  }
  const minute = Math.floor(row.at / 60_000);
  let seen = deadKeys.get(keyId);
  if (!seen || seen.minute !== minute) {
    seen = { minute, logged: 0, summary: null };
    deadKeys.set(keyId, seen, 256);
  }
  if (seen.logged < DEAD_KEY_LOG.perMinute) {
    seen.logged += 1;
    addToPage(batch.pages, keyId, row);
    return;
  }
  const summary = seen.summary;
  if (summary && summary.batch === batch) {
    summary.row.count = (summary.row.count ?? 1) + 1;
    summary.page.entries[summary.index] = entryText(summary.row);
    summary.page.newestAt = Math.max(summary.page.newestAt, row.at);
    return;
  }
  row.count = 1;
  const page = addToPage(batch.pages, keyId, row);
  seen.summary = { batch, page, index: page.entries.length - 1, row };
}

/**
 * What a security reviewer looks for among the gateway's refusals (DESIGN.md, "Security
 * events"): refusals before a key is known, uses of revoked, expired and suspended keys, and
 * addresses a key does not allow. A request with no key at all (MISSING_KEY) is not among them.
 */
export const SECURITY_OUTCOMES = new Set(["MALFORMED_KEY", "KEY_NOT_FOUND", "TOO_MANY_INVALID_KEYS", "KEY_REVOKED", "KEY_EXPIRED", "KEY_SUSPENDED", "IP_NOT_ALLOWED"]);

/**
 * Security events one isolate records one by one per code, address and minute: past it, one
 * entry per batch carries the `count` of the rest (DESIGN.md), so a flood costs one row.
 */
export const SECURITY_FLOOD = { perMinute: 100, maxSources: 10_000 };

interface SourceMinute {
  minute: number;
  recorded: number;
  summary: { batch: Batch; entry: SecurityEntry } | null;
}

const sources = new Lru<SourceMinute>(SECURITY_FLOOD.maxSources, SECURITY_FLOOD.maxSources * 256);

function addSecurity(batch: Batch, entry: SecurityEntry): void {
  const id = `${entry.code}\n${entry.ip ?? ""}`;
  const minute = Math.floor(entry.at / 60_000);
  let seen = sources.get(id);
  if (!seen || seen.minute !== minute) {
    seen = { minute, recorded: 0, summary: null };
    sources.set(id, seen, 256);
  }
  if (seen.recorded < SECURITY_FLOOD.perMinute) {
    seen.recorded += 1;
    batch.security.push(entry);
  } else if (seen.summary && seen.summary.batch === batch) {
    seen.summary.entry.count = (seen.summary.entry.count ?? 1) + 1;
  } else {
    const summary = { ...entry, count: 1 };
    batch.security.push(summary);
    seen.summary = { batch, entry: summary };
  }
}

/** A gateway refusal as a security event. */
const securityEntry = (r: RecordedRequest): SecurityEntry => ({
  at: r.at,
  code: r.outcome,
  ip: r.clientIp || null,
  country: r.country || null,
  userAgent: r.userAgent || null,
  method: r.method,
  path: r.path,
  route: r.route || null,
  keyStart: r.keyStart ?? null,
  keyId: r.keyId,
  requestId: r.requestId,
});

function add(batch: Batch, r: RecordedRequest): void {
  if (SECURITY_OUTCOMES.has(r.outcome)) addSecurity(batch, securityEntry(r));
  const keyId = r.keyId ?? "anonymous";
  const hour = r.at - (r.at % HOUR_MS);
  const id = `${hour}\n${keyId}\n${r.route}\n${r.outcome}\n${r.status}`;
  let rollup = batch.rollups.get(id);
  if (!rollup) {
    rollup = { ...emptyMeasures(), keyId, hour, route: r.route, outcome: r.outcome, status: r.status, ownerId: r.ownerId };
    batch.rollups.set(id, rollup);
  }
  addRequest(rollup, r);
  if (r.keyId !== null) log(batch, r.keyId, logRow(r));
  batch.requests += 1;
}

/** A request as its key's request log shows it. */
export const logRow = (r: RecordedRequest): LogRow => ({
  at: r.at,
  requestId: r.requestId,
  method: r.method,
  path: r.path,
  route: r.route,
  status: r.status,
  outcome: r.outcome,
  ip: r.clientIp || null,
  userAgent: r.userAgent || null,
  country: r.country || null,
  gatewayMs: r.gatewayMs,
  upstreamMs: REACHED_ORIGIN.has(r.outcome) ? r.upstreamMs : null,
});

export class UsageBuffer {
  private open: Batch | null = null;
  /** sealed batches, oldest first, until D1 confirms them */
  private readonly sealed: Batch[] = [];
  /** requests this isolate dropped because D1 stayed unreachable */
  dropped = 0;

  constructor(
    private readonly d1: () => D1Database,
    readonly limits: BufferLimits = DEFAULT_LIMITS,
  ) {}

  /** Requests held here that D1 has not confirmed: what this isolate would lose if it ended now. */
  get held(): number {
    return (this.open?.requests ?? 0) + this.sealed.reduce((n, b) => n + b.requests, 0);
  }

  /**
   * Adds one finished request. Synchronous: the hot path never waits for usage. A request that
   * opens a batch carries its timer: the batch is written `flushAfterMs` later (USAGE_FLUSH_MS).
   */
  record(r: RecordedRequest, ctx: WaitUntil, flushAfterMs = this.limits.flushAfterMs): void {
    let batch = this.open;
    if (batch && r.at - batch.opened > 2 * flushAfterMs) {
      // Its timer should have fired long ago: the runtime ended that waitUntil early. Write it now.
      this.seal();
      ctx.waitUntil(this.writeWithRetries());
      batch = null;
    }
    if (!batch) {
      batch = this.open = newBatch(r.at);
      ctx.waitUntil(this.writeLater(batch, flushAfterMs));
    }
    add(batch, r);
    if (batch.requests >= this.limits.batchRequests) {
      this.seal();
      ctx.waitUntil(this.writeWithRetries());
    }
    this.keepWithinBound();
  }

  /**
   * Adds a security event that no gateway request carries (a failed admin sign-in, a leak
   * report, a suspension). Synchronous, batched like a request.
   */
  recordSecurity(entry: SecurityEntry, ctx: WaitUntil, flushAfterMs = this.limits.flushAfterMs): void {
    let batch = this.open;
    if (!batch) {
      batch = this.open = newBatch(entry.at);
      ctx.waitUntil(this.writeLater(batch, flushAfterMs));
    }
    addSecurity(batch, entry);
    batch.requests += 1;
    if (batch.requests >= this.limits.batchRequests) {
      this.seal();
      ctx.waitUntil(this.writeWithRetries());
    }
    this.keepWithinBound();
  }

  /** Seals what is open and writes every sealed batch once; true when D1 now holds everything. */
  async flush(): Promise<boolean> {
    this.seal();
    // Writes running under another request's waitUntil finish first (or are given up).
    while (this.sealed.some((b) => this.running(b))) await sleep(10);
    await this.writeSealed();
    return this.held === 0;
  }

  private seal(): void {
    if (this.open && this.open.requests > 0) this.sealed.push(this.open);
    this.open = null;
  }

  private async writeLater(batch: Batch, flushAfterMs: number): Promise<void> {
    await sleep(flushAfterMs);
    if (this.open === batch) this.seal();
    await this.writeWithRetries();
  }

  private async writeWithRetries(): Promise<void> {
    await this.writeSealed();
    for (const delay of this.limits.retryDelaysMs) {
      if (!this.sealed.some((b) => !this.running(b))) return;
      await sleep(delay);
      await this.writeSealed();
    }
  }

  private running(b: Batch): boolean {
    return b.writing !== null && Date.now() - b.writing < ABANDONED_AFTER_MS;
  }

  private async writeSealed(): Promise<void> {
    for (const batch of this.sealed.filter((b) => !this.running(b))) await this.write(batch);
  }

  private async write(batch: Batch): Promise<void> {
    batch.writing = Date.now();
    try {
      await runOnce(this.d1(), batch.id, (notYetApplied) => [
        ...flushStatements([...batch.rollups.values()], [...batch.pages.values()], batch.id, notYetApplied),
        ...securityStatements(batch.security, batch.id, notYetApplied),
      ]);
      const i = this.sealed.indexOf(batch);
      if (i >= 0) this.sealed.splice(i, 1);
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "usage flush failed", batch: batch.id, requests: batch.requests, error: String(err) }));
    } finally {
      batch.writing = null;
    }
  }

  private keepWithinBound(): void {
    while (this.held > this.limits.maxHeldRequests && this.sealed.length > 0) {
      const oldest = this.sealed.shift()!;
      this.dropped += oldest.requests;
      console.error(JSON.stringify({ level: "error", msg: "usage dropped: D1 unreachable too long", batch: oldest.id, requests: oldest.requests }));
    }
  }
}

let isolateBuffer: UsageBuffer | null = null;

/**
 * This isolate's buffer. It belongs to the isolate, not to a request: it writes through the
 * isolate's own D1 binding, whichever request's `waitUntil` carries the write.
 */
export function usageBuffer(): UsageBuffer {
  isolateBuffer ??= new UsageBuffer(() => env.DB);
  return isolateBuffer;
}
