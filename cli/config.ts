/**
 * Where the CLI connects and with which token: `--url`/`--token`, else KEYGATE_URL and
 * KEYGATE_ADMIN_TOKEN, else the gateway `npm run dev` starts (http://127.0.0.1:8787) and the
 * ADMIN_TOKEN it wrote to .dev.vars (or to KEYGATE_DEV_VARS, as `npm run dev` reads it).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";

export const DEFAULT_URL = "http://127.0.0.1:8787";
const ROOT = path.resolve(import.meta.dirname, "..");

/** A mistake in how the CLI was called or set up: exit 2. */
export class UsageError extends Error {}

export interface Connection {
  /** the admin API's base, e.g. http://127.0.0.1:8787/admin */
  baseUrl: string;
  token: string;
}

/** The dev token is only ever sent to this machine: it belongs to the local gateway. */
const isLoopback = (host: string) => host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);

export function devVarsPath(env: NodeJS.ProcessEnv): string {
  return path.resolve(ROOT, env.KEYGATE_DEV_VARS || ".dev.vars");
}

function devToken(env: NodeJS.ProcessEnv): string | undefined {
  const file = devVarsPath(env);
  return existsSync(file) ? parseEnv(readFileSync(file, "utf8")).ADMIN_TOKEN || undefined : undefined;
}

export function resolveConnection(flags: { url?: string; token?: string }, env: NodeJS.ProcessEnv): Connection {
  const given = flags.url || env.KEYGATE_URL || DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new UsageError(`the gateway address must be an http(s) URL such as ${DEFAULT_URL}, not "${given}".`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`the gateway address must be an http(s) URL such as ${DEFAULT_URL}, not "${given}".`);
  }
  if (url.username || url.password) {
    throw new UsageError("the gateway address must not hold credentials; give the token with KEYGATE_ADMIN_TOKEN or --token.");
  }
  // The gateway's root means its admin API is at /admin; a URL with a path names the admin API itself.
  const adminPath = url.pathname === "/" ? "/admin" : url.pathname.replace(/\/+$/, "");
  const token = flags.token || env.KEYGATE_ADMIN_TOKEN || (isLoopback(url.hostname) ? devToken(env) : undefined);
  if (!token) {
    const local = isLoopback(url.hostname)
      ? ` (none in ${path.relative(process.cwd(), devVarsPath(env)) || ".dev.vars"} either: \`npm run dev\` writes one there)`
      : "";
    throw new UsageError(`no admin token: set KEYGATE_ADMIN_TOKEN or pass --token${local}.`);
  }
  return { baseUrl: `${url.origin}${adminPath}`, token };
}
