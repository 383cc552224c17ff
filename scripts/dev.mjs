// `npm run dev [-- ARGS]`: keygate on http://127.0.0.1:8787 from a fresh clone, no account needed.
// 1. creates missing local secrets in .dev.vars   2. applies local D1 migrations
// 3. starts the demo echo origin on 127.0.0.1:8788   4. runs `wrangler dev ARGS`
// 5. prints the curl lines to try once the gateway answers.
// KEYGATE_DEV_VARS=<file> keeps the secrets elsewhere (wrangler then reads it with --env-file);
// KEYGATE_DEMO_PORT=<port> moves the demo origin and points UPSTREAM_URL at it.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { setInterval } from "node:timers";
import { fileURLToPath } from "node:url";
import { parseDevArgs, reachableHost } from "./dev-args.mjs";
import { ensureDevVars, readDevVars } from "./dev-vars.mjs";
import { DEMO_ORIGIN_PORT, startDemoOrigin, stopDemoOrigin } from "./demo-origin.mjs";
import { portInUse, printNextSteps, waitForGateway } from "./dev-ready.mjs";

const say = (line) => console.log(`keygate: ${line}`);
const fail = (line) => {
  console.error(`keygate: ${line}`);
  process.exit(1);
};

if (Number(process.versions.node.split(".")[0]) < 22) {
  fail(`Node ${process.versions.node} is too old; run \`npm run dev\`, which uses the Node 22 the project installs.`);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = path.join(path.dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");
// No telemetry, and no fetch of a `Request.cf` sample from workers.cloudflare.com (works offline).
// No local observability store: wrangler would record every request's whole URL, a key sent as
// `api_key` included, under the state directory (v3/observability), whatever wrangler.toml says;
// X_LOCAL_OBSERVABILITY=true brings it back.
const env = { CLOUDFLARE_CF_FETCH_ENABLED: "false", X_LOCAL_OBSERVABILITY: "false", ...process.env, WRANGLER_SEND_METRICS: "false" };
const userArgs = process.argv.slice(2);
const opts = parseDevArgs(userArgs);

// 1. Local secrets.
const devVarsPath = path.resolve(root, process.env.KEYGATE_DEV_VARS || ".dev.vars");
const relative = path.relative(process.cwd(), devVarsPath);
const shownPath = relative && !relative.startsWith("..") ? relative : devVarsPath;
const { values, created } = ensureDevVars(devVarsPath);
if (created.includes("ADMIN_TOKEN")) {
  say(`created a local admin token: ${values.ADMIN_TOKEN}`);
  const ignored = process.env.KEYGATE_DEV_VARS ? "" : " (gitignored)";
  say(`it is stored as ADMIN_TOKEN in ${shownPath}${ignored}; --var ADMIN_TOKEN:<token> overrides it.`);
}
if (created.includes("ASSERTION_PRIVATE_KEY")) {
  say(`created the ES256 key that signs X-Keygate-Assertion (kid ${JSON.parse(values.ASSERTION_PRIVATE_KEY).kid}),`);
  say(`stored as ASSERTION_PRIVATE_KEY in ${shownPath}.`);
}
// wrangler reads .dev.vars by itself, but not once --env-file is given: then hand it ours first,
// so the files the user names still win.
const envFileArgs = process.env.KEYGATE_DEV_VARS || opts.envFiles.length > 0 ? ["--env-file", devVarsPath] : [];

const port = Number(opts.port ?? 8787);
const ip = opts.ip ?? "127.0.0.1";
if (await portInUse(port, ip)) {
  fail(`port ${port} on ${ip} is already in use. Stop what runs there, or pick another: npm run dev -- --port 8899`);
}

// 2. Local D1 migrations, into the same place `wrangler dev` keeps its state.
const shared = [
  ...(opts.persistTo ? ["--persist-to", opts.persistTo] : []),
  ...(opts.config ? ["--config", opts.config] : []),
  ...(opts.env ? ["--env", opts.env] : []),
];
await applyMigrations(shared);

// 3. The demo origin.
const demoPort = Number(process.env.KEYGATE_DEMO_PORT || DEMO_ORIGIN_PORT);
if (!Number.isInteger(demoPort) || demoPort < 1 || demoPort > 65535) {
  fail(`KEYGATE_DEMO_PORT must be a port number, not ${process.env.KEYGATE_DEMO_PORT}`);
}
const demoUrl = `http://127.0.0.1:${demoPort}`;
const origin = await startDemoOrigin({ port: demoPort, log: (line) => console.log(`[demo origin] ${line}`) });
if (origin) say(`demo origin echoing requests on ${demoUrl}`);
else say(`port ${demoPort} is already in use, so the demo origin did not start; requests go to whatever listens there.`);
const upstreamArgs = process.env.KEYGATE_DEMO_PORT && !("UPSTREAM_URL" in opts.vars) ? ["--var", `UPSTREAM_URL:${demoUrl}`] : [];
if (opts.vars.UPSTREAM_URL && opts.vars.UPSTREAM_URL !== demoUrl) {
  say(`UPSTREAM_URL is ${opts.vars.UPSTREAM_URL}: the gateway forwards there, not to the demo origin.`);
}

// 4. wrangler dev, with the user's arguments last so they win.
const devArgs = [
  "dev",
  ...(opts.ip ? [] : ["--ip", ip]),
  ...(opts.port ? [] : ["--port", String(port)]),
  ...envFileArgs,
  ...upstreamArgs,
  ...userArgs,
];
const child = spawn(process.execPath, [wrangler, ...devArgs], { cwd: root, env, stdio: "inherit" });

let stopping = false;
const stop = (signal) => {
  if (stopping) return;
  stopping = true;
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(signal));
// `kill <npm pid>` stops npm and its shell but not this process: stop when re-parented.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && stop("SIGTERM"), 500).unref();
child.on("exit", async (code, signal) => {
  await stopDemoOrigin(origin);
  process.exit(stopping ? 0 : (code ?? (signal ? 1 : 0)));
});

// 5. Next steps, once the gateway answers. The token is known unless --env picks another .dev.vars.<env>.
const known = {
  ...(opts.env && envFileArgs.length === 0 ? {} : values),
  ...Object.assign({}, ...opts.envFiles.map((file) => readDevVars(path.resolve(root, file)))),
  ...opts.vars,
};
const base = `${opts.protocol ?? "http"}://${reachableHost(opts.ip)}:${port}`;
const health = await waitForGateway(base, () => child.exitCode !== null || stopping);
if (health.ok) {
  printNextSteps({ base, adminPath: known.ADMIN_PATH || "/admin", token: known.ADMIN_TOKEN, devVarsToken: values.ADMIN_TOKEN });
} else if (health.problem) {
  say(`the gateway runs on ${base} but answers ${health.problem.status} ${health.problem.code}: ${health.problem.detail}`);
  say("fix the value it names (in wrangler.toml, .dev.vars or your --var), then run npm run dev again.");
} else if (!stopping && child.exitCode === null) {
  say(`the gateway did not answer ${base}/healthz yet; see wrangler's output above.`);
}

async function applyMigrations(args) {
  const run = spawn(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", ...args], {
    cwd: root,
    env: { ...env, CI: "1" }, // no confirmation prompt
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  run.stdout.on("data", (chunk) => (output += chunk));
  run.stderr.on("data", (chunk) => (output += chunk));
  const code = await new Promise((resolve) => run.on("close", resolve));
  if (code !== 0) {
    console.error(output);
    fail("applying the local D1 migrations failed (output above).");
  }
  // wrangler redraws its table after each migration, so a name can appear more than once.
  const applied = [...new Set([...output.matchAll(/│\s*(\S+\.sql)\s*│\s*✅/g)].map((m) => m[1]))];
  say(applied.length ? `applied local D1 migrations: ${applied.join(", ")}` : "local D1 database is up to date.");
}
