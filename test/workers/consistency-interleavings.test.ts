import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, call, createKey, type Created } from "./helpers";
import {
  d1FailingWrites,
  expectProblem,
  gatewayWith,
  patchKey,
  revokeKey,
  serveStale,
  sleep,
  storedRecord,
  withHomeDb,
} from "./gateway-helpers";

/**
 * The interleavings that broke DESIGN.md's "Consistency" promises under the protocol before
 * regions (prepare, confirm, abort with tokens), each replayed against the gateway. Each test
 * failed on that protocol; docs/consistency.md names them.
 */

const stateOf = (lineageId: string) => env.KEY_STATE.get(env.KEY_STATE.idFromName(lineageId));

/** A namespace whose every object is unreachable, whatever it is asked. */
const unreachable = {
  idFromName: (name: string) => env.KEY_STATE.idFromName(name),
  get: () => new Proxy({}, { get: () => () => Promise.reject(new Error("object unreachable")) }),
} as unknown as Env["KEY_STATE"];

/** The real D1, with every read of a key by its hash answered `delayMs` late: a read still in flight. */
function slowKeyReads(delayMs: number): D1Database {
  const real = env.DB;
  const slowed = (statement: D1PreparedStatement, text: string): D1PreparedStatement =>
    new Proxy(statement, {
      get: (target, property) => {
        if (property === "bind") return (...values: unknown[]) => slowed(target.bind(...values), text);
        const value = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        if (/"keys"\."hash" = \?/.test(text) && (property === "first" || property === "all" || property === "raw")) {
          return async (...args: unknown[]) => {
            const answer = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            await sleep(delayMs);
            return answer;
          };
        }
        return value.bind(target);
      },
    });
  return new Proxy(real, {
    get: (target, property) => {
      if (property === "prepare") return (text: string) => slowed(target.prepare(text), text);
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

async function warm(fields: Record<string, unknown> = {}): Promise<Created> {
  const created = await createKey({ scopes: ["posts:read"], ...fields });
  expect((await call("/open", created.key)).status).toBe(200);
  return created;
}

describe("1. a revoke whose D1 write throws while its batch is still on its way", () => {
  it("answers 503, and the batch that arrives after the deadline writes nothing: the key works everywhere, D1 unchanged", async () => {
    const created = await warm();
    const before = await storedRecord(created.key);
    const late = d1FailingWrites({ lateByMs: 1500 });
    const quick = gatewayWith({ CHANGE_TIMEOUT_MS: "1000" });
    const res = await withHomeDb(created.id, late, () => quick.call(`/admin/keys/${created.id}`, "test-admin-token-0123456789", { method: "DELETE" }));
    await expectProblem(res, 503, "GATEWAY_UNAVAILABLE");
    await (late as unknown as { landed(): Promise<unknown> }).landed();
    expect((await storedRecord(created.key)).revokedAt).toBeNull();
    await serveStale(before);
    expect((await call("/open", created.key)).status).toBe(200);
    const audit = (await (await admin(`/audit?targetId=${created.id}&action=key.revoke`)).json()) as { data: unknown[] };
    expect(audit.data).toEqual([]);
  });

  it("before the lineage's home exists, the same: 503, and nothing lands", async () => {
    const created = await createKey({ scopes: ["posts:read"] });
    const late = d1FailingWrites({ lateByMs: 1500 });
    const quick = gatewayWith({ DB: late, CHANGE_TIMEOUT_MS: "1000" });
    await expectProblem(await quick.call(`/admin/keys/${created.id}`, "test-admin-token-0123456789", { method: "DELETE" }), 503, "GATEWAY_UNAVAILABLE");
    await (late as unknown as { landed(): Promise<unknown> }).landed();
    expect((await storedRecord(created.key)).revokedAt).toBeNull();
    expect((await call("/open", created.key)).status).toBe(200);
  });
});

describe("2. an isolate's D1 refetch never joins a read that started before the change", () => {
  it("objects unreachable on a failOpen route: a key revoked with 200 is refused, not proxied", async () => {
    const created = await warm();
    const before = await storedRecord(created.key);
    const down = gatewayWith({ KEY_STATE: unreachable, DB: slowKeyReads(300) });
    // A request whose refetch (the object cannot be asked) is in flight when the revoke lands ...
    const early = down.call("/open", created.key);
    await sleep(50);
    await revokeKey(created.id);
    await serveStale(before); // this isolate still holds the record from before
    // ... must not lend its answer to a request that arrives after the revoke's 200.
    await expectProblem(await down.call("/open", created.key), 401, "KEY_REVOKED");
    await early;
  });

  it("objects up: a key re-enabled with 200 is admitted, not refused KEY_DISABLED", async () => {
    const created = await warm();
    const v1 = await storedRecord(created.key);
    await patchKey(created.id, { enabled: false });
    await serveStale(v1);
    const slow = gatewayWith({ DB: slowKeyReads(300) });
    // Its cached record is stale: the object says so, and the refetch (which will read "disabled") starts.
    const early = slow.call("/open", created.key);
    await sleep(50);
    await patchKey(created.id, { enabled: true });
    await serveStale(v1);
    expect((await slow.call("/open", created.key)).status).toBe(200);
    await early;
  });
});

describe("3. a key a rotation retired never comes back", () => {
  it("rotate A→B with grace, rotate B→C, then PATCH A { expiresAt: null }: A stays unusable", async () => {
    const a = await warm();
    const b = (await (await admin(`/keys/${a.id}/rotate`, { method: "POST", json: { gracePeriodSeconds: 3600 } })).json()) as Created;
    expect((await admin(`/keys/${b.id}/rotate`, { method: "POST", json: { gracePeriodSeconds: 3600 } })).status).toBe(201);
    await admin(`/keys/${a.id}`, { method: "PATCH", json: { expiresAt: null } });
    await expectProblem(await call("/open", a.key), 401, "KEY_EXPIRED");
  });
});

describe("4. an object from before credits were versioned", () => {
  it("applies an operator's credit change it hears of first: PATCH to 100 answers 200, the next request is admitted", async () => {
    const created = await warm({ credits: { remaining: 1 } });
    await expectProblem(await call("/open", created.key), 429, "QUOTA_EXHAUSTED");
    // Such an object held its balance, but neither a credits version nor a claim on its lineage.
    await runInDurableObject(stateOf(created.id), (_: unknown, state: DurableObjectState) => {
      state.storage.kv.delete("creditsVersion");
      state.storage.kv.delete("claimed");
    });
    await evictDurableObject(stateOf(created.id));
    const patched = await patchKey(created.id, { credits: { remaining: 100 } });
    expect(patched.credits?.remaining).toBe(100);
    const res = await call("/open", created.key);
    expect(res.status, await res.clone().text()).toBe(200);
    const verdict = (await (await admin("/keys/verify", { method: "POST", json: { key: created.key } })).json()) as { credits: { remaining: number } };
    expect(verdict.credits.remaining).toBe(99);
  });
});

describe("5. expiry judged the same in every isolate", () => {
  it("a rotation with no grace period, made by an admin isolate whose clock is 5 s ahead, retires the old key at once", async () => {
    const created = await warm();
    const realNow = Date.now;
    Date.now = () => realNow() + 5_000;
    let res: Response;
    try {
      res = await admin(`/keys/${created.id}/rotate`, { method: "POST", json: { gracePeriodSeconds: 0 } });
    } finally {
      Date.now = realNow;
    }
    expect(res.status).toBe(201);
    await expectProblem(await call("/open", created.key), 401, "KEY_EXPIRED");
  });
});

describe("6. a refusal the cache decided stands only once confirmed", () => {
  it("objects unreachable on a failOpen route: a key re-enabled with 200 is let through, not refused from the cache", async () => {
    const created = await warm();
    await patchKey(created.id, { enabled: false });
    const disabled = await storedRecord(created.key);
    await patchKey(created.id, { enabled: true });
    await serveStale(disabled);
    const down = gatewayWith({ KEY_STATE: unreachable });
    expect((await down.call("/open", created.key)).status).toBe(200);
  });
});
