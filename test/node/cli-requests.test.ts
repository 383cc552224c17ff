import { describe, expect, it } from "vitest";
import type { CreatedKey } from "../../client/index.ts";
import { expectFits, expectRefused, expectUsageError, jsonOf, keygate, useTestGateway, uniqueOwner } from "./cli-support.ts";

/** `keygate keys requests` against keygate in workerd, over requests that really went through it. */
const gw = useTestGateway({ USAGE_FLUSH_MS: "1" });
const run = (...args: string[]) => keygate(args, { env: gw.env });

interface Logged {
  data: { requestId: string; path: string; status: number; outcome: string }[];
  nextCursor: string | null;
}

/** A key with limit 2 per hour, used three times: two proxied, one rate-limited; the log has them all. */
async function usedKey(): Promise<CreatedKey> {
  const key = (
    await gw.api<CreatedKey>("/keys", {
      method: "POST",
      json: { name: "logged", ownerId: uniqueOwner(), ratelimits: [{ name: "hour", limit: 2, windowSeconds: 3600 }] },
    })
  ).body;
  for (const path of ["/orders/1", "/orders/2", "/orders/3"]) {
    const res = await fetch(`${gw.url}${path}`, { headers: { Authorization: `Bearer ${key.key}`, "User-Agent": "cli-test" } });
    await res.arrayBuffer();
  }
  for (let tries = 0; tries < 100; tries++) {
    if ((await gw.api<Logged>(`/keys/${key.id}/requests`)).body.data.length === 3) return key;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the requests never reached the log");
}

describe("keygate keys requests", () => {
  it("prints user agents with C1, bidi and zero-width characters escaped in --json, parsing back to the API's answer", async () => {
    const key = (await gw.api<CreatedKey>("/keys", { method: "POST", json: { name: "agents", ownerId: uniqueOwner() } })).body;
    const agent = "agent\u009b31m\u0085\u009d0;title\u009c\u00a0\u202egnp.exe\u200b\u2066end";
    // Header values travel as bytes; keygate reads them as UTF-8, so these are the agent's UTF-8 bytes.
    const bytes = Buffer.from(agent, "utf8").toString("latin1");
    const res = await fetch(`${gw.url}/orders/9`, { headers: { Authorization: `Bearer ${key.key}`, "User-Agent": bytes } });
    await res.arrayBuffer();
    type WithAgents = { data: (Logged["data"][number] & { userAgent: string | null })[]; nextCursor: string | null };
    let logged: WithAgents = { data: [], nextCursor: null };
    for (let tries = 0; tries < 100 && logged.data.length === 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      logged = (await gw.api<typeof logged>(`/keys/${key.id}/requests`)).body;
    }
    expect(logged.data.map((r) => r.userAgent)).toEqual([agent]);
    const shown = await run("keys", "requests", key.id, "--json");
    expect(shown.stdout).not.toMatch(/[\u0080-\u009f\u202e\u200b\u2066]/);
    expect(shown.stdout).toContain("agent\\u009b31m\\u0085\\u009d0;title\\u009c\u00a0\\u202egnp.exe\\u200b\\u2066end");
    expect(jsonOf<typeof logged>(shown)).toEqual(logged);
  });

  it("lists the key's requests newest first within 80 columns; --json prints the API's answer", async () => {
    const key = await usedKey();
    const result = await run("keys", "requests", key.id);
    expect(result.code).toBe(0);
    expectFits(result.stdout);
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^WHEN\s+METHOD\s+PATH\s+STATUS\s+OUTCOME/);
    expect(rows.map((row) => row.split(/\s{2,}/).slice(1, 5))).toEqual([
      ["GET", "/orders/3", "429", "RATE_LIMITED"],
      ["GET", "/orders/2", "200", "OK"],
      ["GET", "/orders/1", "200", "OK"],
    ]);
    const json = jsonOf<Logged>(await run("keys", "requests", key.id, "--json"));
    expect(json).toEqual((await gw.api<Logged>(`/keys/${key.id}/requests?limit=50`)).body);
  });

  it("filters by outcome and follows cursors with --limit and --all", async () => {
    const key = await usedKey();
    const limited = jsonOf<Logged>(await run("keys", "requests", key.id, "--outcome", "RATE_LIMITED", "--json"));
    expect(limited.data.map((r) => r.path)).toEqual(["/orders/3"]);
    const first = jsonOf<Logged>(await run("keys", "requests", key.id, "--limit", "2", "--json"));
    expect(first.data).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const rest = jsonOf<Logged>(await run("keys", "requests", key.id, "--cursor", first.nextCursor!, "--json"));
    expect([...first.data, ...rest.data].map((r) => r.path)).toEqual(["/orders/3", "/orders/2", "/orders/1"]);
    const all = jsonOf<Logged>(await run("keys", "requests", key.id, "--all", "--json"));
    expect(all.data).toHaveLength(3);
    const none = await run("keys", "requests", key.id, "--outcome", "KEY_REVOKED");
    expect(none.code).toBe(0);
    expect(none.stderr).toMatch(/No requests match/);
  });

  it("refuses an unknown key id and an unknown outcome as the API does; a missing id is a usage error", async () => {
    expectRefused(await run("keys", "requests", "key_00000000000000000000000000"), "Not found", 404, "NOT_FOUND", "No key has the id");
    const key = await usedKey();
    const bad = await run("keys", "requests", key.id, "--outcome", "NOT_A_CODE");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Validation failed/);
    expect(bad.stderr).toMatch(/outcome/);
    expectUsageError(await run("keys", "requests"), /missing required argument 'id'/, "keygate keys requests");
  });
});
