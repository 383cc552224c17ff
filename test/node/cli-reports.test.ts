import { describe, expect, it } from "vitest";
import type { AuditList, CreatedKey, KeyUsage, Usage } from "../../client/index.ts";
import {
  expectFits,
  expectRefused,
  jsonOf,
  keygate,
  useTestGateway,
  uniqueOwner,
} from "./cli-support.ts";

/** `keygate keys usage`, `keygate usage` and `keygate audit` against keygate in workerd. */
const gw = useTestGateway();

const run = (...args: string[]) => keygate(args, { env: gw.env });
const create = async (ownerId = uniqueOwner()) =>
  (await gw.api<CreatedKey>("/keys", { method: "POST", json: { name: "reported", ownerId } })).body;

/**
 * What the Analytics Engine SQL API answers for one bucket or group: a row per outcome and
 * status, as keygate's queries group them (src/analytics/usage.ts). `requests` is their sum.
 */
const counts = (
  at: Record<string, string>,
  requests: number,
  allowed: number,
  rateLimited: number,
  quotaExhausted: number,
  denied: number,
  creditsUsed: number,
) => {
  expect(allowed + rateLimited + quotaExhausted + denied).toBe(requests);
  return [
    { ...at, outcome: "OK", status: "200", requests: allowed, credits_used: creditsUsed },
    { ...at, outcome: "RATE_LIMITED", status: "429", requests: rateLimited },
    { ...at, outcome: "QUOTA_EXHAUSTED", status: "429", requests: quotaExhausted },
    { ...at, outcome: "INSUFFICIENT_SCOPE", status: "403", requests: denied },
  ];
};

describe("keygate keys usage", () => {
  it("shows the key's series hour by hour with a total row, and --json prints the API's answer", async () => {
    const key = await create();
    await gw.sqlAnswers([
      ...counts({ bucket: "2026-11-20 10:00:00" }, 1200, 1100, 60, 20, 20, 1100),
      ...counts({ bucket: "2026-11-20 12:00:00" }, 3, 3, 0, 0, 0, 6),
    ]);
    const range = ["--from", "2026-11-20T10:00:00Z", "--to", "2026-11-20T13:00:00Z"];
    const result = await run("keys", "usage", key.id, ...range);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`${key.id}, hourly, 2026-11-20 10:00 to 2026-11-20 13:00 UTC`);
    expect(lines[1]).toMatch(/^START\s+REQUESTS\s+ALLOWED\s+LIMITED\s+QUOTA\s+DENIED\s+CREDITS$/);
    expect(lines.slice(2).map((line) => line.split(/\s{2,}/))).toEqual([
      ["2026-11-20 10:00", "1,200", "1,100", "60", "20", "20", "1,100"],
      ["2026-11-20 11:00", "0", "0", "0", "0", "0", "0"],
      ["2026-11-20 12:00", "3", "3", "0", "0", "0", "6"],
      ["total", "1,203", "1,103", "60", "20", "20", "1,106"],
    ]);
    expectFits(result.stdout);
    const [query] = await gw.sqlQueries();
    expect(query.sql).toContain(`index1 = '${key.id}'`);

    await gw.sqlAnswers([...counts({ bucket: "2026-11-20 00:00:00" }, 5, 5, 0, 0, 0, 5)]);
    const daily = ["--from", "2026-11-19T00:00:00Z", "--to", "2026-11-21T00:00:00Z", "--granularity", "day"];
    const usage = jsonOf<KeyUsage>(await run("keys", "usage", key.id, ...daily, "--json"));
    const query2 = new URLSearchParams({ from: daily[1], to: daily[3], granularity: "day" });
    expect(usage).toEqual((await gw.api<KeyUsage>(`/keys/${key.id}/usage?${query2}`)).body);
    expect(usage.series.map((p) => [p.start, p.requests])).toEqual([
      ["2026-11-19T00:00:00.000Z", 0],
      ["2026-11-20T00:00:00.000Z", 5],
    ]);
  });

  it("passes on the API's refusals: an unknown key, a range the API will not serve", async () => {
    expectRefused(await run("keys", "usage", "key_00000000000000000000000000"), "Not found", 404, "NOT_FOUND", "No key has the id");
    const key = await create();
    expectRefused(
      await run("keys", "usage", key.id, "--from", "2026-11-20T10:00:00Z", "--to", "2026-11-20T09:00:00Z"),
      "Validation failed",
      400,
      "VALIDATION_FAILED",
      "from must be earlier than to.",
    );
  });
});

