import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { admin, createKey, type Created } from "./helpers";
import { expectProblem, getRecord, patchKey, rotateKey, serveStale, sleep, statusCounts, storedRecord } from "./gateway-helpers";
import { callFrom, FROM, homeOf, regionalObjects, watchLink, type Traffic } from "./region-helpers";
import type { Region } from "../../src/admission/regions";

/**
 * DESIGN.md, "Regions": a lineage's home, and an admission object in each other region where
 * its keys are used; exact limits and credits across regions; changes in force in every region
 * once they answered 2xx, a region that cannot be told stopping within LEASE_MS. Requests carry
 * `request.cf` as Cloudflare sets it; the link seam (src/admission/link.ts) records every call
 * between isolates and objects and can cut a region off.
 */

let traffic: Traffic;
afterEach(() => traffic?.restore());

const LEASE_MS = 2_000; // the default, which the workers tests keep
const THREE: Region[] = ["weur", "apac", "enam"];

/** A key used first from weur, so its home is there, then from the other regions. */
async function usedEverywhere(fields: Record<string, unknown> = {}, regions = THREE): Promise<Created> {
  const created = await createKey({ scopes: ["posts:read"], ...fields });
  for (const region of regions) expect((await callFrom(region, "/posts", created.key)).status).toBe(200);
  return created;
}

describe("where a lineage's objects live", () => {
  it("the first consumer request creates the home in its own region; another region's requests go to that region's object", async () => {
    traffic = watchLink();
    const created = await createKey();
    expect((await callFrom("apac", "/echo", created.key)).status).toBe(200);
    const region = await runInDurableObject(homeOf(created.id), (_: unknown, state: DurableObjectState) => state.storage.kv.get("region"));
    expect(region).toBe("apac");
    expect(await regionalObjects(created.id)).toEqual([]);

    for (let i = 0; i < 3; i++) expect((await callFrom("weur", "/echo", created.key)).status).toBe(200);
    expect(await regionalObjects(created.id)).toEqual(["weur"]);
    // Once the isolate knows where the home is, weur's requests talk to weur's object only.
    const fromWeur = traffic.calls.filter((c) => c.from === "weur" && !c.to.includes("@"));
    const toRegional = traffic.calls.filter((c) => c.from === "weur" && c.to === `${created.id}@weur`);
    expect(toRegional.length).toBeGreaterThanOrEqual(2);
    // the first request, which learned where the home is, and the lease calls of weur's object
    expect(fromWeur.length).toBeLessThanOrEqual(1 + toRegional.length);
  });

  it("with consumers in one region, the home alone admits them: no regional object, one call per request", async () => {
    traffic = watchLink();
    const created = await createKey({ ratelimits: [{ name: "minute", limit: 100, windowSeconds: 60 }], credits: { remaining: 100 } });
    for (let i = 0; i < 10; i++) expect((await callFrom("enam", "/echo", created.key)).status).toBe(200);
    expect(await regionalObjects(created.id)).toEqual([]);
    expect(traffic.calls.filter((c) => c.to.startsWith(created.id))).toHaveLength(10);
  });
});

