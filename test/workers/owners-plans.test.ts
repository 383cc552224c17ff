import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { admin, call, createKey, uniqueOwner, type Created } from "./helpers";
import { decodeMetadata, echoed, expectProblem, patchKey, revokeKey, rotateKey, serveStale, statusCounts, storedRecord } from "./gateway-helpers";
import { callFrom, homeOf } from "./region-helpers";
import { deliveriesTo, endpointWithReceiver, eventually, payloadOf, received } from "./webhook-helpers";
import { createScheduledController, runInDurableObject } from "cloudflare:test";
import worker from "../../src/index";
import { SYNC_OWNERS } from "../../src/lifecycle/owners";
import { useLink } from "../../src/admission/link";
import { LAST_ROUND } from "../../src/admission/object";
import type { AdmitRequest, AdmitResult } from "../../src/admission/protocol";
import { sharedLimits, viewVersion } from "../../src/owners/record";
import { findOwnerView } from "../../src/store/owners";

/**
 * DESIGN.md, "Owners and plans": limits and a balance all of an owner's keys share, exact across
 * its keys, regions and concurrency; plans that give keys their limits, owners their shared ones,
 * a key count and a scope ceiling; every change in force on the next request.
 */

const minute = (limit: number) => [{ name: "minute", limit, windowSeconds: 60 }];

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

const putOwner = (id: string, body: Record<string, unknown>) => admin(`/owners/${encodeURIComponent(id)}`, { method: "PUT", json: body });
const patchOwner = (id: string, body: Record<string, unknown>) => admin(`/owners/${encodeURIComponent(id)}`, { method: "PATCH", json: body });
let plans = 0;
const planId = (label: string) => `${label}-${Date.now().toString(36)}-${++plans}`;
const createPlan = (body: Record<string, unknown>) => admin("/plans", { method: "POST", json: body });

/** An owner with shared limits or balance, and two keys of it. */
async function ownerWithKeys(owner: Record<string, unknown>, keyFields: Record<string, unknown> = {}): Promise<{ ownerId: string; a: Created; b: Created }> {
  const ownerId = uniqueOwner("shared");
  await json(await putOwner(ownerId, owner), 201);
  const a = await createKey({ ownerId, ...keyFields });
  const b = await createKey({ ownerId, ...keyFields });
  return { ownerId, a, b };
}

describe("limits an owner's keys share", () => {
  it("two keys alternating against a shared limit of N are refused at request N+1 exactly, naming owner.<name>", async () => {
    const { a, b } = await ownerWithKeys({ ratelimits: minute(7) });
    const statuses = [];
    for (let i = 0; i < 9; i++) statuses.push((await call("/echo", i % 2 ? b.key : a.key)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 429, 429]);
    const refused = await call("/echo", a.key);
    const problem = (await expectProblem(refused, 429, "RATE_LIMITED")) as unknown as { limit: string };
    expect(problem.limit).toBe("owner.minute");
    expect(refused.headers.get("RateLimit-Policy")).toContain('"owner.minute";q=7;w=60');
    expect(refused.headers.get("RateLimit")).toMatch(/"owner\.minute";r=0;t=\d+/);
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
  });

  it("holds under 50-way concurrency across the owner's keys", async () => {
    const { a, b } = await ownerWithKeys({ ratelimits: minute(30) });
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => call("/echo", i % 2 ? b.key : a.key)));
    expect(statusCounts(responses)).toEqual({ 200: 30, 429: 20 });
  });

  it("holds across two regions", async () => {
    const { a, b } = await ownerWithKeys({ ratelimits: minute(20) });
    expect((await callFrom("weur", "/echo", a.key)).status).toBe(200);
    expect((await callFrom("weur", "/echo", b.key)).status).toBe(200);
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => callFrom(i % 2 ? "apac" : "weur", "/echo", i % 3 ? a.key : b.key)),
    );
    expect(statusCounts(responses)).toEqual({ 200: 18, 429: 22 });
  });

  it("a shared balance of N credits admits exactly N across the owner's keys", async () => {
    const { a, b } = await ownerWithKeys({ credits: { remaining: 12 } });
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => call("/echo", i % 2 ? b.key : a.key)));
    expect(statusCounts(responses)).toEqual({ 200: 12, 429: 18 });
    const problem = (await expectProblem(responses.find((r) => r.status === 429)!, 429, "QUOTA_EXHAUSTED")) as unknown as { limit: string };
    expect(problem.limit).toBe("owner.credits");
  });

  it("a request draws credits from its key's own balance and from its owner's", async () => {
    const { a } = await ownerWithKeys({ credits: { remaining: 100 } }, { credits: { remaining: 3 } });
    for (let i = 0; i < 3; i++) expect((await call("/echo", a.key)).status).toBe(200);
    const problem = (await expectProblem(await call("/echo", a.key), 429, "QUOTA_EXHAUSTED")) as unknown as { limit: string };
    expect(problem.limit).toBe("credits");
  });

  it("rotation, revocation and new keys never reset the owner's windows or balance", async () => {
    const { ownerId, a, b } = await ownerWithKeys({ ratelimits: minute(6), credits: { remaining: 5 } });
    for (let i = 0; i < 2; i++) expect((await call("/echo", a.key)).status).toBe(200);
    const rotated = await rotateKey(a.id, 0);
    await revokeKey(b.id);
    const c = await createKey({ ownerId });
    expect((await call("/echo", rotated.key)).status).toBe(200);
    expect((await call("/echo", c.key)).status).toBe(200);
    expect((await call("/echo", c.key)).status).toBe(200);
    await expectProblem(await call("/echo", rotated.key), 429, "QUOTA_EXHAUSTED");
    const owner = await json<{ balance: { remaining: number } }>(await admin(`/owners/${ownerId}`));
    expect(owner.balance.remaining).toBe(0);
  });
});

