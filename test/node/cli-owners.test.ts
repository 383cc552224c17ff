import { describe, expect, it } from "vitest";
import type { CreatedKey, Owner, OwnerList, Plan, PlanChangeAccepted, PlanPreview, Usage } from "../../client/index.ts";
import { expectFits, expectRefused, expectUsageError, jsonOf, keygate, uniqueOwner, useTestGateway } from "./cli-support.ts";

/** `keygate plans ...`, `keygate owners ...` and `keygate usage --group-by plan`, the real binary against keygate in workerd. */
// No usage SQL API: usage answers from keygate's own rollups in D1, of the requests the tests make.
const gw = useTestGateway({ USAGE_FLUSH_MS: "50", CF_API_TOKEN: "" });

const run = (...args: string[]) => keygate(args, { env: gw.env });
let plans = 0;
const uniquePlan = (label = "pro") => `${label}-${Date.now().toString(36)}-${++plans}`;
const call = (key: string, path = "/hello") => fetch(`${gw.url}${path}`, { headers: { Authorization: `Bearer ${key}` } });
const newKey = async (ownerId: string, scopes: string[] = []) =>
  (await gw.api<CreatedKey>("/keys", { method: "POST", json: { name: `key of ${ownerId}`, ownerId, scopes } })).body;

async function until<T>(check: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("keygate plans create, get and list", () => {
  it("creates a plan with every setting, shows it as a view, lists it with its owner count; --json prints the API's answer", async () => {
    const id = uniquePlan();
    const created = await run(
      "plans", "create", id, "--name", "Pro", "--description", "For teams",
      "--key-ratelimit", "minute=100/60", "--owner-ratelimit", "day=10000/86400", "--owner-ratelimit", "second=50/1",
      "--owner-credits", "50000/monthly/15", "--max-keys", "20", "--scope", "posts:read", "--scope", "posts:write",
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.split("\n")[0]).toBe(`Created plan ${id} "Pro".`);
    expect(created.stdout).toMatch(/Key rate limits\s+minute: 100 per 1 minute\n/);
    expect(created.stdout).toMatch(/Owner rate limits\s+day: 10,000 per 1 day, second: 50 per 1 second\n/);
    expect(created.stdout).toMatch(/Owner credits\s+50,000, refilled monthly on day 15\n/);
    expect(created.stdout).toMatch(/Max keys\s+20\n/);
    expect(created.stdout).toMatch(/Scopes\s+posts:read posts:write\n/);
    expect(created.stdout).toMatch(/Owners\s+0\n/);
    expect(created.stdout).toMatch(/Pending\s+none/);
    expectFits(created.stdout);

    const json = jsonOf<Plan>(await run("plans", "get", id, "--json"));
    expect(json).toMatchObject({
      id,
      name: "Pro",
      description: "For teams",
      keyRatelimits: [{ name: "minute", limit: 100, windowSeconds: 60 }],
      ownerRatelimits: [{ name: "day", limit: 10000, windowSeconds: 86400 }, { name: "second", limit: 50, windowSeconds: 1 }],
      ownerCredits: { amount: 50000, interval: "monthly", day: 15 },
      maxKeys: 20,
      scopes: ["posts:read", "posts:write"],
      owners: 0,
      pending: 0,
      version: 1,
    });
    expect((await gw.api<Plan>(`/plans/${id}`)).body).toEqual(json);

    const bare = uniquePlan("free");
    expect(jsonOf<Plan>(await run("plans", "create", bare, "--name", "Free", "--json"))).toMatchObject({
      keyRatelimits: [], ownerRatelimits: [], ownerCredits: null, maxKeys: null, scopes: null,
    });
    const shown = await run("plans", "get", bare);
    expect(shown.stdout).toMatch(/Scopes\s+any \(no ceiling\)\n/);
    expect(shown.stdout).toMatch(/Max keys\s+MAX_KEYS_PER_OWNER\n/);
    expect(shown.stdout).toMatch(/Owner credits\s+none\n/);

    const listed = await run("plans", "list");
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+OWNERS\s+KEY LIMITS\s+OWNER LIMITS/);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+Pro\\s+0\\s+minute=100/60\\s+day=10000/86400`, "m"));
    expect(listed.stdout).not.toContain("PENDING");
    expectFits(listed.stdout);
    const all = jsonOf<{ data: Plan[] }>(await run("plans", "list", "--json"));
    expect(all.data.map((p) => p.id)).toEqual(expect.arrayContaining([id, bare]));
  });

  it("refuses a plan id taken (409), a bad id (400) and an unknown plan (404) with exit 1; bad flags with exit 2", async () => {
    const id = uniquePlan();
    expect((await run("plans", "create", id, "--name", "Once")).code).toBe(0);
    expectRefused(await run("plans", "create", id, "--name", "Twice"), "Conflict", 409, "CONFLICT", id);
    expectRefused(await run("plans", "create", "Not A Plan", "--name", "x"), "Validation failed", 400, "VALIDATION_FAILED", /id/);
    expectRefused(await run("plans", "get", "no-such-plan"), "Not found", 404, "NOT_FOUND", "no-such-plan");
    expectUsageError(await run("plans", "create", id), /--name/, "keygate plans create");
    expectUsageError(await run("plans", "create", id, "--name", "x", "--owner-credits", "100/weekly"), /--owner-credits/, "keygate plans create");
    expectUsageError(await run("plans", "create", id, "--name", "x", "--owner-credits", "100/daily/3"), /--owner-credits/, "keygate plans create");
    expectUsageError(await run("plans", "create", id, "--name", "x", "--key-ratelimit", "fast"), /--key-ratelimit/, "keygate plans create");
    expectUsageError(await run("plans", "create", id, "--name", "x", "--max-keys", "0"), /--max-keys/, "keygate plans create");
    expectUsageError(await run("plans", "update", id), /nothing to change/, "keygate plans update");
    expectUsageError(await run("plans", "update", id, "--scope", "a", "--clear-scopes"), /cannot be used with/, "keygate plans update");
    expectUsageError(await run("plans", "frobnicate"), /unknown command/, "keygate plans");
  });
});

describe("an owner on a plan", () => {
  it("puts an owner on a plan, whose two keys then share its daily limit; owners get shows what is left", async () => {
    const plan = uniquePlan();
    await run("plans", "create", plan, "--name", "Pro", "--owner-ratelimit", "day=5/86400", "--owner-credits", "1000/daily");
    const ownerId = uniqueOwner();
    const [first, second] = [await newKey(ownerId), await newKey(ownerId)];

    expectRefused(await run("owners", "update", ownerId, "--plan", "no-such-plan"), "Validation failed", 400, "VALIDATION_FAILED", "no plan has the id no-such-plan");
    const updated = await run("owners", "update", ownerId, "--plan", plan, "--name", "Acme Inc.");
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout.split("\n")[0]).toBe(`Updated ${ownerId} (version 2).`);
    expect(updated.stdout).toMatch(new RegExp(`Plan\\s+${plan}\\n`));
    expect(updated.stdout).toMatch(/Keys\s+2 usable\n/);
    expect(updated.stdout).toMatch(/Shared limits\s+day: 5 of 5 left, resets in (1 day|\d+ hours)\n/);
    expect(updated.stdout).toMatch(/Balance\s+1,000 left, refilled to 1,000 daily \(in \d+ (hours|minutes)\)\n/);
    expect(updated.stdout).toMatch(/Own rate limits\s+none: the plan's apply\n/);
    expect(updated.stdout).toMatch(/Own credits\s+none: the plan's apply\n/);
    expectFits(updated.stdout);

    // five requests across the two keys use the day up; the sixth, with either key, is refused
    const statuses = [];
    for (const key of [first, second, first, second, first, second]) statuses.push((await call(key.key)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const refused = (await (await call(first.key)).json()) as { code: string; limit: string };
    expect(refused).toMatchObject({ code: "RATE_LIMITED", limit: "owner.day" });

    const shown = await run("owners", "get", ownerId);
    expect(shown.stdout).toMatch(/Shared limits\s+day: 0 of 5 left/);
    expect(shown.stdout).toMatch(/Balance\s+995 left/);
    const json = jsonOf<Owner>(await run("owners", "get", ownerId, "--json"));
    expect(json).toMatchObject({ id: ownerId, name: "Acme Inc.", plan, keys: 2, ratelimits: null, credits: null, balance: { remaining: 995 } });
    expect(json.limits).toEqual([expect.objectContaining({ name: "owner.day", limit: 5, remaining: 0 })]);

    // the plan counts its owner now, and so does the list of owners on the plan
    expect(jsonOf<Plan>(await run("plans", "get", plan, "--json")).owners).toBe(1);
    const listed = await until(async () => {
      const r = await run("owners", "list", "--plan", plan);
      return r.stdout.includes(" 5\n") || r.stdout.includes(" 6\n") || r.stdout.includes(" 7\n") ? r : null;
    });
    expect(listed.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+PLAN\s+KEYS\s+REQUESTS 24H$/);
    expect(listed.stdout).toMatch(new RegExp(`^${ownerId}\\s+Acme Inc\\.\\s+${plan}\\s+2\\s+\\d+$`, "m"));
    expectFits(listed.stdout);
    const page = jsonOf<OwnerList>(await run("owners", "list", "--plan", plan, "--json"));
    expect(page.data.map((o) => o.id)).toEqual([ownerId]);
    expect(jsonOf<OwnerList>(await run("owners", "list", "--search", "acme inc", "--all", "--json")).data.map((o) => o.id)).toContain(ownerId);
    const none = await run("owners", "list", "--plan", uniquePlan("empty"));
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("");
    expect(none.stderr).toContain("No owners match.");
  });

  it("sets the owner's own limits, credits (--credits alone keeps the refill), metadata, and clears them back to the plan's", async () => {
    const plan = uniquePlan();
    await run("plans", "create", plan, "--name", "Pro", "--owner-ratelimit", "day=1000/86400");
    const ownerId = uniqueOwner();
    await newKey(ownerId);
    const own = jsonOf<Owner>(
      await run("owners", "update", ownerId, "--plan", plan, "--ratelimit", "hour=30/3600", "--credits", "100", "--refill", "100/daily", "--meta", '{"tier":"gold"}', "--json"),
    );
    expect(own).toMatchObject({ plan, ratelimits: [{ name: "hour", limit: 30, windowSeconds: 3600 }], credits: { remaining: 100, refill: { amount: 100, interval: "daily" } }, metadata: { tier: "gold" } });
    expect(own.limits.map((l) => l.name)).toEqual(["owner.hour"]);
    const shown = await run("owners", "get", ownerId);
    expect(shown.stdout).toMatch(/Shared limits\s+hour: 30 of 30 left, resets in (1 hour|\d+ minutes)\n/);
    expect(shown.stdout).toMatch(/Balance\s+100 left, refilled to 100 daily \(in \d+ (hours|minutes)\)\n/);
    expect(shown.stdout).toMatch(/Own rate limits\s+hour: 30 per 1 hour\n/);
    expect(shown.stdout).toMatch(/Own credits\s+100 left, refilled to 100 daily\n/);
    expect(shown.stdout).toMatch(/Metadata\s+\{"tier":"gold"\}\n/);

    const kept = jsonOf<Owner>(await run("owners", "update", ownerId, "--credits", "40", "--json"));
    expect(kept.credits).toEqual({ remaining: 40, refill: { amount: 100, interval: "daily" } });
    const noRefill = jsonOf<Owner>(await run("owners", "update", ownerId, "--credits", "30", "--clear-refill", "--json"));
    expect(noRefill.credits).toEqual({ remaining: 30, refill: null });

    const cleared = jsonOf<Owner>(await run("owners", "update", ownerId, "--clear-ratelimits", "--clear-credits", "--clear-name", "--json"));
    expect(cleared).toMatchObject({ name: null, ratelimits: null, credits: null, balance: null });
    expect(cleared.limits.map((l) => [l.name, l.limit])).toEqual([["owner.day", 1000]]);
    const off = jsonOf<Owner>(await run("owners", "update", ownerId, "--clear-plan", "--json"));
    expect(off).toMatchObject({ plan: null, limits: [] });
    expect((await run("owners", "get", ownerId)).stdout).toMatch(/Plan\s+none\n/);
  });

  it("refuses usage mistakes with exit 2 and an unknown owner with 404", async () => {
    const ownerId = uniqueOwner();
    expectUsageError(await run("owners", "update", ownerId), /nothing to change/, "keygate owners update");
    expectUsageError(await run("owners", "update", ownerId, "--refill", "10/daily"), /--refill needs --credits/, "keygate owners update");
    expectUsageError(await run("owners", "update", ownerId, "--clear-refill"), /--clear-refill needs --credits/, "keygate owners update");
    expectUsageError(await run("owners", "update", ownerId, "--plan", "pro", "--clear-plan"), /cannot be used with/, "keygate owners update");
    expectUsageError(await run("owners", "update", ownerId, "--meta", "[1]"), /--meta/, "keygate owners update");
    expectUsageError(await run("owners", "update", ownerId, "--credits", "-1"), /--credits/, "keygate owners update");
    expectUsageError(await run("owners", "get"), /missing required argument/, "keygate owners get");
    expectRefused(await run("owners", "get", ownerId), "Not found", 404, "NOT_FOUND", ownerId);
    expectRefused(await run("owners", "update", ownerId, "--name", "Ghost"), "Not found", 404, "NOT_FOUND", ownerId);
  });

  it("shows names and metadata from outside with nothing that acts on the terminal, in views, tables and --json", async () => {
    const ownerId = uniqueOwner();
    await newKey(ownerId);
    // keygate refuses C0 controls in names; C1 (U+009B is CSI) and bidi overrides it keeps
    const name = "Evil\u009b2J\u202eCorp";
    const set = await run("owners", "update", ownerId, "--name", name, "--meta", JSON.stringify({ note: "\u001b[31m" }));
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/Name\s+Evil\?2J\?Corp\n/);
    expect(set.stdout).not.toMatch(/[\u001b\u202e\u009b]/);
    const listed = await run("owners", "list", "--search", ownerId);
    expect(listed.stdout).toContain("Evil?2J?Corp");
    expect(listed.stdout).not.toMatch(/[\u001b\u202e\u009b]/);
    const json = await run("owners", "get", ownerId, "--json");
    expect(json.stdout).not.toMatch(/[\u001b\u202e\u009b]/);
    expect(JSON.parse(json.stdout)).toMatchObject({ name, metadata: { note: "\u001b[31m" } });
  });
});

describe("keygate plans update", () => {
  it("--preview prints what would change and changes nothing; the change itself is in force at once", async () => {
    const plan = uniquePlan();
    await run("plans", "create", plan, "--name", "Pro", "--owner-ratelimit", "day=5/86400");
    const ownerId = uniqueOwner();
    const key = await newKey(ownerId);
    await run("owners", "update", ownerId, "--plan", plan);
    expect((await call(key.key)).status).toBe(200);

    const preview = await run("plans", "update", plan, "--owner-ratelimit", "day=1/86400", "--max-keys", "3", "--name", "Pro 2", "--preview");
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.stdout.split("\n")[0]).toBe(`Preview of a change to plan ${plan}; nothing was changed.`);
    expect(preview.stdout).toMatch(/Owners touched\s+1\n/);
    expect(preview.stdout).toMatch(/^FIELD\s+BEFORE\s+AFTER$/m);
    expect(preview.stdout).toMatch(/^name\s+Pro\s+Pro 2$/m);
    expect(preview.stdout).toMatch(/^owner rate limits\s+day: 5 per 1 day\s+day: 1 per 1 day$/m);
    expect(preview.stdout).toMatch(/^max keys\s+MAX_KEYS_PER_OWNER\s+3$/m);
    expectFits(preview.stdout);
    const json = jsonOf<PlanPreview>(await run("plans", "update", plan, "--owner-ratelimit", "day=1/86400", "--preview", "--json"));
    expect(json).toMatchObject({ owners: 1, changes: { ownerRatelimits: { from: [{ name: "day", limit: 5 }], to: [{ name: "day", limit: 1 }] } }, refused: [] });
    // nothing changed: the plan's version and the owner's limit are as they were
    expect(jsonOf<Plan>(await run("plans", "get", plan, "--json"))).toMatchObject({ version: 1, name: "Pro", maxKeys: null });
    expect((await call(key.key)).status).toBe(200);

    const changed = await run("plans", "update", plan, "--owner-ratelimit", "day=2/86400", "--description", "now smaller");
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout.split("\n")[0]).toBe(`Updated plan ${plan} (version 2); in force now.`);
    expect(changed.stdout).toMatch(/Owner rate limits\s+day: 2 per 1 day\n/);
    // the owner's home took it in: two used of the new two
    expect((await run("owners", "get", ownerId)).stdout).toMatch(/Shared limits\s+day: 0 of 2 left/);

    const cleared = jsonOf<Plan>(await run("plans", "update", plan, "--clear-owner-ratelimits", "--clear-description", "--json"));
    expect(cleared).toMatchObject({ ownerRatelimits: [], description: null, version: 3 });
    expect((await call(key.key)).status).toBe(200);
    const nothing = await run("plans", "update", plan, "--clear-owner-ratelimits", "--preview");
    expect(nothing.stdout).toContain("Nothing would change");
  });

  it("a scope ceiling the owner's keys exceed: the preview names them, the change and the move are refused 403 SCOPE_NOT_ALLOWED", async () => {
    const plan = uniquePlan();
    await run("plans", "create", plan, "--name", "Readers");
    const ownerId = uniqueOwner();
    const writer = await newKey(ownerId, ["posts:read", "posts:write"]);
    await run("owners", "update", ownerId, "--plan", plan);

    const preview = await run("plans", "update", plan, "--scope", "posts:read", "--preview");
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.stdout).toContain("The change would be refused (403 SCOPE_NOT_ALLOWED)");
    expect(preview.stdout).toMatch(new RegExp(`^${writer.id}\\s+${ownerId}\\s+posts:write$`, "m"));
    expectRefused(await run("plans", "update", plan, "--scope", "posts:read"), "Scope not allowed", 403, "SCOPE_NOT_ALLOWED", writer.id);
    expect(jsonOf<Plan>(await run("plans", "get", plan, "--json")).scopes).toBeNull();

    const strict = uniquePlan("strict");
    await run("plans", "create", strict, "--name", "Strict", "--scope", "posts:read");
    const other = uniqueOwner();
    const key = await newKey(other, ["posts:write"]);
    expectRefused(await run("owners", "update", other, "--plan", strict), "Scope not allowed", 403, "SCOPE_NOT_ALLOWED", key.id);
    expect(jsonOf<Owner>(await run("owners", "get", other, "--json")).plan).toBeNull();
  });

  it("a change that touches more owners than one call tells is pending: it says so, and by when it is in force", async () => {
    const plan = uniquePlan("wide");
    await run("plans", "create", plan, "--name", "Wide", "--owner-ratelimit", "day=100/86400");
    const owners = Array.from({ length: 26 }, () => uniqueOwner("wide"));
    for (const ownerId of owners) {
      const key = await newKey(ownerId);
      expect((await gw.api(`/owners/${ownerId}`, { method: "PATCH", json: { plan } })).status).toBe(200);
      // the owner's shared limits now live in its own home, which the change must reach
      expect((await call(key.key)).status).toBe(200);
    }
    const before = Date.now();
    const changed = await run("plans", "update", plan, "--owner-ratelimit", "day=50/86400");
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout.split("\n")[0]).toBe(`Changed plan ${plan}; pending for some of its owners.`);
    expect(changed.stdout).toMatch(/Owners\s+26\n/);
    expect(changed.stdout).toMatch(/Pending\s+2[0-9] owners still to take the change in\n/);
    expect(changed.stdout).toMatch(/In force by\s+in \d+ seconds \(20\d\d-/);
    expect(changed.stderr).toContain(`keygate plans get ${plan} shows Pending`);
    const json = jsonOf<PlanChangeAccepted>(await run("plans", "update", plan, "--owner-ratelimit", "day=40/86400", "--json"));
    expect(json.owners).toBe(26);
    expect(Date.parse(json.inForceBy) - before).toBeLessThanOrEqual(61_000);
    const got = await run("plans", "get", plan);
    expect(got.stdout).toMatch(/Pending\s+(\d+ owners? still to take in the last change, in force everywhere by|none)/);
  });
});

describe("keygate plans delete", () => {
  it("is refused 409 PLAN_IN_USE while an owner is on the plan, and deletes it once none is", async () => {
    const plan = uniquePlan("trial");
    await run("plans", "create", plan, "--name", "Trial");
    const ownerId = uniqueOwner();
    await newKey(ownerId);
    await run("owners", "update", ownerId, "--plan", plan);
    expectRefused(await run("plans", "delete", plan), "Plan in use", 409, "PLAN_IN_USE", `Plan ${plan} has 1 owner`);
    await run("owners", "update", ownerId, "--clear-plan");
    const deleted = await run("plans", "delete", plan);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toBe(`Deleted plan ${plan}.\n`);
    expectRefused(await run("plans", "delete", plan), "Not found", 404, "NOT_FOUND", plan);
    const other = uniquePlan("trial");
    await run("plans", "create", other, "--name", "Trial");
    expect(jsonOf<{ id: string; deleted: boolean }>(await run("plans", "delete", other, "--json"))).toEqual({ id: other, deleted: true });
  });
});

describe("keygate usage --group-by plan", () => {
  it("groups requests by the plan of the key's owner, with owners on no plan under (none)", async () => {
    const plan = uniquePlan("usage");
    await run("plans", "create", plan, "--name", "Usage");
    const ownerId = uniqueOwner();
    const key = await newKey(ownerId);
    await run("owners", "update", ownerId, "--plan", plan);
    const loner = await newKey(uniqueOwner());
    for (let i = 0; i < 3; i++) await call(key.key);
    await call(loner.key);
    const usage = await until(async () => {
      const u = jsonOf<Usage>(await run("usage", "--group-by", "plan", "--json"));
      return u.data.find((g) => g.group === plan)?.requests === 3 ? u : null;
    });
    expect(usage.groupBy).toBe("plan");
    expect(usage.data.find((g) => g.group === "")?.requests).toBeGreaterThanOrEqual(1);
    const table = await run("usage", "--group-by", "plan");
    expect(table.stdout.split("\n")[0]).toMatch(/^By plan, /);
    expect(table.stdout.split("\n")[1]).toMatch(/^PLAN\s+REQUESTS/);
    expect(table.stdout).toMatch(new RegExp(`^${plan}\\s+3\\s+3\\s`, "m"));
    expect(table.stdout).toMatch(/^\(none\)\s+\d/m);
    expectFits(table.stdout);
    expectUsageError(await run("usage", "--group-by", "tier"), /--group-by/, "keygate usage");
  });
});

describe("--help", () => {
  it("every plans and owners command has its options and an example", async () => {
    for (const group of ["plans", "owners"]) {
      const help = await run(group, "--help");
      expect(help.stdout).toContain("Examples:");
    }
    for (const sub of ["list", "get", "create", "update", "delete"]) {
      const help = await run("plans", sub, "--help");
      expect(help.code).toBe(0);
      expect(help.stdout, sub).toContain("Examples:\n  $ keygate plans ");
    }
    for (const sub of ["list", "get", "update"]) {
      const help = await run("owners", sub, "--help");
      expect(help.stdout, sub).toContain("Examples:\n  $ keygate owners ");
    }
    const update = (await run("plans", "update", "--help")).stdout;
    for (const flag of ["--preview", "--clear-description", "--clear-key-ratelimits", "--clear-owner-ratelimits", "--clear-owner-credits", "--clear-max-keys", "--clear-scopes"]) {
      expect(update).toContain(flag);
    }
    const owners = (await run("owners", "update", "--help")).stdout;
    for (const flag of ["--plan", "--ratelimit", "--credits", "--refill", "--meta", "--clear-plan", "--clear-ratelimits", "--clear-credits", "--clear-refill", "--clear-name"]) {
      expect(owners).toContain(flag);
    }
    expect((await run("usage", "--help")).stdout).toMatch(/owner or the owner's\s+plan/);
    expect((await run("--help")).stdout).toMatch(/^ {2}plans\b/m);
    expect((await run("--help")).stdout).toMatch(/^ {2}owners\b/m);
  });
});
