/** `keygate plans ...`: the tiers an operator sells, and what changing one would do before it is done. */
import { Command, Option } from "commander";
import type { CreatePlanInput, Plan, PlanPreview, UpdatePlanInput } from "../client/index.ts";
import { count, maxKeysText, PLAN_FIELD_LABELS, planCreditsText, planFieldText, rateLimitsText, relativeTime, scopeCeilingText, whenExactly } from "../client/format.ts";
import { integer, planCredits, ratelimit, repeatable, setOrCleared, text } from "./options.ts";
import type { Context, ContextFor } from "./context.ts";

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((line) => `  $ ${line}`).join("\n")}`;

/** Limits as the flags take them, for tables: "minute=100/60 day=10000/86400". */
const limitSpecs = (limits: Plan["keyRatelimits"]) => limits.map((r) => `${r.name}=${r.limit}/${r.windowSeconds}`).join(" ");
/** A plan's balance as the flag takes it: "50000/monthly/15". */
const creditsSpec = (c: Plan["ownerCredits"]) => (c ? [c.amount, c.interval, ...(c.day ? [c.day] : [])].join("/") : "");

function pendingText(plan: Pick<Plan, "pending" | "inForceBy">, now = Date.now()): string {
  if (plan.pending === 0) return "none: the last change is in force for every owner";
  const by = plan.inForceBy ? `, in force everywhere by ${whenExactly(plan.inForceBy, now)}` : "";
  return `${count(plan.pending)} owner${plan.pending === 1 ? "" : "s"} still to take in the last change${by}`;
}

export function planFields(plan: Plan, now = Date.now()): [string, string][] {
  return [
    ["ID", plan.id],
    ["Name", plan.name],
    ["Description", plan.description ?? ""],
    ["Key rate limits", rateLimitsText(plan.keyRatelimits)],
    ["Owner rate limits", rateLimitsText(plan.ownerRatelimits)],
    ["Owner credits", planCreditsText(plan.ownerCredits)],
    ["Max keys", maxKeysText(plan.maxKeys)],
    ["Scopes", scopeCeilingText(plan.scopes)],
    ["Owners", count(plan.owners)],
    ["Pending", pendingText(plan, now)],
    ["Created", whenExactly(plan.createdAt, now)],
    ["Updated", relativeTime(plan.updatedAt, now)],
    ["Version", String(plan.version)],
  ];
}

function show(ctx: Context, plan: Plan, headline?: string) {
  if (ctx.json) return ctx.out.json(plan);
  if (headline) ctx.out.heading(headline);
  ctx.out.fields(planFields(plan));
}

function showPreview(ctx: Context, id: string, preview: PlanPreview) {
  if (ctx.json) return ctx.out.json(preview);
  const { out } = ctx;
  const changes = Object.entries(preview.changes);
  out.heading(`Preview of a change to plan ${id}; nothing was changed.`);
  out.fields([
    ["Owners touched", count(preview.owners)],
    ["Keys on plan limits", count(preview.keys)],
  ]);
  out.print("");
  if (changes.length === 0) out.print("Nothing would change: the plan already reads so.");
  else {
    out.table<[string, { from?: unknown; to?: unknown }]>(
      [
        { header: "FIELD", value: ([field]) => PLAN_FIELD_LABELS[field] ?? field },
        { header: "BEFORE", value: ([field, c]) => planFieldText(field, c.from), min: 12 },
        { header: "AFTER", value: ([field, c]) => planFieldText(field, c.to), min: 12 },
      ],
      changes,
    );
  }
  if (preview.refused.length > 0) {
    out.print("");
    out.print(out.paint.red("The change would be refused (403 SCOPE_NOT_ALLOWED):"));
    out.print("these keys hold scopes beyond the new ceiling.");
    out.table<PlanPreview["refused"][number]>(
      [
        { header: "KEY", value: (k) => k.id },
        { header: "OWNER", value: (k) => k.ownerId, min: 8 },
        { header: "BEYOND", value: (k) => k.scopes.join(" "), min: 8 },
      ],
      preview.refused,
    );
  }
}

/** The plan options create and update share. */
function planOptions(command: Command): Command {
  return command
    .option("--description <text>", "what the plan is, for people")
    .option("--key-ratelimit <spec>", "each key's own limit unless the key sets its own, NAME=LIMIT/WINDOWSECONDS (repeat for more)", repeatable(ratelimit))
    .option("--owner-ratelimit <spec>", "a limit all of an owner's keys share, NAME=LIMIT/WINDOWSECONDS (repeat for more)", repeatable(ratelimit))
    .option("--owner-credits <spec>", "each owner's shared balance, refilled: AMOUNT/daily, AMOUNT/monthly or AMOUNT/monthly/DAY", planCredits)
    .option("--max-keys <n>", "usable keys per owner (else MAX_KEYS_PER_OWNER)", integer(1, 1_000_000))
    .option("--scope <scope>", "the most a key of the plan's owners may hold (repeat for more; default: no ceiling)", repeatable(text));
}

function list(contextFor: ContextFor) {
  return new Command("list")
    .description("List plans, with how many owners each has")
    .addHelpText("after", `
