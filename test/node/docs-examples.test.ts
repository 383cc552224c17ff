import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorker, removeBuild } from "../../scripts/local-gateway.ts";
import { examples, fences, markdownFiles, matchesExpected, ROOT, runFile } from "./docs-support.ts";

/**
 * Every code example of README.md and docs/ runs, in order, against its own local gateway; what
 * a `text output` block says it prints, it prints (docs/guides/README.md, "How the guides are
 * tested"). One test per Markdown file, so a failure names the file and the example's line.
 */
const files = markdownFiles();
let scriptPath: string;

beforeAll(async () => {
  scriptPath = await buildWorker();
}, 180_000);

afterAll(async () => {
  if (scriptPath) await removeBuild(scriptPath);
});

describe("the examples", () => {
  for (const file of files) {
    it(file, async () => {
      const run = await runFile(file, scriptPath, { ci: Boolean(process.env.CI) });
      if (run.skipped) console.warn(run.skipped);
      const runnable = examples(readFileSync(path.join(ROOT, file), "utf8")).filter((example) => example.notRun === null);
      if (!run.skipped) expect(run.ran, `${file}: examples run`).toBe(runnable.length);
    }, 240_000);
  }
});

describe("the Markdown", () => {
  it("has examples in every guide and in the README", () => {
    const guides = files.filter((file) => (file.startsWith("docs/guides/") && file !== "docs/guides/README.md") || file === "README.md");
    expect(guides).toContain("docs/guides/consumers.md");
    for (const file of guides) {
      const runnable = examples(readFileSync(path.join(ROOT, file), "utf8")).filter((example) => example.notRun === null);
      expect(runnable.length, `${file}: runnable examples`).toBeGreaterThan(0);
    }
  });

  it("gives a reason for every example it does not run", () => {
    const notRun = files.flatMap((file) =>
      examples(readFileSync(path.join(ROOT, file), "utf8"))
        .filter((example) => example.notRun !== null)
        .map((example) => ({ where: `${file}:${example.line}`, reason: example.notRun })),
    );
    console.info(`examples not run:\n${notRun.map(({ where, reason }) => `  ${where}: ${reason}`).join("\n")}`);
    for (const { where, reason } of notRun) expect(reason, `${where}: <!-- not run: REASON --> needs its reason`).not.toBe("");
  });

  it("reads fences inside list items, text output blocks and not-run comments", () => {
    const markdown = [
      "1. Call it:",
      "",
      "   ```sh",
      "   curl -s http://127.0.0.1:8787/healthz",
      "   ```",
      "",
      "   ```text output",
      "   {\"ok\":true}",
      "   ```",
      "<!-- not run: starts the dev server -->",
      "```bash",
      "npm run dev",
      "```",
      "```json",
      "{}",
      "```",
      "````python server",
      "PORT = int(os.environ.get(\"PORT\", \"8000\"))",
      "````",
    ].join("\n");
    expect(fences(markdown).map((fence) => fence.info)).toEqual(["sh", "text output", "bash", "json", "python server"]);
    const found = examples(markdown);
    expect(found.map(({ line, language, role, notRun }) => ({ line, language, role, notRun }))).toEqual([
      { line: 3, language: "sh", role: "run", notRun: null },
      { line: 11, language: "sh", role: "run", notRun: "starts the dev server" },
      { line: 17, language: "python", role: "server", notRun: null },
    ]);
    expect(found[0].code).toBe("curl -s http://127.0.0.1:8787/healthz\n");
    expect(found[0].expected).toBe("{\"ok\":true}\n");
    expect(found[1].expected).toBeNull();
  });

  it("matches … within a line only", () => {
    expect(matchesExpected("401 MISSING_KEY req_1234\n", "401 MISSING_KEY …")).toBe(true);
    expect(matchesExpected("401 MISSING_KEY\n403 X\n", "401 …")).toBe(false);
    expect(matchesExpected("200\n", "429")).toBe(false);
  });
});
