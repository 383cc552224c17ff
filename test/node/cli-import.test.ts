import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { KeyRecord } from "../../client/index.ts";
import { expectUsageError, jsonOf, keygate, scratch, uniqueOwner, useTestGateway, type Run } from "./cli-support.ts";

/**
 * `keygate keys import FILE.jsonl` against keygate in workerd: 10,000 keys from elsewhere (by
 * plaintext, hex hash and base64 hash), a few invalid, each reported; every imported key works
 * at the gateway; a second run resumes (exists). DESIGN.md, "Importing keys" and "Operator CLI".
 */
const PREFIXES = ["sk_live_", "bs_"];
const gw = useTestGateway({ IMPORTED_KEY_PREFIXES: JSON.stringify(PREFIXES), MAX_KEYS_PER_OWNER: "1000" });
const run = (...args: string[]) => keygate(args, { env: gw.env });

interface LineResult {
  line: number;
  status: "created" | "exists" | "invalid" | "malformed";
  id?: string;
  problem?: { code: string; title: string; detail: string };
}
interface Report {
  dryRun: boolean;
  summary: Record<LineResult["status"], number>;
  results: LineResult[];
}

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const foreignKey = (prefix: string, length = 28) => prefix + [...randomBytes(length)].map((b) => ALPHABET[b % 62]).join("");
const sha256 = (key: string) => createHash("sha256").update(key).digest();

/** What a line is meant to do, and the key to try at the gateway afterwards. */
interface Planned {
  line: number;
  key: string;
  expect: "created" | "invalid" | "malformed";
  code?: string;
}

