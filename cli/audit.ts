/** `keygate audit`: who changed what, newest first. */
import { Command } from "commander";
import type { AuditEntry } from "../client/index.ts";
import { relativeTime } from "../client/format.ts";
import { listPages, withPaging } from "./paging.ts";
import type { ContextFor } from "./context.ts";

export function auditCommand(contextFor: ContextFor): Command {
  const command = new Command("audit")
    .description("Audit entries, newest first: who changed which key, and what")
    .option("--target <id>", "only changes to this key")
    .option("--action <action>", "only this action: key.create, key.update, key.revoke or key.rotate")
    .option("--actor <actor>", 'only changes by this actor: "root" (ADMIN_TOKEN) or an admin key\'s id');
  return withPaging(command, "audit entries")
    .addHelpText(
      "after",
      `
Examples:
  $ keygate audit --target key_01JD6T3W4Y8N2B5C7E9G1H3K5M
  $ keygate audit --action key.revoke --all`,
    )
    .action(async (options, command: Command) => {
      const ctx = contextFor(command);
      const query = { targetId: options.target, action: options.action, actor: options.actor };
      const now = Date.now();
      await listPages(ctx, options, "audit entries", (page) => ctx.client.audit({ ...query, ...page }), (entries) =>
        ctx.out.table<AuditEntry>(
          [
            { header: "WHEN", value: (e) => relativeTime(e.at, now) },
            { header: "ACTION", value: (e) => e.action },
            { header: "TARGET", value: (e) => e.targetId },
            { header: "ACTOR", value: (e) => e.actor, min: 6 },
            { header: "CHANGED", value: (e) => Object.keys(e.changes).join(", "), min: 8 },
          ],
          entries,
        ),
      );
    });
}
