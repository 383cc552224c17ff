/**
 * The `keygate` command: global options, the command groups, and what each outcome means for
 * the exit code: 0 done, 1 refused by keygate or keygate unreachable, 2 bad usage.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { createKeygateClient, KeygateError, KeygateUnreachableError } from "../client/index.ts";
import { DEFAULT_URL, resolveConnection, UsageError } from "./config.ts";
import { createOutput, type Output } from "./output/index.ts";
import type { ContextFor } from "./context.ts";
import { printable } from "./output/printable.ts";
import { keysCommand } from "./keys.ts";
import { usageCommand } from "./usage.ts";
import { auditCommand } from "./audit.ts";
import { plansCommand } from "./plans.ts";
import { ownersCommand } from "./owners.ts";
import { portalCommand } from "./portal.ts";
import { webhooksCommand } from "./webhooks.ts";
import { securityEventsCommand } from "./security-events.ts";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

function fullName(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Every command, however deep: settings commander does not pass on through addCommand. */
function everyCommand(command: Command): Command[] {
  return [command, ...command.commands.flatMap(everyCommand)];
}

export function buildProgram(out: Output, env: NodeJS.ProcessEnv): Command {
  const contextFor: ContextFor = (command) => {
    const options = command.optsWithGlobals() as { url?: string; token?: string; json?: boolean };
    const connection = resolveConnection(options, env);
    return { client: createKeygateClient(connection), out, json: options.json === true };
  };
  const program = new Command("keygate")
    .description("Manage keygate's API keys from a terminal, through its admin API.")
    .version(version, "-V, --version", "print the CLI's version")
    .option("--url <url>", `the gateway's address (env KEYGATE_URL; default ${DEFAULT_URL})`)
    .option("--token <token>", "ADMIN_TOKEN, an admin key or an operator's JWT (env KEYGATE_ADMIN_TOKEN; default: .dev.vars, for a local gateway)")
    .option("--json", "print the API's JSON instead of tables")
    .addCommand(keysCommand(contextFor))
    .addCommand(usageCommand(contextFor))
    .addCommand(auditCommand(contextFor))
    .addCommand(plansCommand(contextFor))
    .addCommand(ownersCommand(contextFor))
    .addCommand(portalCommand(contextFor))
    .addCommand(webhooksCommand(contextFor))
    .addCommand(securityEventsCommand(contextFor))
    .addHelpText(
      "after",
      `
Examples:
  $ keygate keys create --name "First key" --owner acct_42 --scope posts:read
  $ keygate keys list --owner acct_42
  $ keygate owners update acct_42 --plan pro
  $ keygate portal link acct_42
  $ KEYGATE_URL=https://gw.example.com KEYGATE_ADMIN_TOKEN=... keygate audit`,
    );
  for (const command of everyCommand(program)) {
    command
      .exitOverride()
      .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
      .configureOutput({ outputError: (text, write) => write(out.paintErr.red(text)) })
      .showHelpAfterError(`(run \`${fullName(command)} --help\` for usage)`);
  }
  return program;
}

/** Reports a refusal as keygate stated it: title, detail, the issues and the request id. */
function reportRefusal(out: Output, err: KeygateError) {
  const code = err.code ? ` (${err.status} ${printable(err.code)})` : "";
  out.error(out.paintErr.red(`Error: ${printable(err.title)}${code}`));
  if (err.detail) out.error(printable(err.detail));
  for (const issue of err.issues) {
    const line = `${issue.path || "body"}: ${issue.message}`;
    if (!err.detail.includes(line)) out.error(`  - ${printable(line)}`);
  }
  if (err.requestId) out.error(out.paintErr.dim(`Request id: ${printable(err.requestId)}`));
}

/** Runs the CLI with these arguments; resolves the exit code. */
export async function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = createOutput(process.stdout, process.stderr, env);
  const program = buildProgram(out, env);
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      out.error(out.paintErr.red(`error: ${err.message}`));
      return 2;
    }
    if (err instanceof KeygateError) {
      reportRefusal(out, err);
      return 1;
    }
    if (err instanceof KeygateUnreachableError) {
      out.error(out.paintErr.red(`Error: cannot reach keygate at ${err.url} (${err.reason}); is it running? (\`npm run dev\` starts one)`));
      return 1;
    }
    out.error(out.paintErr.red(`Error: ${printable((err as Error)?.message ?? String(err))}`));
    if (env.KEYGATE_DEBUG) out.error((err as Error)?.stack ?? "");
    return 1;
  }
}
