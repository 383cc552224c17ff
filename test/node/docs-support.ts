/**
 * Runs the code examples of keygate's Markdown (README.md, docs/**) against a real local
 * gateway, as docs/guides/README.md ("How the guides are tested") describes: the examples are
 * read from the Markdown itself, so a guide that drifts from the code fails the suite.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { assertionJwk, startLocalGateway, type LocalGateway } from "../../scripts/local-gateway.ts";
import { freePort } from "../support/net.ts";
import { generateAdminToken } from "../../scripts/dev-vars.mjs";

export const ROOT = path.resolve(import.meta.dirname, "../..");
const PYTHON = "/usr/bin/python3";

/** The ports the examples are written against: `npm run dev`'s gateway and demo origin. */
export const DEV_GATEWAY_PORT = 8787;
export const DEV_DEMO_PORT = 8788;

export type Language = "sh" | "js" | "python";
const LANGUAGES: Record<string, Language> = { sh: "sh", bash: "sh", js: "js", javascript: "js", python: "python", py: "python" };

/** A fenced block of a Markdown file. */
export interface Fence {
  /** 1-based line of the opening fence */
  line: number;
  info: string;
  code: string;
  /** the `<!-- not run: REASON -->` comment on the line before the fence: its reason ("" when it gives none) */
  notRun: string | null;
}

/** A block the runner runs (or, with `notRun`, lists and leaves alone). */
export interface Example extends Fence {
  language: Language;
  /** "run": runs and must exit 0; "server": started in the background; "gateway": restarts the gateway with its `--var`s */
  role: "run" | "server" | "gateway";
  /** the following `text output` block: what the example prints */
  expected: string | null;
}

const OPEN = /^(\s*)(`{3,}|~{3,})(.*)$/;

/** Every fenced block, including fences indented inside list items. */
export function fences(markdown: string): Fence[] {
  const lines = markdown.split("\n");
  const found: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = OPEN.exec(lines[i]);
    if (!open || (open[2].startsWith("`") && open[3].includes("`"))) continue;
    const [, indent, marker, info] = open;
    const close = new RegExp(`^\\s*${marker[0] === "`" ? "`" : "~"}{${marker.length},}\\s*$`);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !close.test(lines[j]); j++) {
      const line = lines[j];
      const strip = Math.min(indent.length, line.length - line.trimStart().length);
      body.push(line.slice(strip));
    }
    const comment = /^<!--\s*not run(?:\s*:\s*(.*?))?\s*-->$/.exec(lines[i - 1]?.trim() ?? "");
    found.push({ line: i + 1, info: info.trim(), code: body.join("\n") + "\n", notRun: comment ? (comment[1] ?? "").trim() : null });
    i = j;
  }
  return found;
}

/** The runnable blocks of a Markdown file, each with the `text output` that follows it, if any. */
export function examples(markdown: string): Example[] {
  const all = fences(markdown);
  const lines = markdown.split("\n");
  const found: Example[] = [];
  all.forEach((fence, index) => {
    const [first, ...rest] = fence.info.split(/\s+/);
    const language = LANGUAGES[first?.toLowerCase() ?? ""];
    if (!language) return;
    const tag = rest.join(" ");
    const role = tag === "" ? "run" : tag === "server" && language !== "sh" ? "server" : tag === "gateway" && language === "sh" ? "gateway" : null;
    if (!role) throw new Error(`line ${fence.line}: \`${fence.info}\` is no kind of example the runner knows (docs/guides/README.md)`);
    const next = all[index + 1];
    const closing = fence.line + fence.code.split("\n").length; // the closing fence's line (1-based)
    const between = next ? lines.slice(closing, next.line - 1) : [];
    const adjacent = next?.info === "text output" && between.every((line) => line.trim() === "");
    found.push({ ...fence, language, role, expected: adjacent ? next.code : null });
  });
  return found;
}

/** README.md and every Markdown file under docs/, in a stable order. */
export function markdownFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) return walk(rel);
      return entry.name.endsWith(".md") ? [rel] : [];
    });
  return ["README.md", ...walk("docs").sort()];
}

/** `…` in expected output matches any run of characters within a line. */
export function matchesExpected(actual: string, expected: string): boolean {
  const tidy = (text: string) =>
    text
      .split("\n")
      .map((line) => line.trimEnd())
      .join("\n")
      .replace(/\n+$/, "");
  const pattern = tidy(expected)
    .split("…")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^\\n]*?");
  return new RegExp(`^${pattern}$`).test(tidy(actual));
}

