import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { UsageBuffer } from "../../src/analytics/buffer";
import { DEFAULT_LIMITS, type BufferLimits } from "../../src/analytics/limits";
import { USAGE_FLUSH_MS } from "../../src/config";

const MAX_FLUSH_AFTER_MS = USAGE_FLUSH_MS.max;
import { createKey } from "./helpers";
import { expectProblem, gatewayWith } from "./gateway-helpers";
import { collectingContext, drainUsage, keyUsage, recorded, requestLog } from "./usage-helpers";

/**
 * How usage reaches D1 (docs/behaviour.md, "Usage"): in batches, never per request; a
 * failed or unanswered write is retried and counted once; an isolate that ends before a write
 * loses at most what it held, and it never holds more than `maxHeldRequests`.
 */

type BatchCall = (target: D1Database, statements: D1PreparedStatement[]) => Promise<D1Result[]>;

/** The real D1, with `batch` replaced (for its first `times` calls, or always) and every call counted. */
function d1With(replacement: BatchCall, times = Infinity) {
  const calls = { batches: 0 };
  const binding = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) =>
          ++calls.batches <= times ? replacement(target, statements) : target.batch(statements);
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { binding, calls };
}

const realBatch: BatchCall = (target, statements) => target.batch(statements);
const failsBeforeApplying: BatchCall = () => Promise.reject(new Error("D1_ERROR: storage overloaded"));
const answerLost: BatchCall = async (target, statements) => {
  await target.batch(statements);
  throw new Error("Network connection lost.");
};
/** The transaction starts and dies before its last statement: D1 rolls all of it back. */
const killedMidway: BatchCall = (target, statements) =>
  target.batch([...statements.slice(0, -1), target.prepare("INSERT INTO no_such_table VALUES (1)"), ...statements.slice(-1)]);
const neverAnswers: BatchCall = () => new Promise(() => {});

const limits = (overrides: Partial<BufferLimits> = {}): BufferLimits => ({ ...DEFAULT_LIMITS, flushAfterMs: 10, retryDelaysMs: [10], ...overrides });

/** A key to attribute synthetic requests to, so the usage routes can report them. */
async function target() {
  const { id, ownerId } = await createKey();
  return { id, request: () => recorded({ keyId: id, ownerId }) };
}

/** One isolate's buffer over a D1 whose `batch` behaves as given, and a key for its requests. */
async function isolateWith(batch: BatchCall, times = Infinity, overrides: Partial<BufferLimits> = {}) {
  const d1 = d1With(batch, times);
  const buffer = new UsageBuffer(() => d1.binding, limits(overrides));
  const ctx = collectingContext();
  const key = await target();
  const send = (n: number) => {
    for (let i = 0; i < n; i++) buffer.record(key.request(), ctx);
  };
  return { calls: d1.calls, buffer, ctx, key, send };
}

describe("usage reaches D1 in batches", () => {
  it("requests wait in memory and reach D1 in one write under the first request's waitUntil", async () => {
    const { calls, buffer, ctx, key, send } = await isolateWith(realBatch);
    send(10);
    expect(calls.batches).toBe(0);
    expect(ctx.count).toBe(1); // the batch's timer, carried by its first request
    expect(buffer.held).toBe(10);
    await ctx.settle();
    expect(calls.batches).toBe(1);
    expect(buffer.held).toBe(0);
    expect((await keyUsage(key.id)).totals).toMatchObject({ requests: 10, allowed: 10 });
    expect((await requestLog(key.id)).data).toHaveLength(10);
  });

  it("a full batch is written at once; the rest waits for its timer", async () => {
    const { calls, ctx, key, send } = await isolateWith(realBatch, Infinity, { batchRequests: 4 });
    send(10);
    await ctx.settle();
    expect(calls.batches).toBe(3);
    expect((await keyUsage(key.id)).totals.requests).toBe(10);
  });

  it("a batch whose timer was lost (its request's waitUntil ended early) is written by the next request", async () => {
    const { calls, buffer, ctx, key } = await isolateWith(realBatch);
    const minute = 60_000;
    const second = key.request();
    buffer.record({ ...key.request(), at: second.at - 2 * minute - 1 }, ctx, minute);
    expect(calls.batches).toBe(0);
    buffer.record(second, ctx, minute);
    expect(calls.batches).toBe(1); // the stale batch's write has started under the second request
    expect(buffer.held).toBe(2);
    expect(await buffer.flush()).toBe(true);
    expect((await keyUsage(key.id)).totals.requests).toBe(2);
  });

  it("an isolate that receives no further request still writes its batch, within USAGE_FLUSH_MS of it", async () => {
    await drainUsage(); // no batch is open, so the next request opens one and carries its timer
    const { id, key } = await createKey();
    const gateway = gatewayWith({});
    // gatewayWith waits for the request's waitUntil, as the runtime keeps it alive after the response
    expect((await gateway.call("/echo", key)).status).toBe(200);
    expect((await requestLog(id)).data).toHaveLength(1);
    expect((await keyUsage(id)).totals.requests).toBe(1);
  });

  it("the timer and every retry fit within the 30 s Workers give waitUntil, so figures are at most 60 s late", async () => {
    const retries = DEFAULT_LIMITS.retryDelaysMs.reduce((a, b) => a + b, 0);
    expect(MAX_FLUSH_AFTER_MS + retries).toBeLessThan(30_000);
    expect(DEFAULT_LIMITS.flushAfterMs).toBeLessThanOrEqual(MAX_FLUSH_AFTER_MS);
    const tooLate = gatewayWith({ USAGE_FLUSH_MS: String(MAX_FLUSH_AFTER_MS + 1) });
    const problem = await expectProblem(await tooLate.call("/echo", null), 500, "CONFIG_INVALID");
    expect(problem.detail).toContain("USAGE_FLUSH_MS");
  });
});

