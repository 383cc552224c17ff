import { describe, expect, it } from "vitest";
import { call, createKey, type Created } from "./helpers";
import type { StoredKey } from "../../src/keys/record";
import { expectProblem, patchKey, revokeKey, rotateKey, serveStale, sleep, storedRecord } from "./gateway-helpers";

/** A key with a warm cache: a few requests have gone through it already. */
async function warmKey(fields: Record<string, unknown> = {}): Promise<Created> {
  const created = await createKey({ scopes: ["posts:read"], ...fields });
  for (let i = 0; i < 3; i++) expect((await call("/posts", created.key)).status).toBe(200);
  return created;
}

/**
 * Runs an admin change, then puts the record from before it back into this isolate's memory
 * and KV: what every other isolate holds right after the change. KeyState must catch it.
 */
async function changeBehindTheCache(created: Created, change: () => Promise<unknown>): Promise<void> {
  const before: StoredKey = await storedRecord(created.key);
  await change();
  await serveStale(before);
}

/** DESIGN.md "Consistency": admin changes apply to the very next request. */
for (const [where, apply] of [
  ["in the isolate that made the change", (_: Created, change: () => Promise<unknown>) => change()],
  ["in isolates still caching the old record", changeBehindTheCache],
] as const) {
  describe(`admin changes apply to the next request, ${where}`, () => {
    it("revoke", async () => {
      const created = await warmKey();
      await apply(created, () => revokeKey(created.id));
      await expectProblem(await call("/nowhere", created.key), 401, "KEY_REVOKED");
      await expectProblem(await call("/posts", created.key), 401, "KEY_REVOKED");
    });

    it("disable, then enable", async () => {
      const created = await warmKey();
      await apply(created, () => patchKey(created.id, { enabled: false }));
      await expectProblem(await call("/posts", created.key), 403, "KEY_DISABLED");
      await apply(created, () => patchKey(created.id, { enabled: true }));
      expect((await call("/posts", created.key)).status).toBe(200);
    });

    it("scope removed, then granted", async () => {
      const created = await warmKey();
      await apply(created, () => patchKey(created.id, { scopes: [] }));
      await expectProblem(await call("/posts", created.key), 403, "INSUFFICIENT_SCOPE");
      await apply(created, () => patchKey(created.id, { scopes: ["posts:*"] }));
      expect((await call("/posts", created.key, { method: "POST", body: "{}" })).status).toBe(200);
    });

    it("allowed IPs narrowed, then widened", async () => {
      const created = await warmKey();
      await apply(created, () => patchKey(created.id, { allowedIps: ["203.0.113.0/24"] }));
      await expectProblem(await call("/posts", created.key), 403, "IP_NOT_ALLOWED");
      await apply(created, () => patchKey(created.id, { allowedIps: [] }));
      expect((await call("/posts", created.key)).status).toBe(200);
    });

    it("rate limit lowered", async () => {
      const created = await warmKey({ ratelimits: [{ name: "minute", limit: 100, windowSeconds: 60 }] });
      await apply(created, () => patchKey(created.id, { ratelimits: [{ name: "minute", limit: 4, windowSeconds: 60 }] }));
      const res = await call("/posts", created.key);
      expect(res.status).toBe(200);
      expect(res.headers.get("RateLimit-Policy")).toBe('"minute";q=4;w=60');
      expect(res.headers.get("X-RateLimit-Remaining")).toBe("0");
      await expectProblem(await call("/posts", created.key), 429, "RATE_LIMITED");
    });

    it("credits set", async () => {
      const created = await warmKey({ credits: { remaining: 100 } });
      await apply(created, () => patchKey(created.id, { credits: { remaining: 1 } }));
      expect((await call("/posts", created.key)).status).toBe(200);
      await expectProblem(await call("/posts", created.key), 429, "QUOTA_EXHAUSTED");
    });

    it("expiry moved into the past is refused, moved out again is served", async () => {
      const created = await warmKey();
      await apply(created, () => patchKey(created.id, { expiresAt: new Date(Date.now() + 1000).toISOString() }));
      await sleep(1100);
      await expectProblem(await call("/posts", created.key), 401, "KEY_EXPIRED");
      await apply(created, () => patchKey(created.id, { expiresAt: null }));
      expect((await call("/posts", created.key)).status).toBe(200);
    });
  });
}

describe("rotation with a grace period", () => {
  it("the old key works until the grace ends, then fails KEY_EXPIRED; the new key works", async () => {
    const created = await warmKey();
    const successor = await rotateKey(created.id, 1);
    expect(successor.rotatedFrom).toBe(created.id);
    expect((await call("/posts", created.key)).status).toBe(200);
    expect((await call("/posts", successor.key)).status).toBe(200);
    await sleep(1200);
    await expectProblem(await call("/posts", created.key), 401, "KEY_EXPIRED");
    expect((await call("/posts", successor.key)).status).toBe(200);
  });

  it("without a grace period the old key fails at once, even where its old record is cached", async () => {
    const created = await warmKey();
    let successor: Created | undefined;
    await changeBehindTheCache(created, async () => {
      successor = await rotateKey(created.id, 0);
    });
    await expectProblem(await call("/posts", created.key), 401, "KEY_EXPIRED");
    expect((await call("/posts", successor!.key)).status).toBe(200);
  });
});
