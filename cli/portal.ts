/** `keygate portal link`: a one-use link into the key holders' portal, for one owner. */
import { Command } from "commander";
import { relativeTime } from "../client/format.ts";
import type { ContextFor } from "./context.ts";
import { integer } from "./options.ts";
import { printable } from "./output/printable.ts";

export function portalCommand(contextFor: ContextFor): Command {
  const portal = new Command("portal").description("The key holders' portal, where owners manage their own keys");
  portal
    .command("link")
    .description("Print a one-use link into the portal for OWNER: it works once, within 10 minutes")
    .argument("<owner>", "the owner (ownerId) the portal session acts as")
    .option("--ttl <seconds>", "how long the portal session lasts once opened, 60-86400 (default 3600)", integer(60, 86_400))
    .option("--return-url <url>", "where the portal's “Back to the app” link goes")
    .addHelpText(
      "after",
      `
The link is printed alone on stdout, so a script can hand it on; keep it secret, as anyone
who opens it first manages that owner's keys until the session ends.

Examples:
  $ keygate portal link acct_42
  $ keygate portal link acct_42 --ttl 900 --return-url https://app.example.com/settings
  $ open "$(keygate portal link acct_42)"`,
    )
    .action(async (owner: string, options: { ttl?: number; returnUrl?: string }, command: Command) => {
      const ctx = contextFor(command);
      const link = await ctx.client.portal.link({
        ownerId: owner,
        ...(options.ttl !== undefined ? { ttlSeconds: options.ttl } : {}),
        ...(options.returnUrl !== undefined ? { returnUrl: options.returnUrl } : {}),
      });
      if (ctx.json) return ctx.out.json(link);
      ctx.out.print(printable(link.url));
      ctx.out.note(
        `One use, within 10 minutes: it opens a portal session for ${printable(owner)} that ends ${relativeTime(link.expiresAt)} (${link.expiresAt}).`,
      );
    });
  return portal;
}