describe("a write that fails is retried, and counted once", () => {
  it("D1 fails once before applying: the retry writes the batch", async () => {
    const { calls, ctx, key, send } = await isolateWith(failsBeforeApplying, 1);
    send(5);
    await ctx.settle();
    expect(calls.batches).toBe(2);
    expect((await keyUsage(key.id)).totals.requests).toBe(5);
    expect((await requestLog(key.id)).data).toHaveLength(5);
  });

  it("D1 applies the batch but the answer is lost: the retry, under the same id, adds nothing", async () => {
    const { calls, buffer, ctx, key, send } = await isolateWith(answerLost, 1);
    send(5);
    await ctx.settle();
    expect(calls.batches).toBe(2);
    expect(buffer.held).toBe(0);
    expect((await keyUsage(key.id)).totals).toMatchObject({ requests: 5, allowed: 5 });
    expect((await requestLog(key.id)).data).toHaveLength(5);
  });

  it("a write killed mid-way leaves nothing half-counted, and its retry writes all of it", async () => {
    const { buffer, ctx, key, send } = await isolateWith(killedMidway, 1, { retryDelaysMs: [] });
    send(5);
    await ctx.settle();
    expect((await keyUsage(key.id)).totals.requests).toBe(0);
    expect((await requestLog(key.id)).data).toHaveLength(0);
    expect(buffer.held).toBe(5);
    expect(await buffer.flush()).toBe(true);
    expect((await keyUsage(key.id)).totals.requests).toBe(5);
    expect((await requestLog(key.id)).data).toHaveLength(5);
  });
});

describe("what an isolate can lose", () => {
  it("ending before its write loses what it held, nothing more; the next isolate counts on", async () => {
    const hung = d1With(neverAnswers);
    const ending = new UsageBuffer(() => hung.binding, limits({ batchRequests: 7 }));
    const key = await target();
    const ctx = collectingContext();
    for (let i = 0; i < 7; i++) ending.record(key.request(), ctx);
    expect(hung.calls.batches).toBe(1); // the full batch's write has started, and hangs
    const lost = ending.held;
    expect(lost).toBe(7);
    expect(lost).toBeLessThanOrEqual(DEFAULT_LIMITS.maxHeldRequests);
    // The isolate ends here: its buffer is gone. A fresh isolate's buffer carries on.
    const next = new UsageBuffer(() => env.DB, limits());
    const ctx2 = collectingContext();
    for (let i = 0; i < 3; i++) next.record(key.request(), ctx2);
    await ctx2.settle();
    expect((await keyUsage(key.id)).totals.requests).toBe(3);
  });

  it("however long D1 stays away, an isolate holds at most maxHeldRequests, dropping the oldest batches", async () => {
    const hung = d1With(neverAnswers);
    const buffer = new UsageBuffer(() => hung.binding, limits({ batchRequests: 5, maxHeldRequests: 12, flushAfterMs: 60_000 }));
    const ctx = collectingContext();
    const key = await target();
    for (let i = 1; i <= 30; i++) {
      buffer.record(key.request(), ctx);
      expect(buffer.held).toBeLessThanOrEqual(12);
      expect(buffer.held + buffer.dropped).toBe(i);
    }
    expect(buffer.dropped).toBeGreaterThanOrEqual(18);
  });

  it("the documented bound: 5,000 requests per isolate with the default limits", async () => {
    const hung = d1With(neverAnswers);
    const buffer = new UsageBuffer(() => hung.binding, { ...DEFAULT_LIMITS, flushAfterMs: 60_000 });
    const ctx = collectingContext();
    let most = 0;
    for (let i = 0; i < 6_000; i++) {
      buffer.record(recorded(), ctx);
      most = Math.max(most, buffer.held);
    }
    expect(DEFAULT_LIMITS.maxHeldRequests).toBe(5_000);
    expect(most).toBeLessThanOrEqual(5_000);
    expect(buffer.held + buffer.dropped).toBe(6_000);
  });
});
