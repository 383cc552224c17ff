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
  /** "applied": the call answers 2xx and the change is in force; "refused": 503 and nothing changed */
  promise: "applied" | "refused";
}

const FAULTS: Record<string, Fault> = {
  "KeyState fails when told before D1 commits": { env: () => ({ KEY_STATE: keyStateWith({ prepare: rejects }) }), promise: "refused" },
  "KeyState hangs when told before D1 commits": {
    env: () => ({ KEY_STATE: keyStateWith({ prepare: hangs }), STATE_TIMEOUT_MS: "300" }),
    promise: "refused",
  },
  "KeyState fails when told after D1 committed": { env: () => ({ KEY_STATE: keyStateWith({ confirm: rejects }) }), promise: "applied" },
  "KeyState hangs when told after D1 committed": {
    env: () => ({ KEY_STATE: keyStateWith({ confirm: hangs }), STATE_TIMEOUT_MS: "300" }),
    promise: "applied",
  },
  "KV fails during the change": { env: () => ({ KEY_CACHE: throwing<KVNamespace>("KV") }), promise: "applied" },
  "D1 fails mid-change": { env: () => ({ DB: d1FailingWrites("fail") }), promise: "refused" },
  "D1 commits but its answer is lost": { env: () => ({ DB: d1FailingWrites("lose-answer") }), promise: "applied" },
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
        const created = await warmKey(change.fields);
        const before = await storedRecord(created.key);
        const res = await faulty.call(change.path(created.id), ADMIN_TOKEN, {
          method: change.method,
          headers: change.body === undefined ? {} : { "Content-Type": "application/json" },
          body: change.body === undefined ? undefined : JSON.stringify(change.body),
        });
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
