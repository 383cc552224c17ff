/** `keygate usage`: requests across keys, grouped by key, route, status, owner or plan. */
import { Command, Option } from "commander";
import { isoTime } from "./options.ts";
import { utcMinute } from "../client/format.ts";
import type { ContextFor } from "./context.ts";
import { countColumns, USAGE_COLUMNS_HELP } from "./views.ts";

export function usageCommand(contextFor: ContextFor): Command {
  return new Command("usage")
    .description("Requests across keys over a period, grouped by key, route, status, owner or plan")
    .option("--owner <owner>", "only this owner's keys: how much one customer used")
    .addOption(new Option("--group-by <group>", "one row per key, route, HTTP status, owner or the owner's plan (default key)").choices(["key", "route", "status", "owner", "plan"]))
    .option("--from <iso>", "start (default: 30 days ago)", isoTime)
    .option("--to <iso>", "end (default: now)", isoTime)
    .addHelpText(
      "after",
      `${USAGE_COLUMNS_HELP}

Examples:
  $ keygate usage --owner acct_42
  $ keygate usage --group-by route --from 2026-11-01T00:00:00Z
  $ keygate usage --group-by plan`,
    )
    .action(async (options, command: Command) => {
      const ctx = contextFor(command);
      const usage = await ctx.client.usage({ ownerId: options.owner, groupBy: options.groupBy, from: options.from, to: options.to });
      if (ctx.json) return ctx.out.json(usage);
      const owner = usage.ownerId === null ? "" : ` for ${usage.ownerId}`;
      ctx.out.heading(`By ${usage.groupBy}${owner}, ${utcMinute(usage.from)} to ${utcMinute(usage.to)} UTC`);
      const rows = [...usage.data, { ...usage.totals, group: "total" }];
      const first = { header: usage.groupBy.toUpperCase(), value: (r: (typeof rows)[number]) => r.group || "(none)", min: 12 };
      ctx.out.table(countColumns(first), rows);
    });
}
