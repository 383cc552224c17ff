/**
 * DESIGN.md: "A key sent as `api_key` is written to no log: neither keygate's own nor the
 * runtime's logs that its `wrangler.toml` turns on."
 *
 * Deployed, the runtime's logs are Cloudflare's Workers Logs, which `[observability]` in
 * wrangler.toml turns on: its invocation logs record each request's URL, query included, so
 * they are off, and the query string is redacted from whatever else records a URL. Wrangler
 * reads that config here, as it does when it deploys.
 *
 * Locally, `wrangler dev` keeps a store of its own: a tail worker records every invocation
 * (`GET <the whole URL>`), its spans and its console lines in a SQLite database under the
 * state directory (v3/observability). `npm run dev` runs wrangler with that store off. The test
 * sends keys as `api_key` down every path, answered or refused, then looks for them in every
 * file of the state directory, in everything `npm run dev` printed (wrangler's request lines,
 * keygate's own console logs, the demo origin's lines) and in wrangler's log file.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { generateKey } from "../../src/keys/format.ts";
import { freePort } from "../support/net.ts";
import { call, useDev } from "./dev-support.ts";

const root = path.resolve(import.meta.dirname, "../..");
const { tmp, devVars, persist, startDev } = useDev();

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((name) => path.join(dir, name))
    .filter((file) => statSync(file).isFile());
}

/** The files among `files` that hold `secret`, byte for byte. */
const holding = (files: string[], secret: string) => files.filter((file) => readFileSync(file).includes(Buffer.from(secret)));

describe("a key sent as api_key", () => {
  it("is in no log the deployed config turns on: no invocation logs, and query strings redacted", async () => {
    const { unstable_readConfig } = await import("wrangler");
    const config = unstable_readConfig({ config: path.join(root, "wrangler.toml") });
    expect(config.observability?.enabled).toBe(true); // keygate's own structured console logs are kept
    expect(config.observability?.logs?.invocation_logs).toBe(false);
    expect(config.observability?.redact_query_string).toBe(true);
  });

  it("is in no file of npm run dev's state, nothing it prints and no wrangler log, whatever keygate answers", { timeout: 180_000 }, async () => {
    const demoPort = await freePort();
    const down = await freePort(); // nothing listens there: the origin is down
    const origin = `http://127.0.0.1:${demoPort}`;
    const routes = [
      { name: "query", prefix: "/query", upstream: origin, allowQueryKey: true },
      { name: "scoped", prefix: "/scoped", upstream: origin, allowQueryKey: true, scopes: { GET: ["scoped:read"] } },
      { name: "down", prefix: "/down", upstream: `http://127.0.0.1:${down}`, allowQueryKey: true },
      { name: "headers", prefix: "/headers", upstream: origin },
    ];
    const wranglerLogs = path.join(tmp, "wrangler-logs");
    const dev = await startDev(["--var", `ROUTES:${JSON.stringify(routes)}`], demoPort, { WRANGLER_LOG_PATH: wranglerLogs });
    const token = parseEnv(readFileSync(devVars, "utf8")).ADMIN_TOKEN!;
    const admin = async (pathAndQuery: string, init: RequestInit = {}) => (await call(`${dev.base}/admin${pathAndQuery}`, token, init)).json();

    const ownerId = `acct_logs_${Date.now()}`;
    const key = await admin("/keys", { method: "POST", body: JSON.stringify({ name: "query key", ownerId }) });
    const revoked = await admin("/keys", { method: "POST", body: JSON.stringify({ name: "revoked key", ownerId }) });
    expect((await admin(`/keys/${revoked.id}`, { method: "DELETE" })).revokedAt).not.toBeNull();
    const unknown = generateKey("kg_live"); // well formed, checksum right, never issued

    const sent: [string, string, number, string | null][] = [
      ["/query/hello", key.key, 200, null],
      ["/scoped/posts", key.key, 403, "INSUFFICIENT_SCOPE"],
      ["/down/posts", key.key, 502, "UPSTREAM_UNAVAILABLE"],
      ["/headers/posts", key.key, 401, "MISSING_KEY"], // a route that takes the key from headers only
      ["/nowhere", key.key, 401, "MISSING_KEY"],
      ["/query/hello", revoked.key, 401, "KEY_REVOKED"],
      ["/query/hello", unknown, 401, "KEY_NOT_FOUND"],
      ["/query/hello", `${key.key}x`, 401, "MALFORMED_KEY"],
    ];
    for (const [route, apiKey, status, code] of sent) {
      const res = await fetch(`${dev.base}${route}?page=2&api_key=${apiKey}`);
      const body = await res.json();
      expect(res.status, `${route} with ${code ?? "a good key"}: ${JSON.stringify(body)}`).toBe(status);
      if (code) expect(body.code).toBe(code);
      else expect(body.query).toEqual({ page: "2" }); // the demo origin's echo: the key never reached it
    }

    // The usage batch reaches D1 (request log and rollups) about 10 s after the first request.
    const deadline = Date.now() + 60_000;
    let logged: { outcome: string; path: string }[] = [];
    while (logged.length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      logged = (await admin(`/keys/${key.id}/requests`)).data;
    }
    expect(logged.map((entry) => entry.outcome).sort()).toEqual(["INSUFFICIENT_SCOPE", "OK", "UPSTREAM_UNAVAILABLE"]);
    expect(logged.map((entry) => entry.path).sort()).toEqual(["/down/posts", "/query/hello", "/scoped/posts"]);

    // A portal link's one-use code and the session id it starts (docs/identity.md) are no more
    // kept than keys are: D1 holds their hashes, and no log holds them.
    const link = await admin("/portal/sessions", { method: "POST", body: JSON.stringify({ ownerId }) });
    const code = new URL(link.url).searchParams.get("code")!;
    const opened = await fetch(link.url, { redirect: "manual" });
    expect(opened.status).toBe(303);
    const session = /keygate_portal=([^;]+)/.exec(opened.headers.get("Set-Cookie") ?? "")![1];
    expect((await fetch(`${dev.base}/portal/api/me`, { headers: { Cookie: `keygate_portal=${session}` } })).status).toBe(200);
    expect((await fetch(link.url, { redirect: "manual" })).status).toBe(401); // spent
    expect(await dev.stop("SIGINT")).toBe(true);

    const secrets = { "issued key": key.key, "revoked key": revoked.key, "unknown key": unknown, "portal code": code, "portal session": session };
    const state = filesUnder(persist);
    expect(state.some((file) => file.includes(`${path.sep}d1${path.sep}`)), "the state directory holds the local D1").toBe(true);
    const logFiles = filesUnder(wranglerLogs);
    expect(logFiles.length, "wrangler wrote its log file").toBeGreaterThan(0);
    // keygate's own console line for the origin that was down is in what it printed and in wrangler's log
    expect(dev.output()).toContain('"msg":"origin unreachable"');
    expect(logFiles.some((file) => readFileSync(file, "utf8").includes('"msg":"origin unreachable"'))).toBe(true);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(holding(state, secret), `files of the state directory holding the ${name}`).toEqual([]);
      expect(holding(logFiles, secret), `wrangler log files holding the ${name}`).toEqual([]);
      expect(dev.output().includes(secret), `npm run dev printed the ${name}`).toBe(false);
    }
  });
});
