/**
 * `keygate keys import FILE.jsonl [--dry-run]`: keys from elsewhere, one item a line (the fields
 * of a create and exactly one of `key` and `hash`), sent in calls of at most 1,000 items. Lines
 * that are not a JSON object are reported with their number and never sent. Running the same
 * file again resumes it: what landed before is reported as `exists`.
 */
import { createReadStream, statSync } from "node:fs";
import { basename } from "node:path";
import { createInterface } from "node:readline";
import { Command } from "commander";
import type { ImportKeysInput, ImportResult } from "../client/index.ts";
import { KeygateError } from "../client/index.ts";
import { count } from "../client/format.ts";
import { printable } from "./output/printable.ts";
import type { Context, ContextFor } from "./context.ts";

/** Items per call: the most POST /admin/keys/import takes. */
export const ITEMS_PER_CALL = 1000;
/** Bytes of items per call: under the 1 MiB an import's body may be, with room for the envelope. */
export const BYTES_PER_CALL = 1_000_000;

type Item = ImportKeysInput["keys"][number];

/** One line's outcome: the API's result for it (with the line instead of the call's index), or why it was never sent. */
export interface LineResult {
  line: number;
  status: ImportResult["status"] | "malformed";
  id?: string;
  problem?: { code: string; title: string; detail: string; issues?: { path: string; message: string }[] };
}

type Tally = Record<LineResult["status"], number>;

class ImportIncomplete extends Error {}

/** Why a line is not an item, never quoting it: a line may hold a key. */
function malformed(line: number, detail: string): LineResult {
  return { line, status: "malformed", problem: { code: "MALFORMED_LINE", title: "Malformed line", detail } };
}

