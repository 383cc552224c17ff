/** `--limit`, `--all` and `--cursor` for the listing commands, which follow the API's cursors. */
import { Command, Option } from "commander";
import { collectPages } from "../client/index.ts";
import { integer } from "./options.ts";
import type { Context } from "./context.ts";

const PAGE_SIZE = 100; // the admin API's largest page
const DEFAULT_LIMIT = 50;

export function withPaging(command: Command, items: string): Command {
  return command
    .addOption(new Option("--limit <n>", `show at most this many ${items} (default ${DEFAULT_LIMIT})`).argParser(integer(1)).conflicts("all"))
    .option("--all", `follow the pages to the last of the ${items}`)
    .option("--cursor <cursor>", "start after a page that ended with this nextCursor (from --json)");
}

/**
 * The items the options ask for, in the API's shape ({ data, nextCursor }); with --json that
 * is printed as is. Otherwise `render` shows them, and a note says when more are left.
 */
export async function listPages<T>(
  ctx: Context,
  options: { limit?: number; all?: boolean; cursor?: string },
  items: string,
  fetchPage: (page: { limit: number; cursor?: string }) => Promise<{ data: T[]; nextCursor: string | null }>,
  render: (data: T[]) => void,
): Promise<void> {
  const page = await collectPages(fetchPage, {
    limit: options.all ? Infinity : (options.limit ?? DEFAULT_LIMIT),
    pageSize: PAGE_SIZE,
    cursor: options.cursor,
  });
  if (ctx.json) return ctx.out.json(page);
  if (page.data.length === 0) return ctx.out.note(`No ${items} match.`);
  render(page.data);
  if (page.nextCursor) ctx.out.note(`More ${items} than these ${page.data.length}: --limit N or --all shows them.`);
}
