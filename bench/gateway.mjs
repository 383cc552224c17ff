/**
 * Starts what the benchmark measures: keygate's built bundle in workerd through Miniflare,
 * with local D1 (migrations applied), KV, the SQLite-backed KeyState Durable Object, an
 * Analytics Engine dataset and its vars and secrets; beside it, in the same workerd, a
 * pass-through worker as the baseline. Each answers on its own loopback socket.
 */
import { fork } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { applyMigrations, assertionJwk, buildWorker, compatibilityDate, compatibilityFlags, eventsQueue, loopbackMiniflare } from "../scripts/local-gateway.ts";
import { FLOOR_SOURCE } from "./floor.mjs";
import { unknownKey } from "./keys.mjs";

export { randomToken } from "../scripts/local-gateway.ts";

/** Bundles bench/worker.ts (keygate's worker plus a cache probe) the way `npm run build` does. */
export const buildBundle = () => buildWorker("bench/worker.ts");

/** The baseline: forwards the request to the same origin and returns its answer, no checks. */
const PASSTHROUGH = `export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM_URL + url.pathname + url.search, request);
  },
};`;

/** Reads and resets keygate's in-isolate key cache through the bundle's BenchProbe entrypoint. */
const PROBE = `export default {
  async fetch(request, env) {
    const op = new URL(request.url).pathname === "/clear" ? "clearCache" : "cacheStats";
    return Response.json(await env.KEYGATE[op]());
  },
};`;

/** For the memory run: a KV that already knows every key is unknown (keygate's negative entry). */
const KV_SAYS_UNKNOWN = `import { WorkerEntrypoint } from "cloudflare:workers";
export default class extends WorkerEntrypoint {
  async get() { return "null"; }
  async put() {}
}`;

const direct = () => [{ host: "127.0.0.1", port: 0 }];

/** The origin (bench/origin.mjs) in its own process: `{ child, url }`; `child.disconnect()` stops it. */
export function startOrigin() {
  const child = fork(new URL("./origin.mjs", import.meta.url).pathname, { stdio: "inherit" });
  return new Promise((resolve, reject) => {
    child.once("message", ({ port }) => resolve({ child, url: `http://127.0.0.1:${port}` }));
    child.once("exit", (code) => reject(new Error(`origin exited with ${code}`)));
  });
}

/**
 * Where workerd keeps the local D1, KV and Durable Object stores for a run: in memory (a fresh
 * directory on /dev/shm) when the machine has it, else Miniflare's own temporary directory on
 * disk. Locally, workerd runs those stores' SQLite on the one thread that also runs keygate, so
 * a store's writes to disk stall keygate's requests; on Cloudflare, D1 and Durable Objects run
 * apart from the gateway's isolate and never do. KEYGATE_BENCH_STORAGE=disk keeps them on disk.
 */
export const STORES = process.env.KEYGATE_BENCH_STORAGE === "disk" || !existsSync("/dev/shm") ? "disk" : "memory";

/** A run's stores (STORES): `options` go to Miniflare; `remove` deletes them once it is disposed. */
export async function benchStorage() {
  if (STORES === "disk") return { kind: "disk", options: {}, remove: async () => {} };
  const root = await mkdtemp("/dev/shm/keygate-bench-");
  return { kind: "memory", options: { resourcePersistencePath: root }, remove: () => rm(root, { recursive: true, force: true }) };
}