describe("exact limits across regions", () => {
  it("three regions hammering one lineage admit exactly its limit, concurrently", async () => {
    const limit = 30;
    const created = await createKey({ ratelimits: [{ name: "minute", limit, windowSeconds: 60 }] });
    expect((await callFrom("weur", "/echo", created.key)).status).toBe(200);
    const responses = await Promise.all(
      Array.from({ length: 90 }, (_, i) => callFrom(THREE[i % 3], "/echo", created.key)),
    );
    expect(statusCounts(responses)).toEqual({ 200: limit - 1, 429: 90 - (limit - 1) });
    for (const res of responses.filter((r) => r.status === 429)) {
      const problem = await expectProblem(res, 429, "RATE_LIMITED");
      expect((problem as unknown as { limit: string }).limit).toBe("minute");
      expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    }
  });

  it("budget one region holds unused is taken back for another: alternating regions are refused at request N+1 exactly", async () => {
    const limit = 12;
    const created = await createKey({ ratelimits: [{ name: "minute", limit, windowSeconds: 60 }] });
    const statuses: number[] = [];
    for (let i = 0; i < limit + 3; i++) statuses.push((await callFrom(THREE[i % 3], "/echo", created.key)).status);
    expect(statuses).toEqual([...Array(limit).fill(200), 429, 429, 429]);
  });

  it("a shared balance of N credits admits exactly N across regions and never goes below zero", async () => {
    const created = await createKey({ credits: { remaining: 25 } });
    expect((await callFrom("weur", "/echo", created.key)).status).toBe(200);
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => callFrom(THREE[i % 3], "/echo", created.key)));
    expect(statusCounts(responses)).toEqual({ 200: 24, 429: 36 });
    await expectProblem(responses.find((r) => r.status === 429)!, 429, "QUOTA_EXHAUSTED");
    expect((await getRecord(created.id)).credits?.remaining).toBe(0);
  });

  it("a regional object evicted with budget in hand never lets the regions over-admit", async () => {
    const limit = 20;
    const created = await createKey({ ratelimits: [{ name: "minute", limit, windowSeconds: 60 }] });
    let admitted = 0;
    for (let i = 0; i < 9; i++) if ((await callFrom(THREE[i % 3], "/echo", created.key)).status === 200) admitted++;
    await evictDurableObject(env.REGIONAL_STATE.get(env.REGIONAL_STATE.idFromName(`${created.id}@apac`)));
    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => callFrom(THREE[i % 3], "/echo", created.key)));
    admitted += statusCounts(responses)[200] ?? 0;
    expect(admitted).toBeLessThanOrEqual(limit);
    // What the evicted object held stays counted until its window ends: bounded, never over.
    expect(admitted).toBeGreaterThanOrEqual(limit - 10);
  });
});

describe("changes reach every region", () => {
  const CHANGES: [string, (c: Created) => Promise<unknown>, number, string][] = [
    ["revoke", (c) => admin(`/keys/${c.id}`, { method: "DELETE" }), 401, "KEY_REVOKED"],
    ["disable", (c) => patchKey(c.id, { enabled: false }), 403, "KEY_DISABLED"],
    ["scope change", (c) => patchKey(c.id, { scopes: [] }), 403, "INSUFFICIENT_SCOPE"],
    ["credits set to 0", (c) => patchKey(c.id, { credits: { remaining: 0 } }), 429, "QUOTA_EXHAUSTED"],
    ["rotation with no grace", (c) => rotateKey(c.id, 0), 401, "KEY_EXPIRED"],
  ];
  for (const [name, change, status, code] of CHANGES) {
    it(`${name}: the next request in every region, from an isolate still holding the old record, is refused`, async () => {
      const created = await usedEverywhere({ credits: { remaining: 100 } });
      const before = await storedRecord(created.key);
      await change(created);
      for (const region of THREE) {
        await serveStale(before); // each region's isolate still holds the old record
        await expectProblem(await callFrom(region, "/posts", created.key), status, code);
      }
    });
  }

  it("a limit lowered just after a region took a budget: from the 2xx on, the window admits no more than the new limit", async () => {
    const created = await usedEverywhere({ ratelimits: [{ name: "minute", limit: 1000, windowSeconds: 60 }] });
    // apac's object holds a budget of the old limit
    for (let i = 0; i < 5; i++) expect((await callFrom("apac", "/posts", created.key)).status).toBe(200);
    await patchKey(created.id, { ratelimits: [{ name: "minute", limit: 10, windowSeconds: 60 }] });
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => callFrom(THREE[i % 3], "/posts", created.key)));
    // 8 admitted before the change (3 + 5), so at most 2 more in this window
    expect(statusCounts(responses)[200] ?? 0).toBeLessThanOrEqual(2);
  });
});