describe("an object that holds budgets of its owner's ledger", () => {
  it("asks the owner's home again when that lease lapsed while its rounds went to the key's, even past its last round", async () => {
    expect(LAST_ROUND).toBeGreaterThan(0);
    const { ownerId, a } = await ownerWithKeys({ ratelimits: minute(100) });
    expect((await call("/echo", a.key)).status).toBe(200); // the key's home now holds a lease of the owner's ledger
    await new Promise((resolve) => setTimeout(resolve, 2_000 + 200)); // LEASE_MS: that lease lapses
    const view = (await findOwnerView(env.DB, ownerId))!;
    const req: AdmitRequest = {
      lineageId: a.id,
      region: null,
      keyId: a.id,
      version: (await storedRecord(a.key)).version,
      ratelimits: [],
      cost: 1,
      owner: { id: ownerId, version: viewVersion(view), ratelimits: sharedLimits(view), credits: false },
    };
    // The request as it stands after LAST_ROUND rounds spent asking for the key's budgets.
    const result = await runInDurableObject(homeOf(a.id), (home: unknown) =>
      (home as { attempt(r: AdmitRequest, round: number): AdmitResult | Promise<AdmitResult> }).attempt(req, LAST_ROUND),
    );
    expect(result.outcome).toBe("OK");
  });
});