/** The `PORT` default a server example names: `process.env.PORT ?? 3000`, `os.environ.get("PORT", "8000")`. */
export function defaultPort(code: string): number | null {
  const match = /\bPORT\b[^\n]*?\b(\d{2,5})\b/.exec(code);
  return match ? Number(match[1]) : null;
}

/** The top-level modules a Python example imports. */
export function pythonImports(code: string): string[] {
  const names = new Set<string>();
  for (const [, list] of code.matchAll(/^\s*import\s+([\w.]+(?:\s*,\s*[\w.]+)*)/gm)) for (const name of list.split(",")) names.add(name.trim().split(".")[0]);
  for (const [, name] of code.matchAll(/^\s*from\s+([\w.]+)\s+import\b/gm)) names.add(name.split(".")[0]);
  return [...names].filter(Boolean);
}

const pythonHas = new Map<string, boolean>();
/** What /usr/bin/python3 lacks of these modules ("/usr/bin/python3" itself when it is missing). */
export function pythonLacks(modules: string[]): string[] {
  if (!existsSync(PYTHON)) return [PYTHON];
  return modules.filter((name) => {
    if (!pythonHas.has(name)) {
      let found = true;
      try {
        execFileSync(PYTHON, ["-c", `import ${name}`], { stdio: "ignore" });
      } catch {
        found = false;
      }
      pythonHas.set(name, found);
    }
    return !pythonHas.get(name);
  });
}