function parseLine(text: string, line: number): { item: Item; bytes: number } | LineResult {
  const bytes = Buffer.byteLength(text);
  if (bytes > BYTES_PER_CALL) return malformed(line, `the line is ${count(bytes)} bytes, more than one call may carry (${count(BYTES_PER_CALL)})`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const at = /position (\d+)/.exec(String((err as Error).message))?.[1];
    return malformed(line, `not valid JSON${at === undefined ? "" : ` (near character ${at})`}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return malformed(line, "not a JSON object: each line is one item, an object");
  return { item: value as Item, bytes };
}

export function importCommand(contextFor: ContextFor): Command {
  return new Command("import")
    .description("Import keys from elsewhere: a JSON Lines file, one item a line (the fields of a create, and key or hash)")
    .argument("<file>", "the .jsonl file")
    .option("--dry-run", "check every line as the import would, and write nothing")
    .addHelpText(
      "after",
      `
Each line is one JSON object: the fields of \`keys create\` as the API names them (name, ownerId,
scopes, ratelimits, credits, ...) and exactly one of key (the key itself) or hash
("sha256:<64 hex>" or "sha256-base64:<base64>"). A key not in keygate's format needs its prefix
in the gateway's IMPORTED_KEY_PREFIXES. Running the same file again resumes it: keys already
imported are reported as exists. Exits 1 when any line was not imported.

Examples:
  $ keygate keys import legacy-keys.jsonl --dry-run
  $ keygate keys import legacy-keys.jsonl
  $ echo '{"name":"Acme","ownerId":"acct_42","key":"sk_live_51HbXs2eZvKYlo2C0a9sDf8gH"}' > one.jsonl`,
    )
    .action(async (file: string, options: { dryRun?: boolean }, command: Command) => {
      const ctx = contextFor(command);
      let size: number;
      try {
        const stat = statSync(file);
        if (!stat.isFile()) throw new Error("not a file");
        size = stat.size;
      } catch {
        command.error(`error: cannot read ${file}: give the path of a .jsonl file.`, { exitCode: 2 });
      }
      const results = await importFile(ctx, file, size, options.dryRun === true);
      report(ctx, file, results, options.dryRun === true);
    });
}

async function importFile(ctx: Context, file: string, size: number, dryRun: boolean): Promise<LineResult[]> {
  const results: LineResult[] = [];
  const tally: Tally = { created: 0, exists: 0, invalid: 0, malformed: 0 };
  const input = createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let batch: { item: Item; line: number }[] = [];
  let bytes = 0;
  let calls = 0;
  let lineNo = 0;

  const progress = (done: boolean) => {
    const read = size === 0 ? 1 : Math.min(1, input.bytesRead / size);
    const sent = tally.created + tally.exists + tally.invalid;
    const counts = `${count(tally.created)} ${dryRun ? "would be created" : "created"}, ${count(tally.exists)} exist, ${count(tally.invalid + tally.malformed)} not imported`;
    if (ctx.out.errIsTerminal) {
      const width = 24;
      const filled = Math.round(read * width);
      ctx.out.progress(`[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${Math.round(read * 100)}%  ${count(sent)} sent: ${counts}`);
      if (done) ctx.out.progress(null);
    } else if (!done) {
      ctx.out.note(`${count(sent)} items sent (${Math.round(read * 100)}% of ${file}): ${counts}`);
    }
  };

  const send = async () => {
    if (batch.length === 0) return;
    const sending = batch;
    batch = [];
    bytes = 0;
    let answer;
    try {
      answer = await ctx.client.keys.import({ dryRun, keys: sending.map((b) => b.item) });
    } catch (err) {
      if (ctx.out.errIsTerminal) ctx.out.progress(null);
      if (err instanceof KeygateError) {
        const done = tally.created + tally.exists + tally.invalid;
        ctx.out.error(`Stopped at line ${count(sending[0].line)}: the lines before it were answered (${count(done)} sent), none after it was sent.`);
        ctx.out.error("Run the same command again to resume: keys already imported are reported as exists.");
      }
      throw err;
    }
    for (const result of answer.results) {
      const { index, ...rest } = result;
      results.push({ line: sending[index].line, ...rest });
      tally[result.status]++;
    }
    calls++;
  };

  for await (const text of lines) {
    lineNo++;
    if (text.trim() === "") continue;
    const parsed = parseLine(text, lineNo);
    if ("status" in parsed) {
      results.push(parsed);
      tally.malformed++;
      continue;
    }
    if (batch.length >= ITEMS_PER_CALL || (batch.length > 0 && bytes + parsed.bytes + 1 > BYTES_PER_CALL)) {
      await send();
      progress(false);
    }
    batch.push({ item: parsed.item, line: lineNo });
    bytes += parsed.bytes + 1;
  }
  const several = calls > 0;
  await send();
  if (several) progress(true);
  return results.sort((a, b) => a.line - b.line);
}

function report(ctx: Context, file: string, results: LineResult[], dryRun: boolean): void {
  const tally: Tally = { created: 0, exists: 0, invalid: 0, malformed: 0 };
  for (const r of results) tally[r.status]++;
  const failed = tally.invalid + tally.malformed;
  if (ctx.json) {
    ctx.out.json({ dryRun, summary: tally, results });
  } else {
    const { out } = ctx;
    const name = basename(file);
    out.heading(dryRun ? `Dry run (nothing was written) of ${name}:` : `Imported ${name}:`);
    out.table(
      [
        { header: "STATUS", value: (row: [string, number]) => row[0] },
        { header: "LINES", value: (row: [string, number]) => count(row[1]), align: "right" },
      ],
      [
        [dryRun ? "would be created" : "created", tally.created],
        ["exists", tally.exists],
        ["invalid", tally.invalid],
        ["malformed", tally.malformed],
      ],
    );
    const problems = results.filter((r) => r.problem);
    if (problems.length > 0) {
      out.print("");
      out.print(out.paint.bold("Not imported:"));
      for (const r of problems) out.print(printable(`line ${r.line}: ${r.status} (${r.problem!.code}) ${r.problem!.detail}`));
    }
  }
  if (failed > 0) {
    throw new ImportIncomplete(
      `${count(failed)} of ${count(results.length)} lines were not imported${dryRun ? " (dry run)" : ""}: fix them and run the same command again (keys already imported are then reported as exists).`,
    );
  }
}