Limits and credits read as the flags take them: NAME=LIMIT/WINDOWSECONDS and
AMOUNT/daily|monthly[/DAY].
${examples("keygate plans list", "keygate plans list --json")}`)
    .action(async (_options, command: Command) => {
      const ctx = contextFor(command);
      const plans = await ctx.client.plans.list();
      if (ctx.json) return ctx.out.json(plans);
      if (plans.data.length === 0) return ctx.out.note("No plans yet: keygate plans create ID --name NAME makes one.");
      // PENDING only while a change is still on its way to some plan's owners
      const pending = plans.data.some((p) => p.pending > 0);
      ctx.out.table<Plan>(
        [
          { header: "ID", value: (p) => p.id },
          { header: "NAME", value: (p) => p.name, min: 8 },
          { header: "OWNERS", value: (p) => count(p.owners), align: "right" },
          { header: "KEY LIMITS", value: (p) => limitSpecs(p.keyRatelimits), min: 16 },
          { header: "OWNER LIMITS", value: (p) => limitSpecs(p.ownerRatelimits), min: 16 },
          { header: "CREDITS", value: (p) => creditsSpec(p.ownerCredits), drop: 1 },
          ...(pending ? [{ header: "PENDING", value: (p: Plan) => (p.pending ? count(p.pending) : ""), align: "right" as const, drop: 2 }] : []),
        ],
        plans.data,
      );
    });
}

function get(contextFor: ContextFor) {
  return new Command("get")
    .description("Show one plan")
    .argument("<id>", "the plan's id, e.g. pro")
    .addHelpText("after", examples("keygate plans get pro"))
    .action(async (id: string, _options, command: Command) => {
      const ctx = contextFor(command);
      show(ctx, await ctx.client.plans.get(id));
    });
}

function create(contextFor: ContextFor) {
  const command = new Command("create")
    .description("Create a plan (role admin)")
    .argument("<id>", "the plan's id: a-z, 0-9, _ and -, at most 40 characters, e.g. pro")
    .requiredOption("--name <name>", "what people call it (1-100 characters)");
  return planOptions(command)
    .addHelpText(
      "after",
      examples(
        'keygate plans create free --name "Free" --key-ratelimit minute=60/60 \\\n      --owner-credits 1000/monthly',
        'keygate plans create pro --name "Pro" --owner-ratelimit day=10000/86400 \\\n      --max-keys 20 --scope posts:read --scope posts:write',
      ),
    )
    .action(async (id: string, options, command: Command) => {
      const ctx = contextFor(command);
      const body: CreatePlanInput = {
        id,
        name: options.name,
        description: options.description,
        keyRatelimits: options.keyRatelimit,
        ownerRatelimits: options.ownerRatelimit,
        ownerCredits: options.ownerCredits,
        maxKeys: options.maxKeys,
        scopes: options.scope,
      };
      const plan = await ctx.client.plans.create(body);
      show(ctx, plan, `Created plan ${plan.id} "${plan.name}".`);
    });
}

function update(contextFor: ContextFor) {
  const clear = (flag: string, what: string, replaces: string) => new Option(`--clear-${flag}`, what).conflicts(replaces);
  const command = new Command("update")
    .description("Change a plan (role admin); with --preview, show what would change and change nothing")
    .argument("<id>", "the plan's id")
    .option("--name <name>", "a new name");
  return planOptions(command)
    .addOption(clear("description", "remove the description", "description"))
    .addOption(clear("key-ratelimits", "no per-key limits from the plan", "keyRatelimit"))
    .addOption(clear("owner-ratelimits", "no limits shared by an owner's keys", "ownerRatelimit"))
    .addOption(clear("owner-credits", "no shared balance for the plan's owners", "ownerCredits"))
    .addOption(clear("max-keys", "owners may hold MAX_KEYS_PER_OWNER keys", "maxKeys"))
    .addOption(clear("scopes", "no scope ceiling: keys may hold any scope", "scope"))
    .option("--preview", "ask keygate what the change would do (owners and keys touched, each field before and after); change nothing")
    .addHelpText(
      "after",
      `
