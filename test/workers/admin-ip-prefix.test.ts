import { describe, expect, it } from "vitest";
import { admin, call, createKey, uniqueOwner } from "./helpers";
import { expectProblem } from "./gateway-helpers";

/**
 * Inputs that outside clients read differently than a lax parser would: `allowedIps` takes only
 * the standard text forms, and a key's prefix may not name the other environment.
 */

const REFUSED = [
  "010.0.0.1", // octal to some parsers: 8.0.0.1
  "0x0a.0.0.1",
  "167772161", // one 32-bit number
  "10.1", // two parts: 10.0.0.1 to some parsers
  "1.2.3.4.5",
  "256.0.0.1",
  "10.0.0.1/033",
  "10.0.0.0/33",
  " 10.0.0.1",
  "fe80::1%eth0",
  "[::1]",
  "::ffff:1.2.3.04",
  "1:2:3:4:5:6:7:8:9",
  "1::2::3",
  "::/129",
  "12345::",
];

const ACCEPTED = [
  "10.0.0.1",
  "10.0.0.0/8",
  "0.0.0.0/0",
  "2001:db8::/32",
  "::1",
  "::/0",
  "FE80::1",
  "1:2:3:4:5:6:7:8",
  "::ffff:10.0.0.1",
  "::ffff:10.0.0.0/104",
  "::ffff:a00:0/104",
];

const create = (fields: Record<string, unknown>) =>
  admin("/keys", { method: "POST", json: { name: "k", ownerId: uniqueOwner(), ...fields } });

describe("allowedIps", () => {
  for (const entry of REFUSED) {
    it(`refuses ${JSON.stringify(entry)} with a 400 naming the entry`, async () => {
      const res = await create({ allowedIps: ["192.0.2.1", entry] });
      const problem = (await expectProblem(res, 400, "VALIDATION_FAILED")) as unknown as { issues: { path: string }[] };
      expect(problem.issues.map((i) => i.path)).toContain("allowedIps.1");
    });
  }

  it("accepts the standard IPv4 and IPv6 text forms", async () => {
    const res = await create({ allowedIps: ACCEPTED });
    expect(res.status, await res.clone().text()).toBe(201);
  });

  it("an allowlist of 10.0.0.0/8 admits 10.0.0.1 and refuses 8.0.0.1 and a client address in a lax form", async () => {
    const { key } = await createKey({ allowedIps: ["10.0.0.0/8"] });
    const from = (ip: string) => ({ headers: { "CF-Connecting-IP": ip } });
    expect((await call("/echo", key, from("10.0.0.1"))).status).toBe(200);
    expect((await call("/echo", key, from("::ffff:10.0.0.1"))).status).toBe(200);
    await expectProblem(await call("/echo", key, from("8.0.0.1")), 403, "IP_NOT_ALLOWED");
    await expectProblem(await call("/echo", key, from("010.0.0.1")), 403, "IP_NOT_ALLOWED");
  });
});

describe("a prefix that names the other environment", () => {
  for (const [prefix, environment] of [
    ["kg_test", "live"],
    ["acme_test", "live"],
    ["kg_live", "test"],
    ["acme_sk_live", "test"],
  ]) {
    it(`${prefix} on a ${environment} key is a 400 naming prefix`, async () => {
      const res = await create({ prefix, environment });
      const problem = (await expectProblem(res, 400, "VALIDATION_FAILED")) as unknown as { issues: { path: string }[] };
      expect(problem.issues.map((i) => i.path)).toContain("prefix");
    });
  }

  it("kg_test with environment left to its default (live) is refused too", async () => {
    await expectProblem(await create({ prefix: "kg_test" }), 400, "VALIDATION_FAILED");
  });

  it("prefixes that name their own environment, or none, are fine", async () => {
    for (const [prefix, environment] of [
      ["kg_test", "test"],
      ["acme_live", "live"],
      ["acme", "test"],
      ["testing_live", "live"],
    ]) {
      const res = await create({ prefix, environment });
      expect(res.status, `${prefix} ${environment}: ${await res.clone().text()}`).toBe(201);
    }
  });
});