function keygateWorker({ name = "keygate", scriptPath, compat, flags, originUrl, adminToken, kvStub, queue = false }) {
  return {
    name,
    modules: true,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    compatibilityDate: compat,
    compatibilityFlags: flags,
    unsafeDirectSockets: direct(),
    bindings: {
      UPSTREAM_URL: originUrl,
      ADMIN_PATH: "/admin",
      MAX_KEYS_PER_OWNER: "100",
      ADMIN_TOKEN: adminToken,
      ASSERTION_PRIVATE_KEY: assertionJwk("bench"),
    },
    d1Databases: { DB: `${name}-bench` },
    ...(kvStub ? { serviceBindings: { KEY_CACHE: "kv-says-unknown" } } : { kvNamespaces: { KEY_CACHE: `${name}-bench` } }),
    durableObjects: {
      KEY_STATE: { className: "KeyState", useSQLite: true },
      REGIONAL_STATE: { className: "RegionalAdmission", useSQLite: true },
      OWNER_STATE: { className: "OwnerState", useSQLite: true },
    },
    analyticsEngineDatasets: { USAGE: { dataset: "keygate_usage" } },
    ...(queue ? eventsQueue(`${name}-events`) : {}),
  };
}

const script = (name, source, compat, extra = {}) => ({ name, modules: true, script: source, compatibilityDate: compat, ...extra });

/**
 * `memory: true` starts the memory run's variant: KV is a stub that answers "no such key"
 * (so 100,000 keys fit the time budget), and no baseline or floor. Otherwise the floor
 * (bench/floor.mjs) runs beside keygate and the baseline, with the one key it knows. `inspect: true` opens workerd's
 * inspector (to read heaps or CPU profiles); the memory run always has it. `others` adds more
 * builds of keygate to the same workerd, each with its own socket, D1, KV and KeyState
 * (`{ name, scriptPath, queue? }`; their URLs are in `others` of the answer). `queue: true`
 * binds the EVENTS queue (events and webhook deliveries) as wrangler.toml does; the scenarios
 * run without it.
 */
export async function startGateway({ scriptPath, originUrl, adminToken, memory = false, inspect = memory, others = [], queue = false }) {
  const compat = await compatibilityDate();
  const flags = await compatibilityFlags();
  const floorKey = unknownKey();
  const workers = [
    keygateWorker({ scriptPath, compat, flags, originUrl, adminToken, kvStub: memory, queue }),
    ...others.map((other) => keygateWorker({ ...other, compat, flags, originUrl, adminToken, kvStub: false })),
    script("probe", PROBE, compat, { serviceBindings: { KEYGATE: { name: "keygate", entrypoint: "BenchProbe" } } }),
    memory
      ? script("kv-says-unknown", KV_SAYS_UNKNOWN, compat)
      : script("baseline", PASSTHROUGH, compat, { unsafeDirectSockets: direct(), bindings: { UPSTREAM_URL: originUrl } }),
    ...(memory
      ? []
      : [
          script("floor", FLOOR_SOURCE, compat, {
            unsafeDirectSockets: direct(),
            bindings: { UPSTREAM_URL: originUrl, FLOOR_KEY: floorKey },
            durableObjects: { COUNTER: { className: "FloorCounter" } },
          }),
        ]),
  ];
  const storage = await benchStorage();
  const mf = loopbackMiniflare(workers, { ...storage.options, ...(inspect ? { inspectorPort: 0, inspectorHost: "127.0.0.1" } : {}) });
  await mf.ready;
  for (const name of ["keygate", ...others.map((o) => o.name)]) await applyMigrations(await mf.getD1Database("DB", name));
  const url = async (name) => (await mf.unsafeGetDirectURL(name)).href.replace(/\/$/, "");
  const probeWorker = await mf.getWorker("probe");
  return {
    mf,
    /** stops workerd and removes its stores */
    dispose: async () => {
      await mf.dispose();
      await storage.remove();
    },
    gateway: await url("keygate"),
    baseline: memory ? null : await url("baseline"),
    floor: memory ? null : await url("floor"),
    floorKey,
    others: Object.fromEntries(await Promise.all(others.map(async (o) => [o.name, await url(o.name)]))),
    inspectorUrl: inspect ? await mf.getInspectorURL() : null,
    /** { entries, bytes } of keygate's in-isolate key cache; `clear` empties it first. */
    cache: async (op = "stats") => (await probeWorker.fetch(`http://probe.local/${op}`)).json(),
  };
}
