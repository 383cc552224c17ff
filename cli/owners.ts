/** `keygate owners ...`: the operator's customers, their plan and what all their keys share. */
import { Command, Option } from "commander";
import type { Owner, OwnerListItem, UpdateOwnerInput } from "../client/index.ts";
import { balanceText, count, creditsText, limitStateText, rateLimitsText, relativeTime, whenExactly } from "../client/format.ts";
import { creditsChange, integer, jsonObject, ratelimit, refill, repeatable, setOrCleared } from "./options.ts";
import { listPages, withPaging } from "./paging.ts";
import type { Context, ContextFor } from "./context.ts";

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((line) => `  $ ${line}`).join("\n")}`;

export function ownerFields(owner: Owner, now = Date.now()): [string, string][] {
  const limits = owner.limits.map((l) => limitStateText({ ...l, name: l.name.replace(/^owner\./, "") }, now)).join("; ");
  const fromPlan = owner.plan ? "none: the plan's apply" : "none";
  return [
    ["ID", owner.id],
    ["Name", owner.name ?? ""],
    ["Plan", owner.plan ?? "none"],
    ["Keys", `${count(owner.keys)} usable`],
    ["Shared limits", limits || "none"],
    ["Balance", balanceText(owner.balance, now)],
    ["Own rate limits", owner.ratelimits ? (owner.ratelimits.length ? rateLimitsText(owner.ratelimits) : "none shared (the plan's do not apply)") : fromPlan],
    ["Own credits", owner.credits ? creditsText(owner.credits) : fromPlan],
    ["Metadata", JSON.stringify(owner.metadata)],
    ["Created", whenExactly(owner.createdAt, now)],
    ["Updated", relativeTime(owner.updatedAt, now)],
    ["Version", String(owner.version)],
  ];
}

function show(ctx: Context, owner: Owner, headline?: string) {
  if (ctx.json) return ctx.out.json(owner);
  if (headline) ctx.out.heading(headline);
  ctx.out.fields(ownerFields(owner));
}

function list(contextFor: ContextFor) {
  const command = new Command("list")
    .description("List owners in id order, with their usable keys and requests of the last 24 hours")
    .option("--plan <plan>", "only owners on this plan")
    .option("--search <text>", "only owners whose id or name holds this text");
  return withPaging(command, "owners")
    .addHelpText("after", examples("keygate owners list --plan pro", "keygate owners list --search acme --all --json"))
    .action(async (options, command: Command) => {
      const ctx = contextFor(command);
      const query = { plan: options.plan, q: options.search };
      await listPages(ctx, options, "owners", (page) => ctx.client.owners.list({ ...query, ...page }), (owners) =>
        ctx.out.table<OwnerListItem>(
          [
            { header: "ID", value: (o) => o.id, min: 8 },
            { header: "NAME", value: (o) => o.name ?? "", min: 8 },
            { header: "PLAN", value: (o) => o.plan ?? "", min: 6 },
            { header: "KEYS", value: (o) => count(o.keys), align: "right" },
            { header: "REQUESTS 24H", value: (o) => count(o.requests24h), align: "right" },
          ],
          owners,
        ),
      );
    });
}

function get(contextFor: ContextFor) {
  return new Command("get")
    .description("Show one owner: its plan, what its keys share and what is left of it")
    .argument("<id>", "the owner's id, e.g. acct_42")
    .addHelpText("after", examples("keygate owners get acct_42"))
    .action(async (id: string, _options, command: Command) => {
      const ctx = contextFor(command);
      show(ctx, await ctx.client.owners.get(id));
    });
}

function update(contextFor: ContextFor) {
  const clear = (flag: string, what: string, replaces: string) => new Option(`--clear-${flag}`, what).conflicts(replaces);
  return new Command("update")
    .description("Change an owner (role operator); in force on the next request of every key of the owner")
    .argument("<id>", "the owner's id")
    .option("--name <name>", "a new name (1-100 characters)")
    .addOption(clear("name", "remove the name", "name"))
    .option("--plan <plan>", "put the owner on this plan")
    .addOption(clear("plan", "take the owner off its plan", "plan"))
    .option("--ratelimit <spec>", "limits all the owner's keys share from now on, NAME=LIMIT/WINDOWSECONDS (repeat; replaces the plan's)", repeatable(ratelimit))
    .addOption(clear("ratelimits", "no limits of the owner's own: the plan's shared limits apply", "ratelimit"))
    .option("--credits <n>", "set the shared balance to this; the refill stays as it is", integer(0))
    .option("--refill <spec>", "with --credits: refill to AMOUNT daily or monthly from now on, e.g. 1000/monthly", refill)
    .addOption(clear("refill", "with --credits: no refill from now on", "refill"))
    .addOption(clear("credits", "no balance of the owner's own: the plan's shared balance applies, if any", "credits"))
    .option("--meta <json>", "the metadata from now on, a JSON object (replaces it), forwarded as X-Keygate-Owner-Metadata", jsonObject)
    .addHelpText(
      "after",
      examples(
        "keygate owners update acct_42 --plan pro",
        'keygate owners update acct_42 --name "Acme Inc." --ratelimit day=50000/86400',
        "keygate owners update acct_42 --credits 5000        # the refill stays",
        "keygate owners update acct_42 --clear-plan --clear-ratelimits",
      ),
    )
    .action(async (id: string, options, command: Command) => {
      const body: UpdateOwnerInput = {
        name: setOrCleared(options.name, options.clearName, null),
        plan: setOrCleared(options.plan, options.clearPlan, null),
        ratelimits: setOrCleared(options.ratelimit, options.clearRatelimits, null),
        credits: setOrCleared(creditsChange(command, options), options.clearCredits, null),
        metadata: options.meta,
      };
      if (Object.values(body).every((value) => value === undefined)) {
        command.error("error: nothing to change: give at least one option, e.g. --plan or --credits.", { exitCode: 2 });
      }
      const ctx = contextFor(command);
      const owner = await ctx.client.owners.update(id, body);
      show(ctx, owner, `Updated ${owner.id} (version ${owner.version}).`);
    });
}

export function ownersCommand(contextFor: ContextFor): Command {
  return new Command("owners")
    .description("Owners: your customers, their plan and the limits and balance their keys share")
    .addCommand(list(contextFor))
    .addCommand(get(contextFor))
    .addCommand(update(contextFor))
    .addHelpText("after", examples("keygate owners list --plan pro", "keygate owners update acct_42 --plan pro"));
}
