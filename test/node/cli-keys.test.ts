import { beforeAll, describe, expect, it } from "vitest";
import type { CreatedKey, KeyList, KeyRecord, VerifyResult } from "../../client/index.ts";
import {
  expectFits,
  expectRefused,
  expectUsageError,
  ID_PATTERN,
  jsonOf,
  keygate,
  KEY_PATTERN,
  useTestGateway,
  uniqueOwner,
} from "./cli-support.ts";

/** `keygate keys ...` against keygate in workerd: what a user sees, and what the API then holds. */
const gw = useTestGateway({ MAX_KEYS_PER_OWNER: "200" }); // one owner holds more keys than a page

const run = (...args: string[]) => keygate(args, { env: gw.env });
const record = async (id: string) => (await gw.api<KeyRecord>(`/keys/${id}`)).body;

async function createViaCli(...args: string[]): Promise<CreatedKey> {
  return jsonOf<CreatedKey>(await run("keys", "create", "--json", "--name", "cli key", "--owner", uniqueOwner(), ...args));
}

describe("keygate keys create", () => {
  it("prints the new key once with the warning, and stores every flag's value", async () => {
    const owner = uniqueOwner();
    const result = await run(
      "keys", "create", "--name", "Billing export", "--owner", owner,
      "--scope", "posts:read", "--scope", "posts:write", "--env", "test", "--expires-in", "3600",
      "--ratelimit", "minute=100/60", "--ratelimit", "day=5000/86400", "--credits", "250", "--refill", "250/daily",
      "--allow-ip", "203.0.113.0/24", "--allow-ip", "2001:db8::/32", "--meta", '{"plan":"pro","seats":3}',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    const key = KEY_PATTERN.exec(result.stdout)![0];
    const id = ID_PATTERN.exec(result.stdout)![0];
    expect(key).toMatch(/^kg_test_/);
    expect(result.stdout.split("\n")).toContain(key); // alone on its line, to copy
    expect(result.stdout).toContain("Save this key now: it will not be shown again.");
    expect(result.stdout.split("\n")[0]).toBe(`Created ${id} "Billing export" for ${owner}.`);

    const stored = await record(id);
    expect(stored).toMatchObject({
      name: "Billing export",
      ownerId: owner,
      environment: "test",
      scopes: ["posts:read", "posts:write"],
      ratelimits: [
        { name: "minute", limit: 100, windowSeconds: 60 },
        { name: "day", limit: 5000, windowSeconds: 86400 },
      ],
      credits: { remaining: 250, refill: { amount: 250, interval: "daily" } },
      allowedIps: ["203.0.113.0/24", "2001:db8::/32"],
      metadata: { plan: "pro", seats: 3 },
      enabled: true,
    });
    expect(Date.parse(stored.expiresAt!) - Date.now()).toBeGreaterThan(3500_000);
    expect(Date.parse(stored.expiresAt!) - Date.now()).toBeLessThanOrEqual(3600_000);

    // shown once: nothing else ever prints it
    const shown = await run("keys", "get", id);
    expect(shown.stdout).toContain(key.slice(0, 12));
    expect(shown.stdout).not.toContain(key);
    expect((await run("keys", "list", "--owner", owner)).stdout).not.toContain(key);
  });

  it("creates with just a name and an owner, and --json prints the API's answer with the warning on stderr", async () => {
    const owner = uniqueOwner();
    const result = await run("keys", "create", "--name", "Minimal", "--owner", owner, "--json");
    const created = jsonOf<CreatedKey>(result);
    expect(created.key).toMatch(KEY_PATTERN);
    expect(result.stderr).toContain("it will not be shown again");
    const { key, ...rest } = created;
    expect(key.startsWith(rest.start!)).toBe(true);
    expect(rest).toEqual(await record(created.id));
    expect(rest).toMatchObject({ environment: "live", scopes: [], ratelimits: [], credits: null, allowedIps: [], metadata: {}, expiresAt: null });
  });

  it("reports the API's validation problem and creates nothing", async () => {
    const owner = uniqueOwner();
    const result = await run("keys", "create", "--name", "x".repeat(101), "--owner", owner, "--scope", "not a scope");
    expectRefused(result, "Validation failed", 400, "VALIDATION_FAILED", /name: .*100/);
    expect(result.stderr).toMatch(/scopes\.0: must be "<resource>:<action>"/);
    expect((await gw.api<KeyList>(`/keys?ownerId=${owner}`)).body.data).toEqual([]);
  });

  it("refuses --refill without --credits before asking the gateway", async () => {
    expectUsageError(await run("keys", "create", "--name", "n", "--owner", "o", "--refill", "10/daily"), "--refill needs --credits", "keygate keys create");
  });
});

describe("keygate keys list", () => {
  let owner: string;
  let ids: string[];
  beforeAll(async () => {
    owner = uniqueOwner("listed");
    ids = [];
    for (const name of ["alpha", "beta", "gamma", "delta"]) ids.push((await createViaCli("--name", name, "--owner", owner)).id);
    await gw.api(`/keys/${ids[1]}`, { method: "DELETE" });
  });

  it("shows an aligned table, newest first, with each key's start and status, within 80 columns", async () => {
    const result = await run("keys", "list", "--owner", owner);
    expect(result.code, result.stderr).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+START\s+NAME\s+OWNER\s+STATUS$/);
    expect(rows.map((row) => ID_PATTERN.exec(row)?.[0])).toEqual([...ids].reverse());
    const starts = await Promise.all(ids.map(async (id) => (await record(id)).start));
    rows.forEach((row) => expect(starts.some((start) => row.includes(start!))).toBe(true));
    expect(rows.find((row) => row.includes(ids[1]))).toMatch(/\srevoked$/);
    expect(rows.find((row) => row.includes(ids[0]))).toMatch(/\sactive$/);
    // columns line up: every row has its STATUS where the header has it
    const at = header.indexOf("STATUS");
    rows.forEach((row) => expect(row.slice(at)).toMatch(/^(active|revoked)$/));
    expectFits(result.stdout);
  });

  it("filters by status, and --json prints exactly the API's page", async () => {
    const revoked = await run("keys", "list", "--owner", owner, "--status", "revoked");
    expect(revoked.stdout.trimEnd().split("\n").slice(1).map((row) => ID_PATTERN.exec(row)?.[0])).toEqual([ids[1]]);
    const page = jsonOf<KeyList>(await run("keys", "list", "--owner", owner, "--status", "active", "--json"));
    expect(page).toEqual((await gw.api<KeyList>(`/keys?ownerId=${owner}&status=active&limit=50`)).body);
    expect(page.data.map((k) => k.id)).toEqual([ids[3], ids[2], ids[0]]);
  });

  it("--limit stops early and says more exist; --cursor goes on from there", async () => {
    const first = await run("keys", "list", "--owner", owner, "--limit", "2");
    expect(first.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(first.stderr).toBe("More keys than these 2: --limit N or --all shows them.\n");
    const page = jsonOf<KeyList>(await run("keys", "list", "--owner", owner, "--limit", "2", "--json"));
    expect(page).toEqual((await gw.api<KeyList>(`/keys?ownerId=${owner}&limit=2`)).body);
    expect(page.nextCursor).toEqual(expect.any(String));
    const rest = jsonOf<KeyList>(await run("keys", "list", "--owner", owner, "--cursor", page.nextCursor!, "--json"));
    expect([...page.data, ...rest.data].map((k) => k.id)).toEqual([...ids].reverse());
    expect(rest.nextCursor).toBeNull();
  });

  it("--all follows the cursors past the API's largest page", async () => {
    const bulk = uniqueOwner("bulk");
    for (let i = 0; i < 105; i += 15) {
      const batch = Array.from({ length: Math.min(15, 105 - i) }, (_, j) =>
        gw.api("/keys", { method: "POST", json: { name: `bulk ${i + j}`, ownerId: bulk } }),
      );
      for (const { status } of await Promise.all(batch)) expect(status).toBe(201);
    }
    const all = jsonOf<KeyList>(await run("keys", "list", "--owner", bulk, "--all", "--json"));
    expect(all.data).toHaveLength(105);
    expect(new Set(all.data.map((k) => k.id)).size).toBe(105);
    expect(all.nextCursor).toBeNull();
    const first = (await gw.api<KeyList>(`/keys?ownerId=${bulk}&limit=100`)).body;
    const second = (await gw.api<KeyList>(`/keys?ownerId=${bulk}&limit=100&cursor=${encodeURIComponent(first.nextCursor!)}`)).body;
    expect(all.data).toEqual([...first.data, ...second.data]);

    const some = jsonOf<KeyList>(await run("keys", "list", "--owner", bulk, "--limit", "101", "--json"));
    expect(some.data.map((k) => k.id)).toEqual(all.data.slice(0, 101).map((k) => k.id));
    expect(some.nextCursor).toEqual(expect.any(String));
    const human = await run("keys", "list", "--owner", bulk, "--all");
    expect(human.stdout.trimEnd().split("\n")).toHaveLength(106);
    expect(human.stderr).toBe("");
  });

  it("says so on stderr when nothing matches", async () => {
    const result = await run("keys", "list", "--owner", uniqueOwner("nobody"));
    expect(result).toEqual({ code: 0, stdout: "", stderr: "No keys match.\n" });
  });
});

describe("keygate keys get", () => {
  it("shows every field of the record, with relative times", async () => {
    const created = await createViaCli("--scope", "posts:read", "--ratelimit", "minute=100/60", "--credits", "40", "--expires-in", "7200");
    const result = await run("keys", "get", created.id);
    expect(result.code, result.stderr).toBe(0);
    const fields = Object.fromEntries(result.stdout.trimEnd().split("\n").map((line) => [line.slice(0, 11).trim(), line.slice(13)]));
    expect(fields).toMatchObject({
      ID: created.id,
      Name: "cli key",
      Owner: created.ownerId,
      Environment: "live",
      Start: created.start,
      Status: "active",
      Scopes: "posts:read",
      "Rate limits": "minute: 100 per 1 minute",
      Credits: "40 left, no refill",
      "Allowed IPs": "any",
      Metadata: "{}",
      "Last used": "never",
      Requests: "0",
      Version: "1",
    });
    expect(fields.Expires).toMatch(/^in (1 hour|119 minutes|2 hours) \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$/);
    expect(fields.Created).toMatch(/^(just now|\d+ seconds? ago) \(/);
    expect(jsonOf(await run("keys", "get", created.id, "--json"))).toEqual(await record(created.id));
  });

  it("answers an unknown or malformed id with the API's 404", async () => {
    expectRefused(await run("keys", "get", "key_00000000000000000000000000"), "Not found", 404, "NOT_FOUND", "No key has the id key_00000000000000000000000000.");
    expectRefused(await run("keys", "get", "nonsense"), "Not found", 404, "NOT_FOUND", "No key has the id nonsense.");
  });
});

describe("keygate keys update", () => {
  it("changes what the flags name and nothing else", async () => {
    const created = await createViaCli("--scope", "posts:read", "--meta", '{"plan":"free"}', "--credits", "10");
    const result = await run(
      "keys", "update", created.id, "--name", "Renamed", "--scope", "posts:read", "--scope", "posts:write",
      "--disable", "--expires-at", "2030-01-01T00:00:00Z", "--ratelimit", "second=5/1", "--allow-ip", "198.51.100.7",
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Updated ${created.id} (version 2).`);
    expect(result.stdout).toMatch(/^Status\s+disabled$/m);
    expect(await record(created.id)).toMatchObject({
      name: "Renamed",
      scopes: ["posts:read", "posts:write"],
      enabled: false,
      expiresAt: "2030-01-01T00:00:00.000Z",
      ratelimits: [{ name: "second", limit: 5, windowSeconds: 1 }],
      allowedIps: ["198.51.100.7"],
      metadata: { plan: "free" },
      credits: { remaining: 10, refill: null },
    });
  });

  it("--clear-* flags empty a field, --enable turns a key back on, and --json prints the record", async () => {
    const created = await createViaCli("--scope", "a:b", "--ratelimit", "m=1/60", "--credits", "5", "--allow-ip", "10.0.0.0/8", "--expires-in", "600");
    await run("keys", "update", created.id, "--disable");
    const updated = jsonOf<KeyRecord>(
      await run("keys", "update", created.id, "--enable", "--clear-scopes", "--clear-ratelimits", "--clear-credits", "--clear-allowed-ips", "--clear-expiry", "--json"),
    );
    expect(updated).toEqual(await record(created.id));
    expect(updated).toMatchObject({ enabled: true, scopes: [], ratelimits: [], credits: null, allowedIps: [], expiresAt: null, version: 3 });
  });

  it("sets credits with a monthly refill", async () => {
    const created = await createViaCli();
    await run("keys", "update", created.id, "--credits", "900", "--refill", "1000/monthly");
    expect((await record(created.id)).credits).toEqual({ remaining: 900, refill: { amount: 1000, interval: "monthly" } });
  });

  it("--credits alone sets the balance and keeps the refill; --clear-refill removes the refill", async () => {
    const created = await createViaCli("--credits", "100", "--refill", "100/daily");
    const refill = { amount: 100, interval: "daily" };
    expect(jsonOf<KeyRecord>(await run("keys", "update", created.id, "--credits", "500", "--json")).credits).toEqual({ remaining: 500, refill });
    expect((await record(created.id)).credits).toEqual({ remaining: 500, refill });
    expect(jsonOf<KeyRecord>(await run("keys", "update", created.id, "--credits", "40", "--clear-refill", "--json")).credits).toEqual({
      remaining: 40,
      refill: null,
    });
    expect((await record(created.id)).credits).toEqual({ remaining: 40, refill: null });
    expectUsageError(await run("keys", "update", created.id, "--clear-refill"), "--clear-refill needs --credits", "keygate keys update");
    expectUsageError(await run("keys", "update", created.id, "--credits", "1", "--refill", "5/daily", "--clear-refill"), /cannot be used with/, "keygate keys update");
    const help = await run("keys", "update", "--help");
    expect(help.stdout).toMatch(/--credits <n>\s+set the credit balance to this; the refill stays/);
    expect(help.stdout).toContain("--clear-refill");
  });

  it("passes the API's refusals on: a past expiry, an unknown key, a revoked key", async () => {
    const created = await createViaCli();
    expectRefused(await run("keys", "update", created.id, "--expires-at", "2020-01-01T00:00:00Z"), "Validation failed", 400, "VALIDATION_FAILED", "expiresAt: must be in the future");
    expectRefused(await run("keys", "update", "key_00000000000000000000000000", "--name", "x"), "Not found", 404, "NOT_FOUND", "No key has the id");
    await gw.api(`/keys/${created.id}`, { method: "DELETE" });
    expectRefused(await run("keys", "update", created.id, "--name", "x"), "Conflict", 409, "CONFLICT", "revoked");
    expect((await record(created.id)).name).toBe("cli key");
  });
});

describe("keygate keys revoke", () => {
  it("revokes at once, idempotently, and the key verifies as revoked", async () => {
    const created = await createViaCli();
    const result = await run("keys", "revoke", created.id);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Revoked ${created.id} "cli key" just now.`);
    expect(result.stdout).toMatch(/^Status\s+revoked just now$/m);
    const revokedAt = (await record(created.id)).revokedAt;
    expect(revokedAt).not.toBeNull();
    const again = jsonOf<KeyRecord>(await run("keys", "revoke", created.id, "--json"));
    expect(again.revokedAt).toBe(revokedAt);
    const verdict = await run("keys", "verify", created.key);
    expect(verdict.stdout).toMatch(/^Valid\s+no \(KEY_REVOKED\)$/m);
  });

  it("answers an unknown key with the API's 404", async () => {
    expectRefused(await run("keys", "revoke", "key_00000000000000000000000000"), "Not found", 404, "NOT_FOUND", "No key has the id");
  });
});

describe("keygate keys rotate", () => {
  it("prints the successor's key once; the old key keeps working for the grace period", async () => {
    const created = await createViaCli("--scope", "posts:read", "--ratelimit", "minute=100/60");
    const result = await run("keys", "rotate", created.id, "--grace", "3600");
    expect(result.code, result.stderr).toBe(0);
    const key = KEY_PATTERN.exec(result.stdout)![0];
    const successor = / into (key_\w{26})\.$/m.exec(result.stdout)![1];
    expect(successor).not.toBe(created.id);
    expect(result.stdout.split("\n").slice(0, 2)).toEqual([`Rotated ${created.id} into ${successor}.`, "The old key keeps working for 1 hour at most."]);
    expect(result.stdout).toContain("Save this key now: it will not be shown again.");
    expect(await record(successor)).toMatchObject({ rotatedFrom: created.id, scopes: ["posts:read"], ownerId: created.ownerId });
    expect(jsonOf<VerifyResult>(await run("keys", "verify", created.key, "--json")).code).toBe("VALID");
    expect(jsonOf<VerifyResult>(await run("keys", "verify", key, "--json"))).toMatchObject({ code: "VALID", keyId: successor });
  });

  it("without --grace the old key stops at once; --json prints the successor with its key", async () => {
    const created = await createViaCli();
    const rotated = await run("keys", "rotate", created.id, "--json");
    const successor = jsonOf<CreatedKey>(rotated);
    expect(successor).toMatchObject({ rotatedFrom: created.id, key: expect.stringMatching(KEY_PATTERN) });
    expect(rotated.stderr).toContain("it will not be shown again");
    const human = await run("keys", "rotate", successor.id);
    expect(human.stdout.split("\n")[1]).toBe("The old key stopped working.");
    expect(jsonOf<VerifyResult>(await run("keys", "verify", created.key, "--json")).code).toBe("KEY_EXPIRED");
  });

  it("refuses to rotate a revoked key, and an unknown one", async () => {
    const created = await createViaCli();
    await gw.api(`/keys/${created.id}`, { method: "DELETE" });
    expectRefused(await run("keys", "rotate", created.id), "Conflict", 409, "CONFLICT", "only an active key can be rotated");
    expectRefused(await run("keys", "rotate", "key_00000000000000000000000000"), "Not found", 404, "NOT_FOUND", "No key has the id");
  });
});

describe("keygate keys verify", () => {
  it("shows the verdict with limits and credits, consuming neither", async () => {
    const created = await createViaCli("--scope", "posts:read", "--ratelimit", "minute=100/60", "--credits", "10", "--refill", "10/daily");
    const result = await run("keys", "verify", created.key);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^Valid\s+yes$/);
    expect(lines).toContainEqual(expect.stringMatching(/^Code\s+VALID$/));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^Key\\s+${created.id}$`)));
    expect(lines).toContainEqual(expect.stringMatching(/^Rate limits\s+minute: 100 of 100 left, resets in \d+ seconds?$|^Rate limits\s+minute: 100 of 100 left, resets in 1 minute$/));
    expect(lines).toContainEqual(expect.stringMatching(/^Credits\s+10 left, refills in \d+ (hours?|minutes?|seconds?)$/));
    const verdict = jsonOf<VerifyResult>(await run("keys", "verify", created.key, "--json"));
    // The CLI prints the API's answer as it is. The two answers are a moment apart, so only the
    // countdowns (seconds until the window resets, until the credits refill) may have ticked.
    const direct = (await gw.api<VerifyResult>("/keys/verify", { method: "POST", json: { key: created.key } })).body;
    expect(verdict).toEqual({
      ...direct,
      ratelimits: direct.ratelimits?.map((limit) => ({ ...limit, reset: expect.any(Number) })),
      credits: direct.credits && { ...direct.credits, refillIn: expect.any(Number) },
    });
    expect(verdict.credits!.refillIn! - direct.credits!.refillIn!).toBeGreaterThanOrEqual(0);
    expect(verdict.credits!.refillIn! - direct.credits!.refillIn!).toBeLessThanOrEqual(1);
    expect(verdict.ratelimits).toEqual([{ name: "minute", limit: 100, windowSeconds: 60, remaining: 100, reset: expect.any(Number) }]);
    expect(verdict.credits).toMatchObject({ remaining: 10 });
  });

  it("says why a key is not valid, and still exits 0: the verdict is the answer", async () => {
    const malformed = await run("keys", "verify", "kg_live_notakey");
    expect(malformed.code).toBe(0);
    expect(malformed.stdout.trimEnd().split("\n")).toEqual([expect.stringMatching(/^Valid\s+no \(MALFORMED_KEY\)$/), expect.stringMatching(/^Code\s+MALFORMED_KEY$/)]);
  });
});
