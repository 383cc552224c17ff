/** `keygate security-events`: refusals, leaks, suspensions and failed sign-ins, newest first. */
import { Command, Option } from "commander";
import type { SecurityEvent } from "../client/index.ts";
import { relativeTime } from "../client/format.ts";
import { isoTime } from "./options.ts";
import { listPages, withPaging } from "./paging.ts";
import type { ContextFor } from "./context.ts";

const CODES = ["MALFORMED_KEY", "KEY_NOT_FOUND", "TOO_MANY_INVALID_KEYS", "KEY_REVOKED", "KEY_EXPIRED", "KEY_SUSPENDED", "IP_NOT_ALLOWED", "KEY_LEAKED", "UNAUTHORIZED"];

export function securityEventsCommand(contextFor: ContextFor): Command {
  const command = new Command("security-events")
    .description("Security events, newest first (kept 30 days): refusals before a key is known, dead keys used, IP_NOT_ALLOWED, suspensions, leaks, failed admin sign-ins")
    .addOption(new Option("--code <code>", "only this code").choices(CODES))
    .option("--ip <ip>", "only from this client address")
    .option("--from <iso>", "start (default: 30 days ago)", isoTime)
    .option("--to <iso>", "end (default: now)", isoTime);
  return withPaging(command, "security events")
    .addHelpText(
      "after",
      `
Examples:
  $ keygate security-events --code KEY_NOT_FOUND
  $ keygate security-events --ip 203.0.113.9 --all --json`,
    )
    .action(async (options, command: Command) => {
      const ctx = contextFor(command);
      const query = { code: options.code, ip: options.ip, from: options.from, to: options.to };
      const now = Date.now();
      await listPages(ctx, options, "security events", (page) => ctx.client.securityEvents({ ...query, ...page }), (events) =>
        ctx.out.table<SecurityEvent>(
          [
            { header: "WHEN", value: (e) => relativeTime(e.at, now) },
            { header: "CODE", value: (e) => e.code },
            { header: "IP", value: (e) => e.ip ?? "" },
            { header: "KEY", value: (e) => e.keyId ?? e.keyStart ?? "", min: 8 },
            { header: "REQUEST", value: (e) => `${e.method ?? ""} ${e.path ?? ""}`.trim(), min: 8, drop: 2 },
            { header: "COUNT", value: (e) => String(e.count ?? 1), drop: 1 },
          ],
          events,
        ),
      );
    });
}
