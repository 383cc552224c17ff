import { writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { CreatedKey, KeyList, KeyRecord } from "../../client/index.ts";
import { resolveConnection } from "../../cli/config.ts";
import {
  closedPort,
  expectFits,
  expectRefused,
  expectUsageError,
  jsonOf,
  keygate,
  scratch,
  useTestGateway,
  uniqueOwner,
  VERSION,
} from "./cli-support.ts";

/**
 * How the CLI is used and misused: help, usage errors (exit 2), refusals and an unreachable
 * gateway (exit 1), where the token comes from, colour and width, and `npx keygate` itself.
 */
const gw = useTestGateway();

const run = (...args: string[]) => keygate(args, { env: gw.env });
const ID = "key_01JD6T3W4Y8N2B5C7E9G1H3K5M";

describe("--help", () => {
  const commands = [
    ["keygate"],
    ["keygate", "keys"],
    ["keygate", "keys", "create"],
    ["keygate", "keys", "list"],
    ["keygate", "keys", "get"],
    ["keygate", "keys", "update"],
    ["keygate", "keys", "revoke"],
    ["keygate", "keys", "rotate"],
    ["keygate", "keys", "verify"],
    ["keygate", "keys", "usage"],
    ["keygate", "usage"],
    ["keygate", "audit"],
    ["keygate", "plans"],
    ["keygate", "plans", "list"],
    ["keygate", "plans", "get"],
    ["keygate", "plans", "create"],
    ["keygate", "plans", "update"],
    ["keygate", "plans", "delete"],
    ["keygate", "owners"],
    ["keygate", "owners", "list"],
    ["keygate", "owners", "get"],
    ["keygate", "owners", "update"],
    ["keygate", "webhooks"],
    ["keygate", "webhooks", "list"],
    ["keygate", "webhooks", "create"],
    ["keygate", "webhooks", "get"],
    ["keygate", "webhooks", "test"],
    ["keygate", "webhooks", "deliveries"],
    ["keygate", "webhooks", "delete"],
    ["keygate", "security-events"],
  ];

  it("is on every command and subcommand, with the global options and, on each command, an example", async () => {
    for (const command of commands) {
      const result = await keygate([...command.slice(1), "--help"]);
      expect(result.code, command.join(" ")).toBe(0);
      expect(result.stderr).toBe("");
      expect(result.stdout.split("\n")[0]).toMatch(new RegExp(`^Usage: ${command.join(" ")} `));
      expect(result.stdout).toContain("--json");
      expect(result.stdout).toContain("--url <url>");
      if (command.length > 2 || command[1] === "usage" || command[1] === "audit" || command[1] === "security-events") {
        expect(result.stdout, command.join(" ")).toMatch(new RegExp(`Examples:\\n  \\$ ${command.join(" ")}`));
      }
      expectFits(result.stdout);
    }
  });

  it("names the contract's flags", async () => {
    const help = async (...args: string[]) => (await keygate([...args, "--help"])).stdout;
    const create = await help("keys", "create");
    for (const flag of ["--name <name>", "--owner <owner>", "--scope <scope>", "--env <environment>", "--expires-in <seconds>", "--ratelimit <spec>", "--credits <n>", "--refill <spec>", "--allow-ip <cidr>", "--meta <json>"]) {
      expect(create).toContain(flag);
    }
    expect(await help("keys", "list")).toMatch(/--owner <owner>[\s\S]*--status <status>[\s\S]*--limit <n>[\s\S]*--all/);
    expect(await help("keys", "update")).toMatch(/--name <name>[\s\S]*--scope <scope>[\s\S]*--enable[\s\S]*--disable[\s\S]*--expires-at <iso>/);
    expect(await help("keys", "rotate")).toContain("--grace <seconds>");
    expect(await help("keys", "usage")).toMatch(/--from <iso>[\s\S]*--to <iso>[\s\S]*--granularity <unit>/);
    expect(await help("usage")).toMatch(/--owner <owner>[\s\S]*--group-by <group>[\s\S]*--from <iso>[\s\S]*--to <iso>/);
    expect(await help("audit")).toMatch(/--target <id>[\s\S]*--action <action>/);
    expect(await help("webhooks", "create")).toMatch(/<url>[\s\S]*--event <type>/);
    expect(await help("security-events")).toMatch(/--code <code>[\s\S]*--ip <ip>/);
  });

  it("--version prints the package's version", async () => {
    expect(await keygate(["--version"])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
  });
});

describe("usage errors exit 2 with a one-line hint, before any request", () => {
  // Every case points at a closed port: a request would fail with exit 1, not 2.
  let url: string;
  beforeAll(async () => {
    url = `http://127.0.0.1:${await closedPort()}`;
  });
  const misuse = (...args: string[]) => keygate(args, { env: { KEYGATE_URL: url, KEYGATE_ADMIN_TOKEN: "unused" } });

  const cases: [args: string[], message: string | RegExp, command: string][] = [
    [["keys", "list", "--frob"], "unknown option '--frob'", "keygate keys list"],
    [["keys", "create", "--name", "n", "--owner", "o", "--colour"], "unknown option '--colour'", "keygate keys create"],
    [["audit", "--since", "yesterday"], "unknown option '--since'", "keygate audit"],
    [["usage", "--group", "key"], "unknown option '--group'\n(Did you mean --group-by?)", "keygate usage"],
    [["keys", "get"], "missing required argument 'id'", "keygate keys get"],
    [["keys", "update", "--name", "x"], "missing required argument 'id'", "keygate keys update"],
    [["keys", "revoke"], "missing required argument 'id'", "keygate keys revoke"],
    [["keys", "rotate"], "missing required argument 'id'", "keygate keys rotate"],
    [["keys", "verify"], "missing required argument 'key'", "keygate keys verify"],
    [["keys", "usage"], "missing required argument 'id'", "keygate keys usage"],
    [["keys", "get", ID, "extra"], /too many arguments/, "keygate keys get"],
    [["keys", "create", "--name", "n"], "required option '--owner <owner>' not specified", "keygate keys create"],
    [["keys", "create", "--owner", "o"], "required option '--name <name>' not specified", "keygate keys create"],
    [["keys", "create", "--name", "n", "--owner", "o", "--env", "prod"], /'--env <environment>' argument 'prod' is invalid\. Allowed choices are live, test/, "keygate keys create"],
    [["keys", "create", "--name", "n", "--owner", "o", "--expires-in", "-5"], /--expires-in <seconds>' argument '-5' is invalid\. expected a whole number/, "keygate keys create"],
    [["keys", "create", "--name", "n", "--owner", "o", "--ratelimit", "100/60"], /argument '100\/60' is invalid\. expected NAME=LIMIT\/WINDOWSECONDS/, "keygate keys create"],
    [["keys", "create", "--name", "n", "--owner", "o", "--credits", "lots"], /'--credits <n>' argument 'lots' is invalid/, "keygate keys create"],
    [["keys", "create", "--name", "n", "--owner", "o", "--credits", "5", "--refill", "5/weekly"], /expected AMOUNT\/daily or AMOUNT\/monthly/, "keygate keys create"],
    [["keys", "create", "--name", "n", "--owner", "o", "--meta", "[1,2]"], /'--meta <json>' argument '\[1,2\]' is invalid\. expected a JSON object/, "keygate keys create"],
    [["keys", "create", "--name", "n", "--owner", "o", "--refill", "5/daily"], "--refill needs --credits", "keygate keys create"],
    [["keys", "list", "--status", "gone"], /Allowed choices are active, revoked, expired/, "keygate keys list"],
    [["keys", "list", "--limit", "0"], /'--limit <n>' argument '0' is invalid/, "keygate keys list"],
    [["keys", "list", "--limit", "5", "--all"], "option '--limit <n>' cannot be used with option '--all'", "keygate keys list"],
    [["keys", "update", ID], "nothing to change", "keygate keys update"],
    [["keys", "update", ID, "--enable", "--disable"], "option '--enable' cannot be used with option '--disable'", "keygate keys update"],
    [["keys", "update", ID, "--scope", "a:b", "--clear-scopes"], /'--clear-scopes' cannot be used with option '--scope/, "keygate keys update"],
    [["keys", "update", ID, "--expires-at", "tomorrow"], /expected an ISO 8601 time with a zone/, "keygate keys update"],
    [["keys", "rotate", ID, "--grace", "1h"], /'--grace <seconds>' argument '1h' is invalid/, "keygate keys rotate"],
    [["keys", "usage", ID, "--granularity", "minute"], /Allowed choices are hour, day/, "keygate keys usage"],
    [["keys", "usage", ID, "--from", "2026-11-20"], /expected an ISO 8601 time with a zone/, "keygate keys usage"],
    [["usage", "--group-by", "planet"], /Allowed choices are key, route, status/, "keygate usage"],
    [["audit", "--limit", "many"], /'--limit <n>' argument 'many' is invalid/, "keygate audit"],
    [["keys", "frob"], "unknown command 'frob'", "keygate keys"],
    [["frob"], "unknown command 'frob'", "keygate"],
  ];

  it.each(cases)("keygate %j", async (args, message, command) => {
    expectUsageError(await misuse(...args), message, command);
  });

  it("a command group without its command shows the group's help on stderr", async () => {
    const result = await misuse("keys");
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^Usage: keygate keys \[options\] \[command\]/);
  });
});

describe("refusals exit 1 with the problem on stderr", () => {
  it("a read-only admin key may read but every change is refused, and nothing changes", async () => {
    const readOnly = jsonOf<CreatedKey>(await run("keys", "create", "--name", "auditor", "--owner", uniqueOwner("ops"), "--scope", "admin:read", "--json"));
    const target = jsonOf<CreatedKey>(await run("keys", "create", "--name", "target", "--owner", uniqueOwner(), "--json"));
    const asReader = (...args: string[]) => keygate(args, { env: { KEYGATE_URL: gw.url, KEYGATE_ADMIN_TOKEN: readOnly.key } });

    expect((await asReader("keys", "get", target.id)).code).toBe(0);
    expect(jsonOf<KeyList>(await asReader("keys", "list", "--limit", "1", "--json")).data).toHaveLength(1);
    expect((await asReader("audit", "--target", target.id)).code).toBe(0);
    const forbidden = "This key holds admin:read; changes need admin:write.";
    expectRefused(await asReader("keys", "create", "--name", "n", "--owner", "o"), "Forbidden", 403, "FORBIDDEN", forbidden);
    expectRefused(await asReader("keys", "update", target.id, "--disable"), "Forbidden", 403, "FORBIDDEN", forbidden);
    expectRefused(await asReader("keys", "revoke", target.id), "Forbidden", 403, "FORBIDDEN", forbidden);
    expectRefused(await asReader("keys", "rotate", target.id), "Forbidden", 403, "FORBIDDEN", forbidden);
    expectRefused(await asReader("keys", "verify", target.key), "Forbidden", 403, "FORBIDDEN", forbidden);
    expect((await gw.api<KeyRecord>(`/keys/${target.id}`)).body).toMatchObject({ revokedAt: null, enabled: true, version: 1 });
  });

  it("a wrong token is unauthorized", async () => {
    const result = await keygate(["keys", "list"], { env: { KEYGATE_URL: gw.url, KEYGATE_ADMIN_TOKEN: "not-the-token" } });
    expectRefused(result, "Unauthorized", 401, "UNAUTHORIZED", "The token is neither ADMIN_TOKEN nor a keygate key.");
    expect(result.stderr).not.toContain("not-the-token");
  });
});

describe("an unreachable gateway", () => {
  it("says so in one line and exits 1, never with a stack trace", async () => {
    const port = await closedPort();
    for (const args of [["keys", "list"], ["keys", "create", "--name", "n", "--owner", "o"], ["--json", "audit"]]) {
      const result = await keygate(args, { env: { KEYGATE_URL: `http://127.0.0.1:${port}`, KEYGATE_ADMIN_TOKEN: "t" } });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(
        `Error: cannot reach keygate at http://127.0.0.1:${port}/admin (connection refused); is it running? (\`npm run dev\` starts one)\n`,
      );
    }
    const viaFlag = await keygate(["--url", `http://127.0.0.1:${port}`, "--token", "t", "keys", "get", ID]);
    expect(viaFlag.stderr).toMatch(/^Error: cannot reach keygate at http:\/\/127\.0\.0\.1:\d+\/admin \(connection refused\)/);
    expect(viaFlag.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("a server that is not keygate is named as such, in exit 1", async () => {
    const server = http.createServer((_req, res) => res.writeHead(404, { "Content-Type": "text/html" }).end("<h1>Not here</h1>"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await keygate(["keys", "list"], { env: { KEYGATE_URL: url, KEYGATE_ADMIN_TOKEN: "t" } });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `Error: Unexpected answer (HTTP 404)\n${url}/admin/keys?limit=50 answered text/html, not keygate's JSON; is this keygate's admin API?\n`,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("where the token comes from", () => {
  it("defaults to http://127.0.0.1:8787 and the ADMIN_TOKEN in .dev.vars (or KEYGATE_DEV_VARS)", () => {
    const file = path.join(scratch, "default.vars");
    writeFileSync(file, "ASSERTION_PRIVATE_KEY='{}'\nADMIN_TOKEN=kgadm_fromdevvars\n");
    expect(resolveConnection({}, { KEYGATE_DEV_VARS: file })).toEqual({ baseUrl: "http://127.0.0.1:8787/admin", token: "kgadm_fromdevvars" });
    // flags beat the environment, which beats the file
    expect(resolveConnection({ token: "flag" }, { KEYGATE_DEV_VARS: file, KEYGATE_ADMIN_TOKEN: "env" }).token).toBe("flag");
    expect(resolveConnection({}, { KEYGATE_DEV_VARS: file, KEYGATE_ADMIN_TOKEN: "env" }).token).toBe("env");
    expect(resolveConnection({ url: "https://keygate.example.com/ops/" }, { KEYGATE_ADMIN_TOKEN: "t" }).baseUrl).toBe("https://keygate.example.com/ops");
  });

  it("a local gateway works with no token given, reading the dev vars file", async () => {
    const file = path.join(scratch, "dev.vars");
    writeFileSync(file, `# made by npm run dev\nADMIN_TOKEN=${gw.token}\n`);
    const result = await keygate(["keys", "list", "--limit", "1", "--json"], { env: { KEYGATE_URL: gw.url, KEYGATE_DEV_VARS: file } });
    expect(jsonOf<KeyList>(result).data).toHaveLength(1);
  });

  it("never sends the dev token anywhere but this machine, and says what is missing", async () => {
    const file = path.join(scratch, "dev.vars");
    writeFileSync(file, `ADMIN_TOKEN=${gw.token}\n`);
    const remote = await keygate(["keys", "list"], { env: { KEYGATE_URL: "http://keygate.invalid", KEYGATE_DEV_VARS: file } });
    expect(remote).toEqual({ code: 2, stdout: "", stderr: "error: no admin token: set KEYGATE_ADMIN_TOKEN or pass --token.\n" });
    const missing = await keygate(["keys", "list"], { env: { KEYGATE_URL: gw.url } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: no admin token: set KEYGATE_ADMIN_TOKEN or pass --token \(none in .*absent\.vars either: `npm run dev` writes one there\)\.\n$/);
  });

  it("refuses an address that is not an http(s) URL or that holds credentials", async () => {
    const bad = await keygate(["keys", "list"], { env: { KEYGATE_URL: "ftp://x", KEYGATE_ADMIN_TOKEN: "t" } });
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining("must be an http(s) URL") });
    const creds = await keygate(["--url", "http://root:secret@127.0.0.1:1", "keys", "list"]);
    expect(creds).toMatchObject({ code: 2, stderr: expect.stringContaining("must not hold credentials") });
    expect(creds.stderr).not.toContain("secret");
  });
});

describe("colour and width", () => {
  const ESC = "\u001b[";
  const LONG_NAME = "A key whose name is long enough to need cutting in an 80-column table";
  let owner: string;
  let list: string[];
  beforeAll(async () => {
    owner = `${uniqueOwner("wide")}-${"x".repeat(40)}`;
    for (const name of [LONG_NAME, "short"]) await gw.api("/keys", { method: "POST", json: { name, ownerId: owner } });
    list = ["keys", "list", "--owner", owner];
  });

  it("colours a terminal, not a pipe, and never with NO_COLOR", async () => {
    const piped = await run(...list);
    expect(piped.code).toBe(0);
    expect(piped.stdout).not.toContain(ESC);
    const tty = await keygate(list, { env: gw.env, tty: { columns: 80 } });
    expect(tty.code).toBe(0);
    expect(tty.stdout).toContain(`${ESC}1mID`); // bold header
    expect(tty.stdout).toContain(`${ESC}32mactive`); // green status
    const noColor = await keygate(list, { env: { ...gw.env, NO_COLOR: "1" }, tty: { columns: 80 } });
    expect(noColor.stdout).not.toContain(ESC);
    expect(noColor.stdout.trimEnd()).toBe(piped.stdout.trimEnd());
    const refusal = await keygate(["keys", "get", "key_00000000000000000000000000"], { env: gw.env, tty: { columns: 80 } });
    expect(refusal.stdout).toContain(`${ESC}31mError: Not found`); // red, on the terminal's stderr
  });

  it("cuts cells with an ellipsis to fit 80 columns, and uses a wider terminal's room", async () => {
    const narrow = await run(...list);
    expectFits(narrow.stdout);
    expect(narrow.stdout).toContain("…");
    expect(narrow.stdout).not.toContain(LONG_NAME);
    expect(narrow.stdout.split("\n")[0]).not.toContain("LAST USED");
    const wide = await keygate(list, { env: { ...gw.env, NO_COLOR: "1" }, tty: { columns: 200 } });
    expectFits(wide.stdout, 200);
    expect(wide.stdout.split("\n")[0]).toMatch(/STATUS\s+LAST USED$/);
    expect(wide.stdout).toContain(LONG_NAME);
    expect(wide.stdout).toContain(owner);
    const [first] = jsonOf<KeyList>(await run(...list, "--json")).data;
    expectFits((await run("keys", "get", first.id)).stdout);
  });

  it("shows control characters in names as ?, so a name cannot drive the terminal", async () => {
    const created = (await gw.api<CreatedKey>("/keys", { method: "POST", json: { name: "evil\u009b31mred\u0085", ownerId: uniqueOwner() } })).body;
    const shown = await run("keys", "get", created.id);
    expect(shown.stdout).toMatch(/^Name\s+evil\?31mred\?$/m);
    expect(shown.stdout).not.toMatch(/[\u0080-\u009f]/);
  });

  describe("bidi, zero-width and C1 characters", () => {
    /** Every character that reorders, hides or controls text on a terminal, one of each kind. */
    const HOSTILE = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c",
      "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u0080", "\u0085", "\u009b", "\u009d", "\u009f"];
    const ACTING = new RegExp(HOSTILE.join("|"), "u");
    const name = `invoice\u202Egnp.exe\u200B${HOSTILE.join("")}end`;
    const metadata = { note: "\u2066hidden\u2069\u009b31m\u007f", [`k\u202e`]: ["\u200d", { deep: "\ufeff\u0085", tag: "\u{E0041}" }] };
    let created: CreatedKey;
    let owner: string;
    beforeAll(async () => {
      owner = uniqueOwner("bidi");
      created = (await gw.api<CreatedKey>("/keys", { method: "POST", json: { name, ownerId: owner, metadata } })).body;
      expect(created.name).toBe(name);
    });

    it("never reach the terminal in tables: each is shown as ?", async () => {
      const shown = await run("keys", "get", created.id);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).not.toMatch(ACTING);
      expect(shown.stdout).toMatch(new RegExp(`^Name\\s+invoice\\?gnp\\.exe\\?${"\\?".repeat(HOSTILE.length)}end$`, "m"));
      expect(shown.stdout).toContain('"note":"?hidden??31m?"');
      const listed = await keygate(["keys", "list", "--owner", owner], { env: { ...gw.env, NO_COLOR: "1" }, tty: { columns: 200 } });
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).not.toMatch(ACTING);
      expect(listed.stdout).toContain(`invoice?gnp.exe?${"?".repeat(HOSTILE.length)}end`);
      const audit = await run("audit", "--target", created.id);
      expect(audit.stdout).not.toMatch(ACTING);
    });

    it("never reach the terminal in --json: each is escaped, and the JSON parses back to what the API answered", async () => {
      const record = (await gw.api<KeyRecord>(`/keys/${created.id}`)).body;
      for (const args of [["keys", "get", created.id], ["keys", "list", "--owner", owner], ["audit", "--target", created.id]]) {
        const shown = await run(...args, "--json");
        expect(shown.code, shown.stderr).toBe(0);
        expect(shown.stdout, args.join(" ")).not.toMatch(ACTING);
        expect(shown.stdout).toContain("\\u202e");
        expect(shown.stdout).toContain("\\u009b");
        expect(shown.stdout).not.toContain("\u007f");
      }
      const json = await run("keys", "get", created.id, "--json");
      expect(json.stdout).toContain('"tag": "\\udb40\\udc41"'); // a tag character, beyond the BMP: a pair of escapes
      expect(jsonOf<KeyRecord>(json)).toEqual(record);
      const made = await run("keys", "create", "--name", name, "--owner", owner, "--meta", JSON.stringify(metadata), "--json");
      expect(made.stdout).not.toMatch(ACTING);
      expect(jsonOf<CreatedKey>(made)).toMatchObject({ name, metadata });
    });
  });
});

describe("npx keygate", () => {
  it("runs the package's bin from the repository, after npm install, with no build step", async () => {
    const version = await keygate(["--version"], { via: "npx" });
    expect(version).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
    const created = await keygate(["keys", "create", "--name", "via npx", "--owner", uniqueOwner()], { via: "npx", env: gw.env });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain("it will not be shown again");
    expectUsageError(await keygate(["keys", "get"], { via: "npx", env: gw.env }), "missing required argument 'id'", "keygate keys get");
  });
});
