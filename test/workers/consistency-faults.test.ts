import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createKey, type Created } from "./helpers";
import {
  d1FailingWrites,
  expectProblem,
  gatewayWith,
  hangs,
  keyStateWith,
  rejects,
  serveStale,
  storedRecord,
  throwing,
  withHomeDb,
} from "./gateway-helpers";
import { loadLineageOf } from "../../src/store/lineage";
import { env } from "cloudflare:workers";

/**
 * DESIGN.md "Consistency": an admin change that answered 2xx is in force on the next request
 * in every isolate, whatever failed in between; otherwise the call failed and nothing changed.
 * Each admin change runs with one part failing; then the next consumer request is judged from
 * the point of view of an isolate that still caches the record from before the change.
 */

interface Change {
  fields?: Record<string, unknown>;
  method: string;
  path: (id: string) => string;
  body?: unknown;
  status: number;
  /** what the old key gets on the next request once the change is in force */
  next: [number, string];
}

const CHANGES: Record<string, Change> = {
  revoke: { method: "DELETE", path: (id) => `/admin/keys/${id}`, status: 200, next: [401, "KEY_REVOKED"] },
  disable: { method: "PATCH", path: (id) => `/admin/keys/${id}`, body: { enabled: false }, status: 200, next: [403, "KEY_DISABLED"] },
  "scope change": { method: "PATCH", path: (id) => `/admin/keys/${id}`, body: { scopes: [] }, status: 200, next: [403, "INSUFFICIENT_SCOPE"] },
  "credit change": {
    fields: { credits: { remaining: 100 } },
    method: "PATCH",
    path: (id) => `/admin/keys/${id}`,
    body: { credits: { remaining: 0 } },
    status: 200,
    next: [429, "QUOTA_EXHAUSTED"],
  },
  rotation: {
    method: "POST",
    path: (id) => `/admin/keys/${id}/rotate`,
    body: { gracePeriodSeconds: 0 },
    status: 201,
    next: [401, "KEY_EXPIRED"],
  },
};

interface Fault {
  env: () => Partial<Env>;
  /** a fault inside the lineage's home (its D1), in place while the admin call runs */
  homeDb?: () => D1Database;
  /** "applied": the call answers 2xx and the change is in force; "refused": 503 and nothing changed */
  promise: "applied" | "refused";
  /** the change is made before any consumer request created the lineage's home: the admin API commits it */
  cold?: boolean;
}

/** The change reaches the home, which commits it, and then the answer is lost on its way back. */
const answerLost = (real: { change(req: unknown): Promise<unknown> }, req: unknown) =>
  real.change(req).then(() => Promise.reject(new Error("connection reset after the change was sent")));

/**
 * Short deadlines, so a change whose outcome was lost is settled within the test: D1's clock
 * passes the change's `until` after CHANGE_TIMEOUT_MS.
 */
const QUICK = { CHANGE_TIMEOUT_MS: "1000", STATE_TIMEOUT_MS: "300" };

const FAULTS: Record<string, Fault> = {
  "the home fails when handed the change": { env: () => ({ KEY_STATE: keyStateWith({ change: rejects }), ...QUICK }), promise: "refused" },
  "the home hangs when handed the change": { env: () => ({ KEY_STATE: keyStateWith({ change: hangs }), ...QUICK }), promise: "refused" },
  "the home commits the change but its answer is lost": {
    env: () => ({ KEY_STATE: keyStateWith({ change: answerLost as never }), ...QUICK }),
    promise: "applied",
  },
  "KV fails during the change": { env: () => ({ KEY_CACHE: throwing<KVNamespace>("KV") }), promise: "applied" },
  "D1 fails mid-change": { env: () => QUICK, homeDb: () => d1FailingWrites("fail"), promise: "refused" },
  "D1 commits but its answer is lost": { env: () => QUICK, homeDb: () => d1FailingWrites("lose-answer"), promise: "applied" },
  "D1 throws while the batch is still on its way, and it lands before the deadline": {
    env: () => QUICK,
    homeDb: () => d1FailingWrites({ lateByMs: 100 }),
    promise: "applied",
  },
  "D1 throws while the batch is still on its way, and it lands after the deadline": {
    env: () => QUICK,
    homeDb: () => d1FailingWrites({ lateByMs: 1500 }),
    promise: "refused",
  },
  "before the home exists, D1 fails mid-change": { env: () => ({ DB: d1FailingWrites("fail"), ...QUICK }), cold: true, promise: "refused" },
  "before the home exists, D1 commits but its answer is lost": {
    env: () => ({ DB: d1FailingWrites("lose-answer"), ...QUICK }),
    cold: true,
    promise: "applied",
  },
  "before the home exists, D1 throws while the batch is still on its way, and it lands after the deadline": {
    env: () => ({ DB: d1FailingWrites({ lateByMs: 1500 }), ...QUICK }),
    cold: true,
    promise: "refused",
  },
};

/** A key whose lineage's KeyState object exists and whose record this isolate caches. */
async function warmKey(fields: Record<string, unknown> = {}): Promise<Created> {
  const created = await createKey({ scopes: ["posts:read"], ...fields });
  for (let i = 0; i < 2; i++) expect((await call("/posts", created.key)).status).toBe(200);
  return created;
}

for (const [faultName, fault] of Object.entries(FAULTS)) {
  describe(faultName, () => {
    const faulty = gatewayWith(fault.env());

    for (const [changeName, change] of Object.entries(CHANGES)) {
      it(`${changeName}: ${fault.promise === "applied" ? "answers 2xx and is in force on the next request" : "answers 503 and changes nothing"}`, async () => {
        const created = fault.cold ? await createKey({ scopes: ["posts:read"], ...change.fields }) : await warmKey(change.fields);
        const before = await storedRecord(created.key);
        const homeDb = fault.homeDb?.();
        const send = () =>
          faulty.call(change.path(created.id), ADMIN_TOKEN, {
            method: change.method,
            headers: change.body === undefined ? {} : { "Content-Type": "application/json" },
            body: change.body === undefined ? undefined : JSON.stringify(change.body),
          });
        const res = homeDb ? await withHomeDb(created.id, homeDb, send) : await send();
        // A batch still on its way has landed or been refused by now.
        await ((homeDb ?? faulty.env.DB) as unknown as { landed?: () => Promise<unknown> }).landed?.();
        // Another isolate still holds the record from before the change, in memory and in KV.
        await serveStale(before);

        if (fault.promise === "refused") {
          const problem = await expectProblem(res, 503, "GATEWAY_UNAVAILABLE");
          expect(problem.detail).toMatch(/try again/i);
          expect((await storedRecord(created.key)).version).toBe(before.version);
          expect((await loadLineageOf(env.DB, created.id))!.keys).toHaveLength(1);
          expect((await call("/posts", created.key)).status).toBe(200);
          return;
        }
        const text = await res.text();
        expect(res.status, text).toBe(change.status);
        await expectProblem(await call("/posts", created.key), ...change.next);
        if (changeName === "rotation") {
          const successor = JSON.parse(text) as Created;
          expect((await call("/posts", successor.key)).status).toBe(200);
        }
      });
    }
  });
}