describe("plans", () => {
  it("give keys without limits of their own the plan's, and owners the plan's shared limits; a change is in force on the next request", async () => {
    const id = planId("pro");
    await json(await createPlan({ id, name: "Pro", keyRatelimits: minute(3), ownerRatelimits: minute(100) }), 201);
    const ownerId = uniqueOwner("planned");
    await json(await putOwner(ownerId, { plan: id, metadata: { tier: "gold" } }), 201);
    const key = await createKey({ ownerId });
    const first = await call("/echo", key.key);
    const echo = await echoed(first);
    expect(echo.headers["x-keygate-plan"]).toBe(id);
    expect(decodeMetadata(echo.headers["x-keygate-owner-metadata"]!)).toEqual({ tier: "gold" });
    expect(decodeJwt(echo.headers["x-keygate-assertion"]!).plan).toBe(id);
    expect(first.headers.get("RateLimit-Policy")).toBe('"minute";q=3;w=60, "owner.minute";q=100;w=60');
    for (let i = 0; i < 2; i++) expect((await call("/echo", key.key)).status).toBe(200);
    await expectProblem(await call("/echo", key.key), 429, "RATE_LIMITED");

    await json(await admin(`/plans/${id}`, { method: "PATCH", json: { keyRatelimits: minute(5) } }));
    // the isolate still holds the owner's plan from before: the owner's version tells it
    expect((await call("/echo", key.key)).status).toBe(200);
    expect((await call("/echo", key.key)).status).toBe(200);
    await expectProblem(await call("/echo", key.key), 429, "RATE_LIMITED");
  });

  it("a plan change of the shared limits is in force on the next request of the owner's keys", async () => {
    const id = planId("team");
    await json(await createPlan({ id, name: "Team", ownerRatelimits: minute(50) }), 201);
    const { a, b } = await ownerWithKeys({ plan: id });
    for (let i = 0; i < 4; i++) expect((await call("/echo", i % 2 ? a.key : b.key)).status).toBe(200);
    await json(await admin(`/plans/${id}`, { method: "PATCH", json: { ownerRatelimits: minute(5) } }));
    expect((await call("/echo", a.key)).status).toBe(200);
    const refused = await call("/echo", b.key);
    const problem = (await expectProblem(refused, 429, "RATE_LIMITED")) as unknown as { limit: string };
    expect(problem.limit).toBe("owner.minute");
  });

  it("a plan's shared balance: each owner starts at its amount, keeps what is left when the plan changes, starts afresh on another plan", async () => {
    const credits = (amount: number) => ({ amount, interval: "monthly", day: 1 });
    const a = planId("metered");
    const b = planId("bigger");
    await json(await createPlan({ id: a, name: "Metered", ownerCredits: credits(5) }), 201);
    await json(await createPlan({ id: b, name: "Bigger", ownerCredits: credits(4) }), 201);
    const { ownerId, a: one, b: two } = await ownerWithKeys({ plan: a });
    const balance = async () => (await json<{ balance: { remaining: number; refill: { amount: number } } }>(await admin(`/owners/${ownerId}`))).balance;
    expect((await balance()).remaining).toBe(5);
    for (let i = 0; i < 3; i++) expect((await call("/echo", i % 2 ? one.key : two.key)).status).toBe(200);
    expect((await balance()).remaining).toBe(2);

    await json(await admin(`/plans/${a}`, { method: "PATCH", json: { ownerCredits: credits(10) } }));
    expect(await balance()).toMatchObject({ remaining: 2, refill: { amount: 10 } });
    for (let i = 0; i < 2; i++) expect((await call("/echo", one.key)).status).toBe(200);
    const empty = (await expectProblem(await call("/echo", two.key), 429, "QUOTA_EXHAUSTED")) as unknown as { limit: string };
    expect(empty.limit).toBe("owner.credits");

    await json(await patchOwner(ownerId, { plan: b }));
    expect((await balance()).remaining).toBe(4);
    const responses = [];
    for (let i = 0; i < 6; i++) responses.push(await call("/echo", i % 2 ? one.key : two.key));
    expect(statusCounts(responses)).toEqual({ 200: 4, 429: 2 });
  });

  it("a preview answers what would change and writes nothing", async () => {
    const id = planId("free");
    const created = await json<{ version: number }>(await createPlan({ id, name: "Free", keyRatelimits: minute(10) }), 201);
    const { ownerId } = await ownerWithKeys({ plan: id });
    const before = await json<Record<string, unknown>>(await admin(`/plans/${id}`));
    const preview = await json<{ owners: number; keys: number; changes: Record<string, { from: unknown; to: unknown }>; refused: unknown[] }>(
      await admin(`/plans/${id}/preview`, { method: "POST", json: { keyRatelimits: minute(20), scopes: ["posts:read"], name: "Free!" } }),
    );
    expect(preview.owners).toBe(1);
    expect(preview.keys).toBe(2);
    expect(preview.changes.keyRatelimits).toEqual({ from: minute(10), to: minute(20) });
    expect(preview.changes.name).toEqual({ from: "Free", to: "Free!" });
    expect(preview.refused).toEqual([]);
    expect(await json(await admin(`/plans/${id}`))).toEqual(before);
    expect(before.version).toBe(created.version);
    const audit = await json<{ data: unknown[] }>(await admin(`/audit?targetId=${id}&action=plan.update`));
    expect(audit.data).toEqual([]);
    const owner = await json<{ version: number }>(await admin(`/owners/${ownerId}`));
    expect(owner.version).toBe(1);
  });

  it("a plan's owner is pending until every holder of its budgets was told, so pending 0 means in force", async () => {
    const id = planId("told");
    await json(await createPlan({ id, name: "Told", ownerRatelimits: minute(100) }), 201);
    const { ownerId, a } = await ownerWithKeys({ plan: id });
    expect((await call("/echo", a.key)).status).toBe(200); // the key's home holds a budget of the owner's limit
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const told: string[] = [];
    // Calls to anything but the owner's home (its telling the key's home) wait until released.
    useLink({
      call: async (_from, to, send) => {
        if (to.name !== ownerId) {
          told.push(to.name);
          await held;
        }
        return send();
      },
      placed: () => undefined,
    });
    try {
      const changing = admin(`/plans/${id}`, { method: "PATCH", json: { ownerRatelimits: minute(1) } });
      await eventually(async () => told.length > 0, 5_000, "the owner's home telling the key's home");
      expect((await json<{ pending: number }>(await admin(`/plans/${id}`))).pending).toBe(1);
      release();
      await json(await changing);
    } finally {
      release();
      useLink(null);
    }
    expect((await json<{ pending: number }>(await admin(`/plans/${id}`))).pending).toBe(0);
    // the window's 1 request is spent: the key's home, told, buys no budget of the old limit either
    await expectProblem(await call("/echo", a.key), 429, "RATE_LIMITED");
  });

  it("a change to more owners than one call tells answers 202; each owner obeys it once pending is 0, and the hourly run tells homes the call missed", async () => {
    const id = planId("wide");
    // a day's window, so no window turns between a home's first request and its last
    const day = (limit: number) => [{ name: "day", limit, windowSeconds: 86_400 }];
    await json(await createPlan({ id, name: "Wide", ownerRatelimits: day(100) }), 201);
    const members: { ownerId: string; key: Created }[] = [];
    for (let i = 0; i < SYNC_OWNERS + 5; i++) {
      const ownerId = uniqueOwner("wide");
      await json(await putOwner(ownerId, { plan: id }), 201);
      const key = await createKey({ ownerId });
      expect((await call("/echo", key.key)).status).toBe(200); // the owner's home holds its window now
      members.push({ ownerId, key });
    }
    const asked = Date.now();
    const accepted = await json<{ owners: number; pending: number; inForceBy: string }>(
      await admin(`/plans/${id}`, { method: "PATCH", json: { ownerRatelimits: day(2) } }),
      202,
    );
    expect(accepted.owners).toBe(members.length);
    expect(accepted.pending).toBe(members.length);
    const inForceBy = Date.parse(accepted.inForceBy);
    expect(inForceBy).toBeGreaterThan(asked);
    expect(inForceBy - asked).toBeLessThanOrEqual(60_000);

    const pending = async () => (await json<{ pending: number }>(await admin(`/plans/${id}`))).pending;
    await eventually(async () => (await pending()) === 0, 20_000, "every owner's home told");
    for (const { key } of members) {
      const second = await call("/echo", key.key);
      expect(second.status).toBe(200);
      expect(second.headers.get("RateLimit-Policy")).toBe('"owner.day";q=2;w=86400');
      const problem = (await expectProblem(await call("/echo", key.key), 429, "RATE_LIMITED")) as unknown as { limit: string };
      expect(problem.limit).toBe("owner.day");
    }

    // Homes the call could not reach (as if their region was cut off): the hourly run tells them.
    const missed = members.slice(0, 3).map((m) => m.ownerId);
    for (const ownerId of missed) await env.DB.prepare("UPDATE owners SET plan_version_seen = 0 WHERE id = ?").bind(ownerId).run();
    expect(await pending()).toBe(missed.length);
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "17 * * * *" }), env);
    expect(await pending()).toBe(0);
  });
});

