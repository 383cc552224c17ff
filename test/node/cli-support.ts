import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { buildWorker, removeBuild, startLocalGateway } from "../../scripts/local-gateway.ts";
import { adminApi, freePort, type AdminApi } from "../support/net.ts";
import { portOf, startOrigin } from "../support/origin.ts";

/**
 * Runs the real `keygate` binary as a user would, against keygate's built worker in workerd
 * (scripts/local-gateway.ts) with a Node stand-in for the Analytics Engine SQL API.
 */
export const ROOT = path.resolve(import.meta.dirname, "../..");
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string; bin: { keygate: string } };
/** What `npx keygate` runs: the package's bin, by its shebang, with node_modules/.bin first on PATH. */
export const BIN = path.join(ROOT, pkg.bin.keygate);
export const VERSION = pkg.version;
const PATH = `${path.join(ROOT, "node_modules/.bin")}${path.delimiter}${process.env.PATH}`;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const runs: Run[] = [];
/** Every run so far, so a file can check that no secret was ever printed. */
export const allOutput = () => runs.map((r) => r.stdout + r.stderr).join("\n");

/**
 * A scratch directory for a file that starts the test gateway (made in its beforeAll, removed in
 * its afterAll, so files that only import a helper leave nothing behind); its dev vars file does
 * not exist unless a test writes it.
 */
export const scratch = path.join(os.tmpdir(), `keygate-cli-${randomUUID()}`);

/** The user's environment without keygate's variables or colour settings, so nothing leaks in. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("KEYGATE_") && !["NO_COLOR", "FORCE_COLOR"].includes(name)),
  );
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** "npx": `npx keygate ARGS`; "bin" (default): the bin itself, as npx finally runs it */
  via?: "npx" | "bin";
  /** run under a pseudo-terminal (util-linux `script`), as in an interactive shell */
  tty?: { columns: number };
}

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

export function keygate(args: string[], options: RunOptions = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...cleanEnv(), PATH, KEYGATE_DEV_VARS: path.join(scratch, "absent.vars") };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  let command = options.via === "npx" ? "npx" : BIN;
  let argv = options.via === "npx" ? ["keygate", ...args] : args;
  if (options.tty) {
    env.TERM = "xterm-256color";
    const line = `stty cols ${options.tty.columns} rows 50; ${[command, ...argv].map(quote).join(" ")}`;
    [command, argv] = ["script", ["-qefc", line, "/dev/null"]];
  }
  const child = spawn(command, argv, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      // npm's own remarks about the machine's npm config are not keygate's output.
      if (options.via === "npx") stderr = stderr.replace(/^npm warn .*\n/gm, "");
      if (options.tty) stdout = stdout.replaceAll("\r\n", "\n");
      const run = { code, stdout, stderr };
      runs.push(run);
      resolve(run);
    });
  });
}

/** The run succeeded; its stdout parsed as JSON. */
export function jsonOf<T>(run: Run): T {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as T;
}

/** Exit 2 with commander's error (and its "Did you mean" line, if any) and the hint naming the command's help. */
export function expectUsageError(run: Run, message: RegExp | string, command: string) {
  expect(run.code, run.stdout + run.stderr).toBe(2);
  expect(run.stdout).toBe("");
  const lines = run.stderr.trimEnd().split("\n");
  const error = lines.slice(0, -1).join("\n");
  expect(lines.length, run.stderr).toBeLessThanOrEqual(3);
  expect(error).toMatch(/^error: /);
  if (lines.length === 3) expect(lines[1]).toMatch(/^\(Did you mean .+\?\)$/);
  if (typeof message === "string") expect(error).toContain(message);
  else expect(error).toMatch(message);
  expect(lines.at(-1)).toBe(`(run \`${command} --help\` for usage)`);
}

/** Exit 1 with the problem's title (and code), its detail, and the request id, on stderr only. */
export function expectRefused(run: Run, title: string, status: number, code: string, detail: RegExp | string) {
  expect(run.code, run.stdout + run.stderr).toBe(1);
  expect(run.stdout).toBe("");
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines[0]).toBe(`Error: ${title} (${status} ${code})`);
  if (typeof detail === "string") expect(lines[1]).toContain(detail);
  else expect(lines[1]).toMatch(detail);
  expect(lines.at(-1)).toMatch(/^Request id: req_[0-9a-f]{32}$/);
}

