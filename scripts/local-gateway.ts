/**
 * keygate's built worker in workerd through Miniflare, on a loopback port, with local D1
 * (migrations applied), KV, the SQLite-backed KeyState Durable Object, an Analytics Engine
 * dataset and the EVENTS queue (its consumer is keygate itself). Nothing is persisted: every start begins empty. `npm run client:generate`
 * reads the OpenAPI document from it, the Node tests drive the CLI against it, and the
 * benchmark builds its own variant from the same parts.
 */
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";

const ROOT = join(import.meta.dirname, "..");
/** The dashboard's and the API reference's files; `wrangler deploy --dry-run` (buildWorker) writes them first. */
const ASSETS_DIR = join(ROOT, "dist-assets");

/** Bundles a worker entry (default: keygate's own) the way `npm run build` does; returns the script's path. */
export async function buildWorker(entry = "src/index.ts"): Promise<string> {
  const outdir = await mkdtemp(join(tmpdir(), "keygate-build-"));
  await promisify(execFile)(join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outdir, entry], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
    maxBuffer: 16 * 1024 * 1024,
  });
  const script = (await readdir(outdir)).find((file) => file.endsWith(".js"));
  if (!script) throw new Error(`wrangler wrote no script to ${outdir}`);
  return join(outdir, script);
}

/** wrangler.toml's compatibility_flags, so workerd here runs keygate as wrangler would. */
export async function compatibilityFlags(): Promise<string[]> {
  const list = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(await readFile(join(ROOT, "wrangler.toml"), "utf8"))?.[1] ?? "";
  return [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
}

export async function compatibilityDate(): Promise<string> {
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(await readFile(join(ROOT, "wrangler.toml"), "utf8"))?.[1];
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  return date;
}

interface D1Like {
  prepare(sql: string): unknown;
  batch(statements: unknown[]): Promise<unknown>;
}

/** Applies migrations/*.sql in order (those `only` accepts), one batch per file (drizzle-kit's statement breakpoints). */
export async function applyMigrations(db: D1Like, only: (file: string) => boolean = () => true): Promise<void> {
  const dir = join(ROOT, "migrations");
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".sql") && only(f)).sort()) {
    const statements = (await readFile(join(dir, file), "utf8"))
      .split("--> statement-breakpoint")
      .map((s) => s.trim())
      .filter(Boolean);
    await db.batch(statements.map((s) => db.prepare(s)));
  }
}

/** A fresh ES256 private JWK, as ASSERTION_PRIVATE_KEY holds it. */
export const assertionJwk = (kid = "local") =>
  JSON.stringify({ ...generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }), kid });

export const randomToken = () => randomBytes(24).toString("base64url");

/** Miniflare on a loopback port, quiet but for warnings, with no download of a `Request.cf` sample. */
/** As wrangler.toml's queue: events and webhook deliveries on `queueName`, consumed by the same keygate. */
export function eventsQueue(queueName: string) {
  return {
    queueProducers: { EVENTS: { queueName } },
    queueConsumers: { [queueName]: { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 100 } },
  };
}

export function loopbackMiniflare(workers: unknown[], extra: Record<string, unknown> = {}): Miniflare {
  return new Miniflare(loopbackOptions(workers, extra));
}

function loopbackOptions(workers: unknown[], extra: Record<string, unknown>) {
  return convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, cf: false, log: new Log(LogLevel.WARN), ...extra, workers } as Parameters<
    typeof convertV4MiniflareOptions
  >[0]);
}

export interface LocalGateway {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  adminToken: string;
  /**
   * Puts a message on the gateway's EVENTS queue, as a Durable Object of it would (the tests
   * ask for a suspension as the admission objects do: docs/events.md).
   */
  enqueue(message: unknown): Promise<void>;
  /**
   * Restarts keygate with these vars and secrets instead of the ones it started with, at the
   * same address and with its local state kept, as `npm run dev -- --var NAME:VALUE` restarts it
   * on `.wrangler/state`.
   */
  restart(vars: Record<string, string>): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * Starts `scriptPath` (from buildWorker) with every var set here, so nothing a developer
 * keeps in .dev.vars leaks in. `vars` adds or overrides vars and secrets.
 */
export async function startLocalGateway(options: {
  scriptPath: string;
  vars?: Record<string, string>;
  /** a fixed loopback port (default: any free one), so a restarted gateway keeps its address */
  port?: number;
  /**
   * Serve keygate on its own socket rather than behind Miniflare's entry worker, which (like
   * `wrangler dev`'s proxy) answers some raw request targets, such as `GET *`, by itself. Such a
   * gateway has no static assets (no dashboard files): Miniflare would put its assets router in
   * front of keygate, and that router cannot read those targets either.
   */
  direct?: boolean;
}): Promise<LocalGateway> {
  const adminToken = options.vars?.ADMIN_TOKEN ?? randomToken();
  const assertionKey = assertionJwk();
  const worker = async (vars: Record<string, string> | undefined) => ({
    name: "keygate",
    modules: true,
    scriptPath: options.scriptPath,
    modulesRoot: dirname(options.scriptPath),
    compatibilityDate: await compatibilityDate(),
    compatibilityFlags: await compatibilityFlags(),
    bindings: {
      UPSTREAM_URL: "http://127.0.0.1:9",
      ADMIN_PATH: "/admin",
      MAX_KEYS_PER_OWNER: "100",
      ASSERTION_PRIVATE_KEY: assertionKey,
      ...vars,
      ADMIN_TOKEN: adminToken,
    },
    d1Databases: { DB: "keygate-local" },
    kvNamespaces: { KEY_CACHE: "keygate-local" },
    durableObjects: {
      KEY_STATE: { className: "KeyState", useSQLite: true },
      REGIONAL_STATE: { className: "RegionalAdmission", useSQLite: true },
      OWNER_STATE: { className: "OwnerState", useSQLite: true },
    },
    analyticsEngineDatasets: { USAGE: { dataset: "keygate_usage" } },
    ...eventsQueue("keygate-events"),
    ...(options.direct
      ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: options.port ?? 0 }] }
      : {
          // As wrangler.toml's [assets]: the worker runs first and serves the files itself.
          assets: {
            directory: ASSETS_DIR,
            binding: "ASSETS",
            routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true },
          },
        }),
  });
  const mf = loopbackMiniflare([await worker(options.vars)], options.port && !options.direct ? { port: options.port } : {});
  const entry = (await mf.ready).href;
  const url = (options.direct ? (await mf.unsafeGetDirectURL("keygate")).href : entry).replace(/\/$/, "");
  await applyMigrations(await mf.getD1Database("DB"));
  const enqueue = async (message: unknown) => {
    const queue = await mf.getQueueProducer("EVENTS", "keygate");
    await queue.send(message, { contentType: "json" });
  };
  const restart = async (vars: Record<string, string>) => {
    const port = Number(new URL(entry).port);
    const at = options.direct ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: Number(new URL(url).port) }] } : {};
    await mf.setOptions(loopbackOptions([{ ...(await worker(vars)), ...at }], { port }));
    await mf.ready;
  };
  return { url, adminToken, enqueue, restart, dispose: () => mf.dispose() };
}

/** Removes what buildWorker wrote. */
export const removeBuild = (scriptPath: string) => rm(dirname(scriptPath), { recursive: true, force: true });