describe("bad input", () => {
  it("an unknown plan on an owner is 400 naming it", async () => {
    const res = await putOwner(uniqueOwner("x"), { plan: "no-such-plan" });
    const problem = await expectProblem(res, 400, "VALIDATION_FAILED");
    expect(problem.detail).toContain("no-such-plan");
  });

  it("deleting a plan in use is 409 PLAN_IN_USE; once free, it goes", async () => {
    const id = planId("gone");
    await json(await createPlan({ id, name: "Gone" }), 201);
    const ownerId = uniqueOwner("on");
    await json(await putOwner(ownerId, { plan: id }), 201);
    await expectProblem(await admin(`/plans/${id}`, { method: "DELETE" }), 409, "PLAN_IN_USE");
    await json(await patchOwner(ownerId, { plan: null }));
    expect(await json(await admin(`/plans/${id}`, { method: "DELETE" }))).toEqual({ id, deleted: true });
    await expectProblem(await admin(`/plans/${id}`), 404, "NOT_FOUND");
  });

  it("a key beyond its plan's ceiling cannot be created or changed: 403 SCOPE_NOT_ALLOWED", async () => {
    const id = planId("ceiling");
    await json(await createPlan({ id, name: "Ceiling", scopes: ["posts:read"] }), 201);
    const ownerId = uniqueOwner("capped");
    await json(await putOwner(ownerId, { plan: id }), 201);
    const ok = await createKey({ ownerId, scopes: ["posts:read"] });
    const refused = await admin("/keys", { method: "POST", json: { name: "too much", ownerId, scopes: ["posts:write"] } });
    const problem = await expectProblem(refused, 403, "SCOPE_NOT_ALLOWED");
    expect(problem.detail).toContain("posts:write");
    await expectProblem(await admin(`/keys/${ok.id}`, { method: "PATCH", json: { scopes: ["posts:*"] } }), 403, "SCOPE_NOT_ALLOWED");
  });

  it("moving an owner to a plan its keys exceed is 403 naming the keys and scopes", async () => {
    const id = planId("narrow");
    await json(await createPlan({ id, name: "Narrow", scopes: ["posts:read"] }), 201);
    const ownerId = uniqueOwner("wide");
    const key = await createKey({ ownerId, scopes: ["posts:read", "posts:write"] });
    const problem = (await expectProblem(await patchOwner(ownerId, { plan: id }), 403, "SCOPE_NOT_ALLOWED")) as unknown as {
      detail: string;
      keys: { id: string; scopes: string[] }[];
    };
    expect(problem.keys).toEqual([{ id: key.id, scopes: ["posts:write"] }]);
    expect(problem.detail).toContain(key.id);
  });

  it("maxKeys below the owner's count is allowed, but no new key until under it", async () => {
    const id = planId("few");
    await json(await createPlan({ id, name: "Few", maxKeys: 5 }), 201);
    const { ownerId, a } = await ownerWithKeys({ plan: id });
    await json(await admin(`/plans/${id}`, { method: "PATCH", json: { maxKeys: 1 } }));
    await expectProblem(await admin("/keys", { method: "POST", json: { name: "third", ownerId } }), 409, "KEY_LIMIT_REACHED");
    await revokeKey(a.id);
    await expectProblem(await admin("/keys", { method: "POST", json: { name: "third", ownerId } }), 409, "KEY_LIMIT_REACHED");
  });

  it("concurrent changes to one plan apply one after the other, never a mix", async () => {
    const id = planId("race");
    await json(await createPlan({ id, name: "Race", keyRatelimits: minute(1), ownerRatelimits: minute(1) }), 201);
    const results = await Promise.all([
      admin(`/plans/${id}`, { method: "PATCH", json: { keyRatelimits: minute(2), ownerRatelimits: minute(2) } }),
      admin(`/plans/${id}`, { method: "PATCH", json: { keyRatelimits: minute(3), ownerRatelimits: minute(3) } }),
    ]);
    for (const res of results) expect([200, 409]).toContain(res.status);
    const plan = await json<{ keyRatelimits: { limit: number }[]; ownerRatelimits: { limit: number }[]; version: number }>(await admin(`/plans/${id}`));
    expect(plan.keyRatelimits[0].limit).toBe(plan.ownerRatelimits[0].limit);
    expect(plan.version).toBe(1 + results.filter((r) => r.status === 200).length);
  });
});