/** wrangler.toml's [vars], as `npm run dev` gives them to the gateway. */
export function wranglerVars(): Record<string, string> {
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const section = /^\[vars\]\n([\s\S]*?)(?=^\[)/m.exec(toml)?.[1] ?? "";
  const vars: Record<string, string> = {};
  for (const [, name, double, single] of section.matchAll(/^([A-Z_]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/gm)) vars[name] = double ?? single;
  return vars;
}

async function accepting(port: number, within: number, alive: () => boolean): Promise<boolean> {
  const until = Date.now() + within;
  while (Date.now() < until && alive()) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** What running one Markdown file did. */
export interface FileRun {
  ran: number;
  /** the line printed for examples skipped for a missing toolchain, or null */
  skipped: string | null;
  /** what the demo origin logged (as `npm run dev` prints it) */
  demoLog: string;
}

export class ExampleFailure extends Error {}

/**
 * Runs the examples of one Markdown file in order in one bash session, against its own fresh
 * gateway and demo origin, in a scratch directory that stands for the repository.
 */
export async function runFile(file: string, scriptPath: string, options: { ci?: boolean } = {}): Promise<FileRun> {
  const all = examples(readFileSync(path.join(ROOT, file), "utf8"));
  const runnable = all.filter((example) => example.notRun === null);
  const result: FileRun = { ran: 0, skipped: null, demoLog: "" };
  if (runnable.length === 0) return result;

  // The scratch directory: every entry of the repository linked in, but its own .dev.vars (and no
  // local state), so `grep '^ADMIN_TOKEN=' .dev.vars`, `npx keygate` and `node scripts/…` work as in a clone.
  const dir = mkdtempSync(path.join(os.tmpdir(), "keygate-docs-"));
  for (const entry of readdirSync(ROOT)) {
    if ([".dev.vars", ".wrangler", ".git"].includes(entry)) continue;
    symlinkSync(path.join(ROOT, entry), path.join(dir, entry));
  }
  const bin = path.join(dir, ".docs-bin");
  mkdirSync(bin);
  if (existsSync(PYTHON)) symlinkSync(PYTHON, path.join(bin, "python3"));

  /** what stops the demo origin and the servers the examples started, in the order they started */
  const stops: (() => void)[] = [];
  let gateway: LocalGateway | null = null;
  let bash: ChildProcess | null = null;
  try {
    // Ports: the gateway, the demo origin, and one for each server example, by the default it names.
    const [gatewayPort, demoPort] = [await freePort(), await freePort()];
    const ports = new Map<number, number>([
      [DEV_GATEWAY_PORT, gatewayPort],
      [DEV_DEMO_PORT, demoPort],
    ]);
    for (const example of runnable.filter((e) => e.role === "server")) {
      const port = defaultPort(example.code);
      if (port === null) throw new ExampleFailure(`${file}:${example.line}: a server example must read PORT with a default (process.env.PORT ?? 3000)`);
      if (ports.has(port)) throw new ExampleFailure(`${file}:${example.line}: port ${port} is taken by another example of this file`);
      ports.set(port, await freePort());
    }
    const forward = (text: string) =>
      text.replace(/\b(127\.0\.0\.1|localhost):(\d{2,5})(?!\d)/g, (all, host: string, port: string) =>
        ports.has(Number(port)) ? `${host}:${ports.get(Number(port))}` : all,
      );
    const back = new Map([...ports].map(([dev, actual]) => [actual, dev]));
    const backward = (text: string) =>
      text.replace(/\b(127\.0\.0\.1|localhost):(\d{2,5})(?!\d)/g, (all, host: string, port: string) =>
        back.has(Number(port)) ? `${host}:${back.get(Number(port))}` : all,
      );

    // The demo origin, as `npm run dev` starts it; its log is what the dev terminal would show.
    const demo = spawn(process.execPath, ["scripts/demo-origin.mjs", String(demoPort)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    stops.push(() => demo.kill("SIGTERM"));
    demo.stdout?.on("data", (chunk) => (result.demoLog += chunk));
    demo.stderr?.on("data", (chunk) => (result.demoLog += chunk));
    if (!(await accepting(demoPort, 15_000, () => demo.exitCode === null))) throw new Error(`the demo origin did not start: ${result.demoLog}`);

    const token = generateAdminToken(); // as npm run dev makes one
    const assertionKey = assertionJwk("dev");
    const baseVars = { ...wranglerVars(), UPSTREAM_URL: `http://127.0.0.1:${demoPort}`, ASSERTION_PRIVATE_KEY: assertionKey, ADMIN_TOKEN: token };
    gateway = await startLocalGateway({ scriptPath, port: gatewayPort, vars: baseVars });
    writeFileSync(path.join(dir, ".dev.vars"), `ADMIN_TOKEN=${token}\nASSERTION_PRIVATE_KEY=${assertionKey}\n`);

    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith("KEYGATE_") && !["NO_COLOR", "FORCE_COLOR", "ADMIN_TOKEN"].includes(name)),
    );
    Object.assign(env, {
      PATH: `${bin}${path.delimiter}${process.env.PATH}`,
      ADMIN_TOKEN: token,
      KEYGATE_URL: gateway.url,
      KEYGATE_DEV_VARS: path.join(dir, ".dev.vars"),
      WRANGLER_SEND_METRICS: "false",
    });
    const session = spawn(
      "bash",
      [
        "--noprofile",
        "--norc",
        "-c",
        [
          "exec 3<&0 </dev/null",
          '__kg_sh() { set -eo pipefail; source "$1" >"$2" 2>"$3"; set +eo pipefail; }',
          'while IFS= read -r -u 3 __kg_line; do eval "$__kg_line"; echo "__kg_done $?"; done',
        ].join("\n"),
      ],
      { cwd: dir, env, stdio: ["pipe", "pipe", "pipe"] },
    );
    bash = session;
    let said = "";
    let waiting: ((line: string | null) => void) | null = null;
    session.stdout?.on("data", (chunk) => {
      said += chunk;
      let newline: number;
      while ((newline = said.indexOf("\n")) >= 0) {
        const line = said.slice(0, newline);
        said = said.slice(newline + 1);
        waiting?.(line);
      }
    });
    session.once("exit", () => waiting?.(null));
    /** Runs one line in the session; its status, or null when the session ended (a failed `sh` block under `set -e`). */
    const send = (line: string, timeoutMs: number) =>
      new Promise<number | null | "timeout">((resolve) => {
        if (session.exitCode !== null) return resolve(null);
        const timer = setTimeout(() => resolve("timeout"), timeoutMs);
        waiting = (answer) => {
          const done = answer === null ? null : /^__kg_done (\d+)$/.exec(answer);
          if (answer !== null && !done) return;
          clearTimeout(timer);
          resolve(done ? Number(done[1]) : null);
        };
        session.stdin?.write(`${line}\n`);
      });
    const q = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

    for (const [index, example] of runnable.entries()) {
      const where = `${file}:${example.line}`;
      if (example.language === "python") {
        const lacks = pythonLacks(pythonImports(example.code));
        if (lacks.length > 0) {
          const rest = runnable.slice(index);
          const python = rest.filter((e) => e.language === "python").length;
          const why = lacks[0] === PYTHON ? `there is no ${PYTHON}` : `${PYTHON} lacks ${lacks.join(", ")}`;
          result.skipped = `skipped ${rest.length} examples of ${file} from line ${example.line} (${python} of them Python): ${why}; .ci/run installs ${lacks[0] === PYTHON ? "it" : lacks.length > 1 ? "them" : "it"}`;
          if (options.ci) throw new ExampleFailure(`${result.skipped} (CI skips nothing)`);
          return result;
        }
      }
      const code = forward(example.code);
      const stem = path.join(dir, `.docs-${example.line}`);
      const source = `${stem}.${example.language === "python" ? "py" : example.language}`;
      writeFileSync(source, code);
      const [out, err] = [`${stem}.out`, `${stem}.err`];

      if (example.role === "gateway") {
        const vars = gatewayVars(code, dir, where);
        await gateway.restart({ ...baseVars, ...vars });
        result.ran++;
        continue;
      }
      const runner = example.language === "js" ? "node --input-type=module" : example.language === "python" ? `${PYTHON} -` : null;
      if (example.role === "server") {
        const port = ports.get(defaultPort(example.code)!)!;
        const pidFile = `${stem}.pid`;
        const status = await send(`PORT=${port} ${runner} <${q(source)} >${q(out)} 2>&1 & echo $! >${q(pidFile)}`, 10_000);
        if (status !== 0) throw new ExampleFailure(`${where}: the server example could not be started`);
        const pid = Number(readFileSync(pidFile, "utf8"));
        const alive = () => {
          try {
            process.kill(pid, 0);
            return true;
          } catch {
            return false;
          }
        };
        stops.push(() => {
          if (alive()) process.kill(pid, "SIGTERM");
        });
        if (!(await accepting(port, 30_000, alive)))
          throw new ExampleFailure(`${where}: the server example never accepted connections on its PORT (${port}):\n${readFileSync(out, "utf8")}`);
        result.ran++;
        continue;
      }
      const line = runner ? `${runner} <${q(source)} >${q(out)} 2>${q(err)}` : `__kg_sh ${q(source)} ${q(out)} ${q(err)}`;
      const status = await send(line, 90_000);
      const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
      const printed = backward(read(out));
      if (status !== 0) {
        const what = status === "timeout" ? "did not finish within 90 s" : `exited with status ${status ?? "non-zero (the session ended)"}`;
        throw new ExampleFailure(`${where}: the ${example.language} example ${what}\n--- stdout\n${printed}--- stderr\n${backward(read(err))}`);
      }
      if (process.env.KEYGATE_DOCS_VERBOSE) console.log(`--- ${where}\n${printed}--- stderr\n${backward(read(err))}`);
      if (example.expected !== null && !matchesExpected(printed, example.expected))
        throw new ExampleFailure(`${where}: the example printed what its text output block does not say\n--- expected\n${example.expected}--- printed\n${printed}`);
      result.ran++;
    }
    return result;
  } finally {
    bash?.kill("SIGKILL");
    for (const stop of stops.reverse()) stop();
    await gateway?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The `--var NAME:VALUE` arguments of the `npm run dev -- …` command of a `sh gateway` block, read
 * by bash itself (so quoting is the shell's).
 */
export function gatewayVars(code: string, cwd: string, where: string): Record<string, string> {
  const words = execFileSync("bash", ["--noprofile", "--norc", "-c", 'npm() { printf "%s\\0" "$@"; }; eval "$1"', "_", code], { cwd, encoding: "utf8" })
    .split("\0")
    .slice(0, -1);
  const dashes = words.indexOf("--");
  if (words[0] !== "run" || words[1] !== "dev" || (dashes !== 2 && words.length > 2))
    throw new ExampleFailure(`${where}: a sh gateway block holds one \`npm run dev -- --var NAME:VALUE …\` command`);
  const vars: Record<string, string> = {};
  const args = words.slice(3);
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1] ?? ""];
    const colon = value.indexOf(":");
    if (flag !== "--var" || colon < 1) throw new ExampleFailure(`${where}: the runner restarts its gateway with --var NAME:VALUE arguments only, not ${flag}`);
    vars[value.slice(0, colon)] = value.slice(colon + 1);
  }
  return vars;
}
