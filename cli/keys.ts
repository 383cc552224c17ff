/** `keygate keys ...`: create, list, get, update, revoke, rotate, verify, import and usage of keys. */
import { Command, Option } from "commander";
import { type CreatedKey, type CreateKeyInput, type KeyRecord, type UpdateKeyInput } from "../client/index.ts";
import { creditsChange, integer, isoTime, jsonObject, ratelimit, refill, repeatable, setOrCleared, text, type RefillSpec } from "./options.ts";
import { relativeTime, utcMinute } from "../client/format.ts";
import { listPages, withPaging } from "./paging.ts";
import type { Context, ContextFor } from "./context.ts";
import { importCommand } from "./import.ts";
import { countColumns, duration, keyColumns, keyFields, requestColumns, USAGE_COLUMNS_HELP, verdictFields } from "./views.ts";

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((line) => `  $ ${line}`).join("\n")}`;

/** The key, once, with the warning; in --json mode the warning goes to stderr beside the API's JSON. */
function revealKey(ctx: Context, created: CreatedKey, headlines: string[]) {
  const warning = "Save this key now: it will not be shown again.";
  if (ctx.json) {
    ctx.out.json(created);
    ctx.out.note(warning);
    return;
  }
  const { out } = ctx;
  headlines.forEach(out.heading);
  out.print("");
  out.print(out.paint.bold(created.key));
  out.print("");
  out.print(out.paint.yellow(warning));
}

function creditsFrom(command: Command, options: { credits?: number; refill?: RefillSpec }) {
  if (options.refill && options.credits === undefined) command.error("error: --refill needs --credits.", { exitCode: 2 });
  return options.credits === undefined ? undefined : { remaining: options.credits, refill: options.refill ?? null };
}

function create(contextFor: ContextFor) {
  return new Command("create")
    .description("Create a key; the key itself is printed once")
    .requiredOption("--name <name>", "what the key is for (1-100 characters)")
    .requiredOption("--owner <owner>", "the consumer's id in your world, e.g. acct_42")
    .option("--scope <scope>", "a scope the key holds, e.g. posts:read (repeat for more)", repeatable(text))
    .addOption(new Option("--env <environment>", "live or test (default live)").choices(["live", "test"]))
    .option("--expires-in <seconds>", "the key stops working this many seconds from now", integer(1))
    .option("--ratelimit <spec>", "a rate limit NAME=LIMIT/WINDOWSECONDS, e.g. minute=100/60 (repeat for more)", repeatable(ratelimit))
    .option("--credits <n>", "credits the key starts with (default: unlimited)", integer(0))
    .option("--refill <spec>", "with --credits: refill to AMOUNT daily or monthly, e.g. 1000/monthly", refill)
    .option("--allow-ip <cidr>", "only from this address or range (repeat for more; default: any)", repeatable(text))
    .option("--meta <json>", "a JSON object forwarded to the origin, e.g. '{\"plan\":\"pro\"}'", jsonObject)
    .addHelpText(
      "after",
      examples(
        'keygate keys create --name "First key" --owner acct_42 --scope posts:read',
        "keygate keys create --name CI --owner acct_42 --env test \\\n      --ratelimit minute=100/60 --credits 1000 --refill 1000/monthly",
      ),
    )
    .action(async (options, command: Command) => {
      const ctx = contextFor(command);
      const body: CreateKeyInput = {
        name: options.name,
        ownerId: options.owner,
        environment: options.env,
        scopes: options.scope,
        expiresIn: options.expiresIn,
        ratelimits: options.ratelimit,
        credits: creditsFrom(command, options),
        allowedIps: options.allowIp,
        metadata: options.meta,
      };
      const created = await ctx.client.keys.create(body);
      revealKey(ctx, created, [`Created ${created.id} "${created.name}" for ${created.ownerId}.`]);
    });
}

function list(contextFor: ContextFor) {
  const command = new Command("list")
    .description("List keys, newest first")
    .option("--owner <owner>", "only this owner's keys")
    .addOption(new Option("--status <status>", "only keys in this state").choices(["active", "revoked", "expired"]))
    .addOption(new Option("--env <environment>", "only live or only test keys").choices(["live", "test"]));
  return withPaging(command, "keys")
    .addHelpText("after", examples("keygate keys list --owner acct_42 --status active", "keygate keys list --all --json"))
    .action(async (options, command: Command) => {
      const ctx = contextFor(command);
      const query = { ownerId: options.owner, status: options.status, environment: options.env };
      await listPages(ctx, options, "keys", (page) => ctx.client.keys.list({ ...query, ...page }), (keys) =>
        ctx.out.table(keyColumns(ctx.out.paint), keys),
      );
    });
}

/** Prints one key, or the API's JSON. */
function show(ctx: Context, key: KeyRecord, headline?: string) {
  if (ctx.json) return ctx.out.json(key);
  if (headline) ctx.out.heading(headline);
  ctx.out.fields(keyFields(key));
}

function get(contextFor: ContextFor) {
  return new Command("get")
    .description("Show one key")
    .argument("<id>", "the key's id, e.g. key_01JD6T3W4Y8N2B5C7E9G1H3K5M")
    .addHelpText("after", examples("keygate keys get key_01JD6T3W4Y8N2B5C7E9G1H3K5M"))
    .action(async (id: string, _options, command: Command) => {
      const ctx = contextFor(command);
      show(ctx, await ctx.client.keys.get(id));
    });
}

function update(contextFor: ContextFor) {
  const clear = (flag: string, what: string, replaces: string) => new Option(`--clear-${flag}`, what).conflicts(replaces);
  return new Command("update")
    .description("Change a key; applies to the very next request")
    .argument("<id>", "the key's id")
    .option("--name <name>", "a new name")
    .option("--scope <scope>", "the scopes the key holds from now on (repeat for more; replaces them all)", repeatable(text))
    .addOption(clear("scopes", "take every scope away", "scope"))
    .addOption(new Option("--enable", "let the key be used again").conflicts("disable"))
    .option("--disable", "refuse the key (KEY_DISABLED) until it is enabled")
    .option("--expires-at <iso>", "stop working at this time, e.g. 2026-12-01T00:00:00Z", isoTime)
    .addOption(clear("expiry", "never expire", "expiresAt"))
    .option("--ratelimit <spec>", "the rate limits from now on, NAME=LIMIT/WINDOWSECONDS (repeat; replaces them all)", repeatable(ratelimit))
    .addOption(clear("ratelimits", "remove every rate limit", "ratelimit"))
    .option("--credits <n>", "set the credit balance to this; the refill stays as it is", integer(0))
    .option("--refill <spec>", "with --credits: refill to AMOUNT daily or monthly from now on, e.g. 1000/monthly", refill)
    .addOption(clear("refill", "with --credits: no refill from now on", "refill"))
    .addOption(clear("credits", "unlimited credits (no balance, no refill)", "credits"))
    .option("--allow-ip <cidr>", "the addresses or ranges allowed from now on (repeat; replaces them all)", repeatable(text))
    .addOption(clear("allowed-ips", "allow any address", "allowIp"))
    .option("--meta <json>", "the metadata from now on, a JSON object (replaces it)", jsonObject)
    .option("--lift-suspension", "end a suspension the abuse rule (ABUSE_POLICY) set")
    .addHelpText(
      "after",
      examples(
        "keygate keys update key_01JD6T3W4Y8N2B5C7E9G1H3K5M --disable",
        "keygate keys update key_01JD6T3W4Y8N2B5C7E9G1H3K5M \\\n      --scope posts:read --scope posts:write --clear-expiry",
      ),
    )
    .action(async (id: string, options, command: Command) => {
      const body: UpdateKeyInput = {
        name: options.name,
        scopes: setOrCleared(options.scope, options.clearScopes, []),
        enabled: options.enable ? true : options.disable ? false : undefined,
        expiresAt: setOrCleared(options.expiresAt, options.clearExpiry, null),
        ratelimits: setOrCleared(options.ratelimit, options.clearRatelimits, []),
        credits: setOrCleared(creditsChange(command, options), options.clearCredits, null),
        allowedIps: setOrCleared(options.allowIp, options.clearAllowedIps, []),
        metadata: options.meta,
        suspendedUntil: options.liftSuspension ? null : undefined,
      };
      if (Object.values(body).every((value) => value === undefined)) {
        command.error("error: nothing to change: give at least one option, e.g. --name or --disable.", { exitCode: 2 });
      }
      const ctx = contextFor(command);
      const key = await ctx.client.keys.update(id, body);
      show(ctx, key, `Updated ${key.id} (version ${key.version}).`);
    });
}

function revoke(contextFor: ContextFor) {
  return new Command("revoke")
    .description("Revoke a key: it is refused (KEY_REVOKED) from the next request on, for good")
    .argument("<id>", "the key's id")
    .addHelpText("after", examples("keygate keys revoke key_01JD6T3W4Y8N2B5C7E9G1H3K5M"))
    .action(async (id: string, _options, command: Command) => {
      const ctx = contextFor(command);
      const key = await ctx.client.keys.revoke(id);
      show(ctx, key, `Revoked ${key.id} "${key.name}" ${relativeTime(key.revokedAt!)}.`);
    });
}

function rotate(contextFor: ContextFor) {
  return new Command("rotate")
    .description("Issue a successor with the same settings, limits and credits; the new key is printed once")
    .argument("<id>", "the key's id")
    .option("--grace <seconds>", "the old key keeps working this long (default 0: it stops now; at most 30 days)", integer(0))
    .addHelpText("after", examples("keygate keys rotate key_01JD6T3W4Y8N2B5C7E9G1H3K5M --grace 3600"))
    .action(async (id: string, options: { grace?: number }, command: Command) => {
      const ctx = contextFor(command);
      const created = await ctx.client.keys.rotate(id, options.grace === undefined ? {} : { gracePeriodSeconds: options.grace });
      const old = options.grace ? `The old key keeps working for ${duration(options.grace)} at most.` : "The old key stopped working.";
      revealKey(ctx, created, [`Rotated ${id} into ${created.id}.`, old]);
    });
}

function verify(contextFor: ContextFor) {
  return new Command("verify")
    .description("Check a key as the gateway would, without using it up")
    .argument("<key>", "the key itself, e.g. kg_live_...")
    .addHelpText("after", examples('keygate keys verify "$KEY"'))
    .action(async (key: string, _options, command: Command) => {
      const ctx = contextFor(command);
      const result = await ctx.client.keys.verify({ key });
      if (ctx.json) return ctx.out.json(result);
      ctx.out.fields(verdictFields(result, ctx.out.paint));
    });
}


function usage(contextFor: ContextFor) {
  return new Command("usage")
    .description("One key's requests over time")
    .argument("<id>", "the key's id")
    .option("--from <iso>", "start (default: 24 hours ago, or 30 days with --granularity day)", isoTime)
    .option("--to <iso>", "end (default: now)", isoTime)
    .addOption(new Option("--granularity <unit>", "one row per hour or per day (default hour)").choices(["hour", "day"]))
    .addHelpText("after", `${USAGE_COLUMNS_HELP}\n${examples("keygate keys usage key_01JD6T3W4Y8N2B5C7E9G1H3K5M --granularity day")}`)
    .action(async (id: string, options, command: Command) => {
      const ctx = contextFor(command);
      const usage = await ctx.client.keys.usage(id, { from: options.from, to: options.to, granularity: options.granularity });
      if (ctx.json) return ctx.out.json(usage);
      ctx.out.heading(`${usage.keyId}, ${usage.granularity === "hour" ? "hourly" : "daily"}, ${utcMinute(usage.from)} to ${utcMinute(usage.to)} UTC`);
      const rows = [...usage.series, { ...usage.totals, start: "total" }];
      ctx.out.table(countColumns<(typeof rows)[number]>({ header: "START", value: (r) => (r.start === "total" ? "total" : utcMinute(r.start)) }), rows);
    });
}

function requests(contextFor: ContextFor) {
  const command = new Command("requests")
    .description("The key's recent requests, newest first (kept 7 days)")
    .argument("<id>", "the key's id")
    .option("--outcome <code>", "only requests with this outcome: OK or an error code, e.g. RATE_LIMITED");
  return withPaging(command, "requests")
    .addHelpText(
      "after",
      examples("keygate keys requests key_01JD6T3W4Y8N2B5C7E9G1H3K5M", "keygate keys requests key_01JD6T3W4Y8N2B5C7E9G1H3K5M --outcome RATE_LIMITED --limit 20"),
    )
    .action(async (id: string, options, command: Command) => {
      const ctx = contextFor(command);
      await listPages(ctx, options, "requests", (page) => ctx.client.keys.requests(id, { outcome: options.outcome, ...page }), (entries) =>
        ctx.out.table(requestColumns(ctx.out.paint), entries),
      );
    });
}

export function keysCommand(contextFor: ContextFor): Command {
  return new Command("keys")
    .description("Create, list, change, rotate, revoke, verify and import keys")
    .addCommand(create(contextFor))
    .addCommand(list(contextFor))
    .addCommand(get(contextFor))
    .addCommand(update(contextFor))
    .addCommand(revoke(contextFor))
    .addCommand(rotate(contextFor))
    .addCommand(verify(contextFor))
    .addCommand(importCommand(contextFor))
    .addCommand(usage(contextFor))
    .addCommand(requests(contextFor));
}