describe("owners exist", () => {
  it("as soon as a key names them, with no plan and nothing shared; keys keep working unchanged", async () => {
    const key = await createKey({ ratelimits: minute(2) });
    const owner = await json<{ id: string; plan: string | null; ratelimits: unknown; credits: unknown; keys: number; balance: unknown; limits: unknown[] }>(
      await admin(`/owners/${key.ownerId}`),
    );
    expect(owner).toMatchObject({ id: key.ownerId, plan: null, ratelimits: null, credits: null, keys: 1, balance: null, limits: [] });
    const res = await call("/echo", key.key);
    expect(res.headers.get("RateLimit-Policy")).toBe('"minute";q=2;w=60');
    const echo = await echoed(res);
    expect(echo.headers["x-keygate-plan"]).toBeUndefined();
    expect(echo.headers["x-keygate-owner-metadata"]).toBeUndefined();
  });

  it("an owner change is in force on the next request, also in an isolate that still holds the owner from before", async () => {
    const { ownerId, a } = await ownerWithKeys({ ratelimits: minute(100) });
    expect((await call("/echo", a.key)).status).toBe(200);
    const before = await storedRecord(a.key);
    await json(await patchOwner(ownerId, { ratelimits: minute(1) }));
    await serveStale(before);
    await expectProblem(await call("/echo", a.key), 429, "RATE_LIMITED");
  });

  it("lists owners with their keys and requests, by plan", async () => {
    const id = planId("listed");
    await json(await createPlan({ id, name: "Listed" }), 201);
    const { ownerId, a } = await ownerWithKeys({ plan: id });
    expect((await call("/echo", a.key)).status).toBe(200);
    await patchKey(a.id, { name: "renamed" });
    const page = await json<{ data: { id: string; keys: number; plan: string }[] }>(await admin(`/owners?plan=${id}`));
    expect(page.data).toMatchObject([{ id: ownerId, keys: 2, plan: id }]);
    void env;
  });
});