function writeLines(name: string, lines: string[]): string {
  const file = path.join(scratch, name);
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

/**
 * 10,000 items for 20 owners: a third each by plaintext, by hex hash, by base64 hash; 3 with a prefix the
 * gateway does not list, 2 with both key and hash, 2 past their owner's plan's maxKeys; 2 lines that are not
 * items, and a blank one.
 */
function legacyFile(planOwner: string): { file: string; planned: Planned[] } {
  const owners = Array.from({ length: 20 }, () => uniqueOwner("legacy"));
  const lines: string[] = [];
  const planned: Planned[] = [];
  const add = (text: string, p: Omit<Planned, "line">) => {
    lines.push(text);
    planned.push({ ...p, line: lines.length });
  };
  for (let i = 0; i < 9_991; i++) {
    const key = foreignKey(i % 2 ? "bs_" : "sk_live_");
    const base = { name: `legacy ${i}`, ownerId: owners[i % owners.length], scopes: ["posts:read"], ratelimits: [{ name: "minute", limit: 100, windowSeconds: 60 }] };
    const given =
      i % 3 === 0 ? { key } : i % 3 === 1 ? { hash: `sha256:${sha256(key).toString("hex")}` } : { hash: `sha256-base64:${sha256(key).toString("base64")}` };
    add(JSON.stringify({ ...base, ...given }), { key, expect: "created" });
    if (i === 4000) {
      lines.push("");
      add("{ not json", { key: "", expect: "malformed" });
      add('["an", "array"]', { key: "", expect: "malformed" });
    }
  }
  for (let i = 0; i < 3; i++) {
    const key = foreignKey("pk_live_");
    add(JSON.stringify({ name: "unlisted prefix", ownerId: owners[0], key }), { key, expect: "invalid", code: "MALFORMED_KEY" });
  }
  for (let i = 0; i < 2; i++) {
    const key = foreignKey("sk_live_");
    add(JSON.stringify({ name: "both", ownerId: owners[1], key, hash: `sha256:${sha256(key).toString("hex")}` }), { key, expect: "invalid", code: "VALIDATION_FAILED" });
  }
  for (let i = 0; i < 4; i++) {
    const key = foreignKey("bs_");
    add(JSON.stringify({ name: `planned ${i}`, ownerId: planOwner, key }), i < 2 ? { key, expect: "created" } : { key, expect: "invalid", code: "KEY_LIMIT_REACHED" });
  }
  return { file: writeLines("legacy.jsonl", lines), planned };
}

async function gatewayStatus(key: string): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${gw.url}/legacy/call`, { headers: { Authorization: `Bearer ${key}` } });
  const body = res.headers.get("Content-Type")?.includes("problem") ? ((await res.json()) as { code: string }) : (await res.arrayBuffer(), undefined);
  return { status: res.status, code: body?.code };
}

describe("keygate keys import", () => {
  it("imports 10,000 keys (plaintext, hex and base64 hashes), reports each line, and every imported key works; a second run reports exists", async () => {
    const planId = `two-${Date.now().toString(36)}`;
    const planOwner = uniqueOwner("planned");
    expect((await gw.api(`/plans`, { method: "POST", json: { id: planId, name: "Two", maxKeys: 2 } })).status).toBe(201);
    expect((await gw.api(`/owners/${planOwner}`, { method: "PUT", json: { plan: planId } })).status).toBe(201);
    const { file, planned } = legacyFile(planOwner);

    const first = await run("keys", "import", file, "--json");
    expect(first.code, first.stderr).toBe(1); // some lines were not imported
    const report = JSON.parse(first.stdout) as Report;
    expect(report.dryRun).toBe(false);
    expect(report.summary).toEqual({ created: 9_993, exists: 0, invalid: 7, malformed: 2 });
    expect(report.results.map((r) => r.line)).toEqual(planned.map((p) => p.line));
    for (const [i, p] of planned.entries()) {
      const r = report.results[i];
      expect(r.status, `line ${p.line}`).toBe(p.expect);
      if (p.expect === "created") expect(r.id).toMatch(/^key_/);
      if (p.code) expect(r.problem?.code, `line ${p.line}`).toBe(p.code);
    }
    expect(report.results.find((r) => r.problem?.code === "MALFORMED_KEY")!.problem!.detail).toContain("IMPORTED_KEY_PREFIXES");
    expect(report.results.find((r) => r.status === "malformed")!.problem!.detail).toMatch(/not valid JSON/);
    // progress, off a terminal: a plain count line per call but the last, on stderr
    expect(first.stderr).toMatch(/^1,000 items sent \(\d+% of .*legacy\.jsonl\): 1,000 created/m);
    expect(first.stderr.match(/items sent/g)).toHaveLength(9);
    expect(first.stderr).toMatch(/9 of 10,002 lines were not imported/);
    // no key was ever printed
    for (const p of planned.slice(0, 50)) if (p.key) expect(first.stdout + first.stderr).not.toContain(p.key);

    // a sample of a few hundred imported keys, of each kind, works at the gateway; every invalid one is refused
    const created = planned.filter((p) => p.expect === "created");
    const sample = created.filter((_, i) => i % 33 === 0);
    expect(sample.length).toBeGreaterThan(300);
    for (const p of sample) expect((await gatewayStatus(p.key)).status, `line ${p.line}`).toBe(200);
    const record = (await gw.api<KeyRecord>(`/keys/${report.results[0].id}`)).body;
    expect(record).toMatchObject({ imported: true, start: planned[0].key.slice(0, 12), ratelimits: [{ name: "minute", limit: 100, windowSeconds: 60 }] });
    expect((await gw.api<KeyRecord>(`/keys/${report.results[1].id}`)).body.start).toBeNull();
    for (const p of planned.filter((x) => x.expect === "invalid")) {
      expect(await gatewayStatus(p.key), `line ${p.line}`).toEqual({ status: 401, code: p.code === "MALFORMED_KEY" ? "MALFORMED_KEY" : "KEY_NOT_FOUND" });
    }

    const second = await run("keys", "import", file, "--json");
    const again = JSON.parse(second.stdout) as Report;
    expect(again.summary).toEqual({ created: 0, exists: 9_993, invalid: 7, malformed: 2 });
    for (const [i, r] of again.results.entries()) {
      if (report.results[i].status === "created") expect([r.status, r.id]).toEqual(["exists", report.results[i].id]);
      else expect(r.status).toBe(report.results[i].status);
    }
  });

  it("human output: the summary, then each line not imported with its number and problem; exit 0 when every line was imported", async () => {
    const owner = uniqueOwner("human");
    const ok = foreignKey("sk_live_");
    const file = writeLines("human.jsonl", [
      JSON.stringify({ name: "fine", ownerId: owner, key: ok }),
      JSON.stringify({ name: "no key", ownerId: owner }),
      "not json at all",
      JSON.stringify({ name: "fine too", ownerId: owner, hash: `sha256:${sha256(foreignKey("bs_")).toString("hex")}` }),
    ]);
    const result = await run("keys", "import", file);
    expect(result.code).toBe(1);
    const out = result.stdout.split("\n");
    expect(out[0]).toBe("Imported human.jsonl:");
    expect(result.stdout).toMatch(/^created\s+2$/m);
    expect(result.stdout).toMatch(/^exists\s+0$/m);
    expect(result.stdout).toMatch(/^invalid\s+1$/m);
    expect(result.stdout).toMatch(/^malformed\s+1$/m);
    expect(result.stdout).toContain("line 2: invalid (VALIDATION_FAILED) key: give key (the key itself) or hash (its SHA-256)");
    expect(result.stdout).toMatch(/line 3: malformed \(MALFORMED_LINE\) not valid JSON/);
    expect(result.stdout).not.toContain("not json at all");
    expect(result.stderr).toContain("2 of 4 lines were not imported");
    expect(result.stderr).not.toMatch(/items sent/); // one call: no progress

    const clean = writeLines("clean.jsonl", [JSON.stringify({ name: "again", ownerId: owner, key: ok })]);
    const rerun = await run("keys", "import", clean);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/^exists\s+1$/m);
    expect(rerun.stdout).not.toContain("Not imported");
  });

  it("keys list and keys get show a key imported by its hash as (hash only), and say it was imported", async () => {
    const owner = uniqueOwner("shown");
    const plain = foreignKey("sk_live_");
    const file = writeLines("shown.jsonl", [
      JSON.stringify({ name: "by plaintext", ownerId: owner, key: plain }),
      JSON.stringify({ name: "by hash", ownerId: owner, hash: `sha256:${sha256(foreignKey("bs_")).toString("hex")}` }),
    ]);
    const report = jsonOf<Report>(await run("keys", "import", file, "--json"));
    const list = await run("keys", "list", "--owner", owner);
    expect(list.code, list.stderr).toBe(0);
    const rows = list.stdout.trimEnd().split("\n").slice(1);
    expect(rows.find((row) => row.includes(report.results[1].id!))).toMatch(/\(hash only\)\s+by hash/);
    expect(rows.find((row) => row.includes(report.results[0].id!))).toContain(`${plain.slice(0, 12)}  by plaintext`);
    const shown = await run("keys", "get", report.results[1].id!);
    expect(shown.stdout).toMatch(/^Start\s+\(hash only\)$/m);
    expect(shown.stdout).toMatch(/^Imported\s+yes$/m);
    expect((await run("keys", "get", report.results[0].id!)).stdout).toMatch(new RegExp(`^Start\\s+${plain.slice(0, 12)}$`, "m"));
  });

  it("--dry-run checks every line and writes nothing", async () => {
    const owner = uniqueOwner("dry");
    const file = writeLines("dry.jsonl", [JSON.stringify({ name: "would", ownerId: owner, key: foreignKey("sk_live_") })]);
    const report = jsonOf<Report>(await run("keys", "import", file, "--dry-run", "--json"));
    expect(report).toEqual({ dryRun: true, summary: { created: 1, exists: 0, invalid: 0, malformed: 0 }, results: [{ line: 1, status: "created" }] });
    expect((await gw.api<{ data: unknown[] }>(`/keys?ownerId=${owner}`)).body.data).toEqual([]);
    const human = await run("keys", "import", file, "--dry-run");
    expect(human.stdout.split("\n")[0]).toBe("Dry run (nothing was written) of dry.jsonl:");
    expect(human.stdout).toMatch(/^would be created\s+1$/m);
  });

  it("draws a progress bar on stderr when it is a terminal", async () => {
    const owner = uniqueOwner("tty");
    const lines = Array.from({ length: 2_500 }, (_, i) => JSON.stringify({ name: `t${i}`, ownerId: owner, hash: `sha256:${sha256(`tty-${owner}-${i}`).toString("hex")}` }));
    const file = writeLines("tty.jsonl", lines);
    const result: Run = await keygate(["keys", "import", file, "--dry-run"], { env: gw.env, tty: { columns: 100 } });
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/\r\u001b\[2K\[#+-*\] \d+% {2}1,000 sent: 1,000 would be created/);
    expect(result.stdout).toMatch(/\r\u001b\[2K\[#{24}\] 100% {2}2,500 sent/);
    expect(result.stdout).not.toMatch(/items sent/);
  });

  it("a file that cannot be read is bad usage (exit 2)", async () => {
    expectUsageError(await run("keys", "import", path.join(scratch, "absent.jsonl")), /cannot read .*absent\.jsonl/, "keygate keys import");
  });
});