describe("keygate usage", () => {
  it("groups usage across keys, for one owner, with totals; --json prints the API's answer", async () => {
    const rows = [
      ...counts({ grp: "posts" }, 10, 9, 0, 0, 1, 9),
      ...counts({ grp: "echo" }, 2, 2, 0, 0, 0, 2),
    ];
    await gw.sqlAnswers(rows);
    const result = await run("usage", "--group-by", "route", "--owner", "acct_42", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-20T00:00:00Z");
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("By route for acct_42, 2026-11-01 00:00 to 2026-11-20 00:00 UTC");
    expect(lines[1]).toMatch(/^ROUTE\s+REQUESTS\s+ALLOWED\s+LIMITED\s+QUOTA\s+DENIED\s+CREDITS$/);
    expect(lines.slice(2).map((line) => line.split(/\s{2,}/))).toEqual([
      ["posts", "10", "9", "0", "0", "1", "9"],
      ["echo", "2", "2", "0", "0", "0", "2"],
      ["total", "12", "11", "0", "0", "1", "11"],
    ]);
    expect((await gw.sqlQueries())[0].sql).toContain("blob1 = 'acct_42'");

    await gw.sqlAnswers(rows);
    const usage = jsonOf<Usage>(await run("usage", "--group-by", "status", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-20T00:00:00Z", "--json"));
    await gw.sqlAnswers(rows);
    expect(usage).toEqual((await gw.api<Usage>("/usage?groupBy=status&from=2026-11-01T00:00:00Z&to=2026-11-20T00:00:00Z")).body);
    expect(usage).toMatchObject({ groupBy: "status", ownerId: null });
  });

  it("groups by key by default, cutting key ids rather than overflowing 80 columns", async () => {
    await gw.sqlAnswers([...counts({ grp: "key_01JD6T3W4Y8N2B5C7E9G1H3K5M" }, 123_456_789, 123_456_000, 700, 89, 0, 123_456_000)]);
    const result = await run("usage");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split("\n")[1]).toMatch(/^KEY\s/);
    expect(result.stdout).toContain("123,456,789");
    expectFits(result.stdout);
  });
});

describe("keygate audit", () => {
  it("lists who changed a key, newest first, within 80 columns", async () => {
    const key = await create();
    await run("keys", "update", key.id, "--name", "renamed", "--scope", "posts:read");
    await run("keys", "revoke", key.id);
    const result = await run("audit", "--target", key.id);
    expect(result.code, result.stderr).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^WHEN\s+ACTION\s+TARGET\s+ACTOR\s+CHANGED$/);
    expect(rows.map((row) => row.split(/\s{2,}/))).toEqual([
      [expect.stringMatching(/^(just now|\d+ seconds? ago)$/), "key.revoke", key.id, "root", "revokedAt"],
      [expect.any(String), "key.update", key.id, "root", "name, scopes"],
      [expect.any(String), "key.create", key.id, "root", expect.stringMatching(/^name, ownerId, /)],
    ]);
    expectFits(result.stdout);

    const revokes = jsonOf<AuditList>(await run("audit", "--target", key.id, "--action", "key.revoke", "--json"));
    expect(revokes).toEqual((await gw.api<AuditList>(`/audit?targetId=${key.id}&action=key.revoke&limit=50`)).body);
    expect(revokes.data).toHaveLength(1);
  });

  it("follows cursors with --all, and filters by actor", async () => {
    const admin = (await gw.api<CreatedKey>("/keys", { method: "POST", json: { name: "ops", ownerId: uniqueOwner("ops"), scopes: ["admin:write"] } })).body;
    for (let i = 0; i < 105; i += 15) {
      const batch = Array.from({ length: Math.min(15, 105 - i) }, () =>
        gw.api("/keys", { method: "POST", json: { name: "by ops", ownerId: uniqueOwner() }, token: admin.key }),
      );
      for (const { status } of await Promise.all(batch)) expect(status).toBe(201);
    }
    const all = jsonOf<AuditList>(await run("audit", "--actor", admin.id, "--all", "--json"));
    expect(all.data).toHaveLength(105);
    expect(all.data.every((entry) => entry.actor === admin.id && entry.action === "key.create")).toBe(true);
    expect(all.nextCursor).toBeNull();
    const limited = await run("audit", "--actor", admin.id, "--limit", "3");
    expect(limited.stdout.trimEnd().split("\n")).toHaveLength(4);
    expect(limited.stderr).toBe("More audit entries than these 3: --limit N or --all shows them.\n");
    expect(await run("audit", "--target", "key_00000000000000000000000000")).toEqual({ code: 0, stdout: "", stderr: "No audit entries match.\n" });
  });
});