export interface TestGateway {
  url: string;
  token: string;
  /** the test origin (test/support/origin.ts): echo, SQL API stand-in, webhook receivers */
  origin: string;
  /** a message on the gateway's EVENTS queue, as its admission objects send them */
  enqueue(message: unknown): Promise<void>;
  /** KEYGATE_URL and KEYGATE_ADMIN_TOKEN for this gateway */
  env: Record<string, string>;
  /** a request to the admin API, as the CLI's answers are compared with */
  api: AdminApi;
  /** what the SQL API stand-in answers next, and what it was asked */
  sqlAnswers(rows: unknown[]): Promise<void>;
  sqlQueries(): Promise<{ sql: string }[]>;
  stop(): Promise<void>;
}

export async function startTestGateway(vars: Record<string, string> = {}): Promise<TestGateway> {
  const scriptPath = await buildWorker();
  const origin = await startOrigin();
  const originUrl = `http://127.0.0.1:${portOf(origin)}`;
  const gateway = await startLocalGateway({
    scriptPath,
    vars: { UPSTREAM_URL: originUrl, USAGE_SQL_URL: `${originUrl}/ae-sql`, CF_API_TOKEN: "test-analytics-token", ...vars },
  });
  const post = (url: string, body: unknown) => fetch(url, { method: "POST", body: JSON.stringify(body) });
  return {
    url: gateway.url,
    token: gateway.adminToken,
    origin: originUrl,
    enqueue: (message) => gateway.enqueue(message),
    env: { KEYGATE_URL: gateway.url, KEYGATE_ADMIN_TOKEN: gateway.adminToken },
    api: adminApi(gateway.url, gateway.adminToken),
    sqlAnswers: async (rows) => void (await post(`${originUrl}/ae-sql/fixture`, { rows })),
    sqlQueries: async () => (await fetch(`${originUrl}/ae-sql/log`)).json(),
    async stop() {
      await gateway.dispose();
      origin.closeAllConnections();
      await new Promise((resolve) => origin.close(resolve));
      await removeBuild(scriptPath);
    },
  };
}

/**
 * A gateway for the calling test file: started before its tests, stopped after them, when
 * the file also checks that no run of the CLI ever printed the admin token.
 */
export function useTestGateway(vars: Record<string, string> = {}): TestGateway {
  let started: TestGateway | undefined;
  const current = () => {
    if (!started) throw new Error("the test gateway starts in beforeAll");
    return started;
  };
  beforeAll(async () => {
    mkdirSync(scratch, { recursive: true });
    started = await startTestGateway(vars);
  });
  afterAll(async () => {
    if (started) expect(allOutput()).not.toContain(started.token);
    await started?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });
  return {
    get url() {
      return current().url;
    },
    get token() {
      return current().token;
    },
    get origin() {
      return current().origin;
    },
    enqueue: (message) => current().enqueue(message),
    get env() {
      return current().env;
    },
    api: (pathAndQuery, init) => current().api(pathAndQuery, init),
    sqlAnswers: (rows) => current().sqlAnswers(rows),
    sqlQueries: () => current().sqlQueries(),
    stop: () => current().stop(),
  };
}

/** A loopback port nothing listens on. */
export const closedPort = freePort;

let owners = 0;
export const uniqueOwner = (label = "acct") => `${label}_${Date.now().toString(36)}_${++owners}`;

export const KEY_PATTERN = /\bkg_(live|test)_[0-9A-Za-z]{49}\b/;
export const ID_PATTERN = /\bkey_[0-9A-HJKMNP-TV-Z]{26}\b/;

/** Lines of human output are at most this wide when stdout is not a terminal. */
export function expectFits(text: string, width = 80) {
  for (const line of text.split("\n")) expect([...line].length, line).toBeLessThanOrEqual(width);
}