List flags (--key-ratelimit, --owner-ratelimit, --scope) replace the whole list.
A change in force at once prints the plan; for a plan with many owners keygate
answers that the change is pending, and by when it is in force for all of them
(at most 60 s).
${examples(
  "keygate plans update pro --owner-ratelimit day=20000/86400 --preview",
  "keygate plans update pro --owner-ratelimit day=20000/86400",
  "keygate plans update pro --clear-scopes --clear-max-keys",
)}`,
    )
    .action(async (id: string, options, command: Command) => {
      const body: UpdatePlanInput = {
        name: options.name,
        description: setOrCleared(options.description, options.clearDescription, null),
        keyRatelimits: setOrCleared(options.keyRatelimit, options.clearKeyRatelimits, []),
        ownerRatelimits: setOrCleared(options.ownerRatelimit, options.clearOwnerRatelimits, []),
        ownerCredits: setOrCleared(options.ownerCredits, options.clearOwnerCredits, null),
        maxKeys: setOrCleared(options.maxKeys, options.clearMaxKeys, null),
        scopes: setOrCleared(options.scope, options.clearScopes, null),
      };
      if (Object.values(body).every((value) => value === undefined)) {
        command.error("error: nothing to change: give at least one option, e.g. --name or --owner-ratelimit.", { exitCode: 2 });
      }
      const ctx = contextFor(command);
      if (options.preview) return showPreview(ctx, id, await ctx.client.plans.preview(id, body));
      const change = await ctx.client.plans.update(id, body);
      if (change.status === 200) return show(ctx, change.plan, `Updated plan ${change.plan.id} (version ${change.plan.version}); in force now.`);
      const { accepted } = change;
      if (ctx.json) return ctx.out.json(accepted);
      ctx.out.heading(`Changed plan ${id}; pending for some of its owners.`);
      ctx.out.fields([
        ["Owners", count(accepted.owners)],
        ["Pending", `${count(accepted.pending)} owner${accepted.pending === 1 ? "" : "s"} still to take the change in`],
        ["In force by", whenExactly(accepted.inForceBy)],
      ]);
      ctx.out.note(`keygate plans get ${id} shows Pending until it reaches none.`);
    });
}

function remove(contextFor: ContextFor) {
  return new Command("delete")
    .description("Delete a plan (role admin); refused (409 PLAN_IN_USE) while an owner is on it")
    .argument("<id>", "the plan's id")
    .addHelpText("after", examples("keygate plans delete trial"))
    .action(async (id: string, _options, command: Command) => {
      const ctx = contextFor(command);
      const result = await ctx.client.plans.delete(id);
      if (ctx.json) return ctx.out.json(result);
      ctx.out.heading(`Deleted plan ${result.id}.`);
    });
}

export function plansCommand(contextFor: ContextFor): Command {
  return new Command("plans")
    .description("Plans: the limits, credits and scope ceiling an owner's keys get")
    .addCommand(list(contextFor))
    .addCommand(get(contextFor))
    .addCommand(create(contextFor))
    .addCommand(update(contextFor))
    .addCommand(remove(contextFor))
    .addHelpText("after", examples("keygate plans create pro --name Pro --owner-ratelimit day=10000/86400", "keygate plans update pro --max-keys 20 --preview"));
}