describe("a limit changed while a region holds a budget of it", () => {
  const day = (limit: number) => [{ name: "day", limit, windowSeconds: 86_400 }]; // no window turns within a test

  it("a request from an isolate still holding the old limit, once the region's lease lapsed, buys no budget of the old limit", async () => {
    const created = await usedEverywhere({ ratelimits: day(1000) });
    const before = await storedRecord(created.key);
    await patchKey(created.id, { ratelimits: day(3) }); // 3 admitted already: nothing more today
    await sleep(LEASE_MS + 200);
    await serveStale(before); // apac's isolate renews the region's lease with the old limit in hand
    const responses = [];
    for (let i = 0; i < 5; i++) {
      responses.push(await callFrom("apac", "/posts", created.key));
      await serveStale(before);
    }
    expect(statusCounts(responses)).toEqual({ 429: 5 });
  });

  it("a region cut off while the limit is lowered spends nothing it held of the old limit once it is back", async () => {
    traffic = watchLink();
    const created = await usedEverywhere({ ratelimits: day(1000) });
    for (let i = 0; i < 5; i++) expect((await callFrom("apac", "/posts", created.key)).status).toBe(200); // apac holds a budget
    traffic.cut.add("apac");
    await patchKey(created.id, { ratelimits: day(10) }); // answers 2xx once apac's lease is over
    await sleep(LEASE_MS + 200);
    traffic.cut.clear();
    const responses = [];
    for (let i = 0; i < 10; i++) responses.push(await callFrom("apac", "/posts", created.key));
    // 8 admitted before the change (3 + 5): 2 more today, whatever apac held
    expect(statusCounts(responses)).toEqual({ 200: 2, 429: 8 });
  });
});

describe("a region that cannot be told", () => {
  it("the change answers 2xx within LEASE_MS + 1 s, and that region admits nothing after it", async () => {
    traffic = watchLink();
    const created = await usedEverywhere();
    const before = await storedRecord(created.key);
    traffic.cut.add("apac");
    const started = Date.now();
    const res = await admin(`/keys/${created.id}`, { method: "DELETE" });
    const took = Date.now() - started;
    expect(res.status).toBe(200);
    expect(took).toBeLessThan(LEASE_MS + 1_000);
    // weur and enam were told; apac's object stops on what it knew once its lease is over
    for (const region of ["weur", "enam"] as const) {
      await serveStale(before);
      await expectProblem(await callFrom(region, "/posts", created.key), 401, "KEY_REVOKED");
    }
    await serveStale(before);
    const cutOff = await callFrom("apac", "/posts", created.key);
    expect(cutOff.status).not.toBe(200);
    await expectProblem(cutOff, 503, "GATEWAY_UNAVAILABLE");
    // Reconnected, it learns the change before it admits anything.
    traffic.cut.clear();
    await serveStale(before);
    await expectProblem(await callFrom("apac", "/posts", created.key), 401, "KEY_REVOKED");
  });

  it("a region cut off from its home keeps admitting within its lease, then stops", async () => {
    traffic = watchLink();
    const created = await usedEverywhere();
    expect((await callFrom("apac", "/posts", created.key)).status).toBe(200);
    traffic.cut.add("apac");
    await sleep(LEASE_MS + 200);
    await expectProblem(await callFrom("apac", "/posts", created.key), 503, "GATEWAY_UNAVAILABLE");
    expect((await callFrom("weur", "/posts", created.key)).status).toBe(200);
  });

  it("on a failOpen route, a region cut off from its home admits the key only as D1 has it", async () => {
    traffic = watchLink();
    const created = await usedEverywhere();
    const before = await storedRecord(created.key);
    traffic.cut.add("apac");
    expect((await admin(`/keys/${created.id}`, { method: "DELETE" })).status).toBe(200);
    await serveStale(before);
    await expectProblem(await callFrom("apac", "/open", created.key), 401, "KEY_REVOKED");
  });
});

describe("the region a request comes from", () => {
  it("follows request.cf as docs/regions.md maps it", async () => {
    const { regionOf } = await import("../../src/admission/regions");
    const expected: Record<string, Region> = {};
    for (const [region, cf] of Object.entries(FROM)) expected[region] = regionOf(cf as never)!;
    expect(expected).toEqual(Object.fromEntries(Object.keys(FROM).map((r) => [r, r])));
    expect(regionOf(undefined)).toBeNull();
    expect(regionOf({ continent: "NA", country: "US", longitude: "-122.4" })).toBe("wnam");
    expect(regionOf({ continent: "NA", country: "CA", longitude: "-79.4" })).toBe("enam");
    expect(regionOf({ continent: "EU", country: "TR" })).toBe("eeur");
    expect(regionOf({ continent: "AS", country: "JP" })).toBe("apac");
  });
});
