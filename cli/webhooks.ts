/** `keygate webhooks ...`: the endpoints keygate sends signed events to, and their deliveries. */
import { Command, Option } from "commander";
import type { CreatedWebhook, DeliveryAttempt, Webhook } from "../client/index.ts";
import { relativeTime, whenExactly } from "../client/format.ts";
import { repeatable, text } from "./options.ts";
import { listPages, withPaging } from "./paging.ts";
import type { Context, ContextFor } from "./context.ts";
import type { Paint } from "./output/colour.ts";

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((line) => `  $ ${line}`).join("\n")}`;

/** Every event type an endpoint can ask for (DESIGN.md, "Events and webhooks"). */
export const EVENT_TYPES = [
  "key.created",
  "key.updated",
  "key.rotated",
  "key.revoked",
  "key.expiring",
  "key.expired",
  "key.rate_limited",
  "key.credits_low",
  "key.suspended",
  "key.leaked",
  "owner.updated",
  "plan.updated",
  "webhook.test",
];

function endpointStatus(w: Webhook): string {
  if (w.enabled) return w.failingSince ? "failing" : "enabled";
  return w.disabledReason === "gone" ? "disabled (410)" : w.disabledReason === "failing" ? "disabled (3 days failing)" : "disabled";
}

const paintEndpoint = (paint: Paint, w: Webhook, cell: string) => (!w.enabled ? paint.red(cell) : w.failingSince ? paint.yellow(cell) : paint.green(cell));

function webhookFields(w: Webhook, now = Date.now()): [string, string][] {
  return [
    ["ID", w.id],
    ["URL", w.url],
    ["Events", w.events.join(" ")],
    ["Description", w.description ?? ""],
    ["Status", endpointStatus(w)],
    ...(w.failingSince ? [["Failing since", whenExactly(w.failingSince, now)] as [string, string]] : []),
    ["Created", whenExactly(w.createdAt, now)],
  ];
}

function attemptFields(a: DeliveryAttempt, now = Date.now()): [string, string][] {
  return [
    ["Event", `${a.eventId} (${a.eventType})`],
    ["Attempt", String(a.attempt)],
    ["Result", a.status === "succeeded" ? `delivered: HTTP ${a.statusCode}` : `failed: ${a.error ?? "no answer"}`],
    ["Took", `${a.durationMs} ms`],
    ...(a.nextRetryAt ? [["Next retry", whenExactly(a.nextRetryAt, now)] as [string, string]] : []),
  ];
}

function list(contextFor: ContextFor) {
  return withPaging(new Command("list").description("List webhook endpoints, newest first"), "endpoints")
    .addHelpText("after", examples("keygate webhooks list", "keygate webhooks list --json"))
    .action(async (options, command: Command) => {
      const ctx = contextFor(command);
      const now = Date.now();
      await listPages(ctx, options, "webhook endpoints", (page) => ctx.client.webhooks.list(page), (endpoints) =>
        ctx.out.table<Webhook>(
          [
            { header: "ID", value: (w) => w.id },
            { header: "URL", value: (w) => w.url, min: 12 },
            { header: "EVENTS", value: (w) => w.events.join(" "), min: 8 },
            { header: "STATUS", value: endpointStatus, style: (cell, w) => paintEndpoint(ctx.out.paint, w, cell) },
            { header: "CREATED", value: (w) => relativeTime(w.createdAt, now), drop: 1 },
          ],
          endpoints,
        ),
      );
    });
}

function revealSecret(ctx: Context, created: CreatedWebhook) {
  const warning = "Save this secret now: it will not be shown again.";
  if (ctx.json) {
    ctx.out.json(created);
    ctx.out.note(warning);
    return;
  }
  ctx.out.heading(`Created ${created.id}.`);
  const { secret: _secret, ...endpoint } = created;
  ctx.out.fields(webhookFields(endpoint));
  ctx.out.print("");
  ctx.out.print(ctx.out.paint.bold(created.secret));
  ctx.out.print("");
  ctx.out.print(ctx.out.paint.yellow(warning));
}

function create(contextFor: ContextFor) {
  return new Command("create")
    .description("Add an endpoint; its signing secret is printed once")
    .argument("<url>", "where deliveries go: https:, or http: for a loopback address")
    .requiredOption("--event <type>", `an event type to send, or * for every type (repeat for more): ${EVENT_TYPES.join(", ")}`, repeatable(text))
    .option("--description <text>", "what the endpoint is for")
    .addHelpText(
      "after",
      examples(
        "keygate webhooks create https://example.com/hooks \\\n      --event key.revoked --event key.leaked",
        "keygate webhooks create http://127.0.0.1:8788/webhooks --event '*'",
      ),
    )
    .action(async (url: string, options: { event: string[]; description?: string }, command: Command) => {
      const unknown = options.event.filter((e) => e !== "*" && !EVENT_TYPES.includes(e));
      if (unknown.length) command.error(`error: unknown event type ${unknown.join(", ")}; one of: *, ${EVENT_TYPES.join(", ")}.`, { exitCode: 2 });
      const ctx = contextFor(command);
      const events = options.event as Parameters<typeof ctx.client.webhooks.create>[0]["events"];
      revealSecret(ctx, await ctx.client.webhooks.create({ url, events, description: options.description }));
    });
}

function test(contextFor: ContextFor) {
  return new Command("test")
    .description("Send a webhook.test event to the endpoint now, and show how it went")
    .argument("<id>", "the endpoint's id, e.g. whk_01JD6T3W4Y8N2B5C7E9G1H3K5M")
    .addHelpText("after", examples("keygate webhooks test whk_01JD6T3W4Y8N2B5C7E9G1H3K5M"))
    .action(async (id: string, _options, command: Command) => {
      const ctx = contextFor(command);
      const result = await ctx.client.webhooks.test(id);
      const ok = result.attempt.status === "succeeded";
      if (ctx.json) return ctx.out.json(result);
      ctx.out.heading(ok ? `Sent a test event to ${id}.` : `The test event to ${id} failed; it will be retried.`);
      ctx.out.fields(attemptFields(result.attempt));
      // exit 1: the receiver did not take it (a script can tell)
      if (!ok) throw new Error(`the endpoint did not accept the test event (${result.attempt.error ?? "no answer"}).`);
    });
}

function deliveries(contextFor: ContextFor) {
  const command = new Command("deliveries")
    .description("The endpoint's delivery attempts, newest first (kept 30 days)")
    .argument("<id>", "the endpoint's id")
    .addOption(new Option("--status <status>", "only attempts that succeeded or failed").choices(["succeeded", "failed"]));
  return withPaging(command, "attempts")
    .addHelpText("after", examples("keygate webhooks deliveries whk_01JD6T3W4Y8N2B5C7E9G1H3K5M --status failed"))
    .action(async (id: string, options, command: Command) => {
      const ctx = contextFor(command);
      const now = Date.now();
      await listPages(ctx, options, "delivery attempts", (page) => ctx.client.webhooks.deliveries(id, { status: options.status, ...page }), (attempts) =>
        ctx.out.table<DeliveryAttempt>(
          [
            { header: "WHEN", value: (a) => relativeTime(a.at, now) },
            { header: "TYPE", value: (a) => a.eventType },
            { header: "EVENT", value: (a) => a.eventId, drop: 2 },
            { header: "#", value: (a) => String(a.attempt) },
            {
              header: "RESULT",
              value: (a) => (a.status === "succeeded" ? `${a.statusCode}` : (a.error ?? "failed")),
              style: (cell, a) => (a.status === "succeeded" ? ctx.out.paint.green(cell) : ctx.out.paint.red(cell)),
              min: 6,
            },
            { header: "MS", value: (a) => String(a.durationMs) },
            { header: "NEXT RETRY", value: (a) => (a.nextRetryAt ? relativeTime(a.nextRetryAt, now) : ""), drop: 1 },
          ],
          attempts,
        ),
      );
    });
}

function remove(contextFor: ContextFor) {
  return new Command("delete")
    .description("Delete an endpoint: nothing more is sent to it, retries included")
    .argument("<id>", "the endpoint's id")
    .addHelpText("after", examples("keygate webhooks delete whk_01JD6T3W4Y8N2B5C7E9G1H3K5M"))
    .action(async (id: string, _options, command: Command) => {
      const ctx = contextFor(command);
      const result = await ctx.client.webhooks.delete(id);
      if (ctx.json) return ctx.out.json(result);
      ctx.out.heading(`Deleted ${result.id}.`);
    });
}

function get(contextFor: ContextFor) {
  return new Command("get")
    .description("Show one endpoint")
    .argument("<id>", "the endpoint's id")
    .addHelpText("after", examples("keygate webhooks get whk_01JD6T3W4Y8N2B5C7E9G1H3K5M"))
    .action(async (id: string, _options, command: Command) => {
      const ctx = contextFor(command);
      const endpoint = await ctx.client.webhooks.get(id);
      if (ctx.json) return ctx.out.json(endpoint);
      ctx.out.fields(webhookFields(endpoint));
    });
}

export function webhooksCommand(contextFor: ContextFor): Command {
  return new Command("webhooks")
    .description("Webhook endpoints: where keygate sends signed events about keys")
    .addCommand(list(contextFor))
    .addCommand(create(contextFor))
    .addCommand(get(contextFor))
    .addCommand(test(contextFor))
    .addCommand(deliveries(contextFor))
    .addCommand(remove(contextFor));
}