describe("events", () => {
  it("owner.updated and plan.updated reach webhooks, signed, for each change: a plan's creation, change and deletion", async () => {
    const { name } = await endpointWithReceiver(["owner.updated", "plan.updated"]);
    const id = planId("evented");
    await json(await createPlan({ id, name: "Evented", keyRatelimits: minute(10) }), 201);
    const ownerId = uniqueOwner("evented");
    await json(await putOwner(ownerId, { name: "Acme" }), 201);
    await json(await patchOwner(ownerId, { plan: id }));
    await json(await admin(`/plans/${id}`, { method: "PATCH", json: { keyRatelimits: minute(20) } }));
    await json(await patchOwner(ownerId, { plan: null }));
    await json(await admin(`/plans/${id}`, { method: "DELETE" }));

    const aboutPlan = (p: { type: string; data: Record<string, unknown> }) => p.type === "plan.updated" && (p.data.plan as { id: string }).id === id;
    const planEvents = (await deliveriesTo(name, aboutPlan, 3)).map((d) => payloadOf(d).data);
    expect(planEvents.find((d) => d.created)).toBeTruthy();
    expect(planEvents.find((d) => d.changes)?.changes).toMatchObject({ keyRatelimits: { from: minute(10), to: minute(20) } });
    expect(planEvents.find((d) => d.deleted)).toMatchObject({ deleted: true, plan: { id } });

    const aboutOwner = (p: { type: string; data: Record<string, unknown> }) => p.type === "owner.updated" && (p.data.owner as { id: string }).id === ownerId;
    const ownerEvents = (await deliveriesTo(name, aboutOwner, 2)).map((d) => payloadOf(d).data);
    expect(ownerEvents.map((d) => (d.changes as { plan?: { to: unknown } }).plan?.to)).toEqual(expect.arrayContaining([id, null]));
    expect((await received(name)).every((d) => d.error === null && d.verified.every(Boolean))).toBe(true);
  });
});
