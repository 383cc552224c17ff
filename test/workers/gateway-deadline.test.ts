import { describe, expect, it } from "vitest";
import { Deadline } from "../../src/http/deadline";
import { call, createKey } from "./helpers";
import { expectProblem, sleep } from "./gateway-helpers";

/** A request's waits share one timer (src/http/deadline.ts); each still ends at its own deadline. */
const never = () => new Promise<never>(() => {});
const late = () => new Error("late");

async function settledAfter<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = Date.now();
  try {
    return { ms: Date.now() - started, value: await promise };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

describe("Deadline", () => {
  it("passes on what the work gives, value or error, when it settles in time", async () => {
    const deadline = new Deadline();
    expect(await deadline.race(Promise.resolve(7), 100, late)).toBe(7);
    await expect(deadline.race(Promise.reject(new Error("boom")), 100, late)).rejects.toThrow("boom");
    deadline.clear();
  });

  it("rejects with the timeout's error once the wait's own time is up, not before", async () => {
    const deadline = new Deadline();
    const result = await settledAfter(deadline.race(never(), 150, late));
    expect(String(result.error)).toContain("late");
    expect(result.ms).toBeGreaterThanOrEqual(140);
  });

  it("a second wait due after the armed timer still ends at its own deadline", async () => {
    const deadline = new Deadline();
    expect(await deadline.race(sleep(10).then(() => "first"), 100, late)).toBe("first");
    const result = await settledAfter(deadline.race(never(), 300, late));
    expect(String(result.error)).toContain("late");
    expect(result.ms).toBeGreaterThanOrEqual(290);
  });

  it("a second wait due before the armed timer ends at its own, earlier deadline", async () => {
    const deadline = new Deadline();
    expect(await deadline.race(Promise.resolve("first"), 5_000, late)).toBe("first");
    const result = await settledAfter(deadline.race(never(), 100, late));
    expect(String(result.error)).toContain("late");
    expect(result.ms).toBeLessThan(1_000);
  });
});

describe("one timer, two waits on a request", () => {
  it("a route whose timeout is longer than KeyState's answers 504 at its own timeout", async () => {
    const { key } = await createKey();
    const started = Date.now();
    const res = await call("/patient/slow", key);
    const elapsed = Date.now() - started;
    await expectProblem(res, 504, "UPSTREAM_TIMEOUT");
    expect(elapsed).toBeGreaterThanOrEqual(2_500);
    expect(elapsed).toBeLessThan(6_000);
  });
});
