/**
 * `npm run bench`: keygate's load benchmark on loopback. Builds the worker, starts an
 * origin, keygate and a pass-through baseline in workerd (Miniflare), runs each scenario
 * for a bounded time, checks the targets, measures the key cache's memory bound, prints
 * a table and writes bench/results.json. Then the geography (bench/geo.mjs): consumers in three
 * regions, each call between an isolate and an object delayed by the regions' round trip.
 *
 *   --quick            1 s per scenario and 2,000 keys for the memory run (the CI smoke test)
 *   --out PATH         where to write the results (default bench/results.json)
 *   --seconds N        seconds per scenario (default 10)
 *   --connections N    concurrent connections (default 50)
 *   --memory-keys N    distinct unknown keys for the memory run (default 100000)
 *   --rollup-rounds N  rounds of the with/without usage rollups comparison (default 20, quick 1)
 *   --webhook-rounds N rounds of each with/without webhooks comparison (default 10, quick 1)
 *   --latency-rps N    the open-loop latency scenario's offered rate (default 300, quick 100)
 */
import { loadavg } from "node:os";
import { rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { buildBundle, randomToken, startGateway, startOrigin, STORES } from "./gateway.mjs";
import { cpuMs, workerdPid } from "./inspect.mjs";
import { adminClient, keyBody } from "./keys.mjs";
import { measureMemory } from "./memory.mjs";
import { scenarios } from "./scenarios.mjs";
import { checkTargets, printLatency, printMemory, printTable, printTargets } from "./report.mjs";
import { round } from "./load.mjs";
import { compareRollups, printRollups } from "./rollups.mjs";
import { measureLatency } from "./latency.mjs";
import { measureGeography, printGeography } from "./geo.mjs";
import { compareWebhooks, printWebhooks } from "./webhooks.mjs";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    out: { type: "string", default: new URL("./results.json", import.meta.url).pathname },
    seconds: { type: "string" },
    connections: { type: "string" },
    "memory-keys": { type: "string" },
    "rollup-rounds": { type: "string" },
    "webhook-rounds": { type: "string" },
    "latency-rps": { type: "string" },
  },
});
const quick = args.quick;
const seconds = Number(args.seconds ?? (quick ? 1 : 10));
const connections = Number(args.connections ?? (quick ? 10 : 50));
const memoryKeys = Number(args["memory-keys"] ?? (quick ? 2_000 : 100_000));
const rollupRounds = Number(args["rollup-rounds"] ?? (quick ? 1 : 20));
const webhookRounds = Number(args["webhook-rounds"] ?? (quick ? 1 : 10));
const latencyRps = Number(args["latency-rps"] ?? (quick ? 100 : 300));
const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}`);


async function main() {
  log(`building the worker (${quick ? "quick" : "full"} run: ${seconds} s per scenario, ${connections} connections, stores ${STORES === "memory" ? "in memory" : "on disk"})`);
  const scriptPath = await buildBundle();
  const adminToken = randomToken();
  const results = {};
  let memory;
  let rollups;
  let webhooks;
  let latency;
  let geography;
  let origin;
  try {
    origin = await startOrigin();
    const g = await startGateway({ scriptPath, originUrl: origin.url, adminToken });
    try {
      log(`keygate ${g.gateway}, baseline ${g.baseline}, origin ${origin.url}`);
      const pid = await workerdPid();
      const cpu = () => cpuMs(pid);
      const keys = {};
      // Latency first, on a gateway that no saturating run has touched yet: after one (50
      // connections flat out), this machine shows stalls of tens of ms for a while in the floor
      // and keygate alike, which would measure the bench's own history, not a steady rate.
      keys.valid = (await adminClient(g.gateway, adminToken).create(keyBody("valid", 0))).key;
      log(`valid_key_latency: baseline, floor and valid_key at ${latencyRps} requests/s offered, open loop, alternating`);
      latency = await measureLatency({
        targets: {
          baseline: { url: `${g.baseline}/v1/items` },
          floor: { url: `${g.floor}/v1/items`, headers: { Authorization: `Bearer ${g.floorKey}` } },
          valid_key: { url: `${g.gateway}/v1/items`, headers: { Authorization: `Bearer ${keys.valid}` } },
        },
        rps: latencyRps,
        seconds: quick ? 1 : 2,
        rounds: quick ? 1 : 10,
        warmup: quick ? 1 : 3,
      });
      for (const scenario of scenarios({ ...g, adminToken, seconds, connections, cpu, keys })) {
        log(`${scenario.name}: ${scenario.what}`);
        results[scenario.name] = await scenario.run();
      }
    } finally {
      await g.dispose();
    }
    log(`usage rollups: valid_key with and without them, ${rollupRounds} alternating rounds`);
    rollups = await compareRollups({ originUrl: origin.url, seconds: quick ? 1 : 3, connections, rounds: rollupRounds, log });
    log(`webhooks: valid_key and rate_limited with and without a webhook endpoint, ${webhookRounds} alternating rounds each`);
    webhooks = await compareWebhooks({ scriptPath, originUrl: origin.url, seconds: quick ? 1 : 3, connections, rounds: webhookRounds, log });
    memory = await measureMemory({ scriptPath, originUrl: origin.url, adminToken, keys: memoryKeys, connections, log });
    geography = await measureGeography({ originUrl: origin.url, adminToken, quick, log });
  } finally {
    origin?.child.disconnect();
    await rm(dirname(scriptPath), { recursive: true, force: true });
  }

  const base = results.baseline.rps;
  const floorRps = results.floor.rps;
  const table = Object.fromEntries(
    Object.entries(results).map(([name, r]) => [
      name,
      {
        rps: r.rps,
        p50_ms: r.p50_ms,
        p99_ms: r.p99_ms,
        ratio_to_baseline: round(r.rps / base, 3),
        ratio_to_floor: round(r.rps / floorRps, 3),
        ...(r.d1_reads === undefined ? {} : { d1_reads: r.d1_reads, statuses: r.statuses }),
      },
    ]),
  );
  // What the owner's shared limit costs on top of the key's own, in the same run.
  if (table.valid_key_owner_limits) {
    table.valid_key_owner_limits.ratio_drop = round(table.valid_key.ratio_to_baseline - table.valid_key_owner_limits.ratio_to_baseline, 3);
  }
  printTable(table, Object.fromEntries(Object.entries(results).map(([name, r]) => [name, r.workerd_cpu_ms_per_request])));
  const valid = latency.valid_key;
  table.valid_key_latency = {
    offered_rps: latencyRps,
    p50_ms: valid.p50_ms,
    p99_ms: valid.p99_ms,
    p999_ms: valid.p999_ms,
    added_p50_ms: round(valid.p50_ms - latency.baseline.p50_ms, 3),
    added_p99_ms: round(valid.p99_ms - latency.baseline.p99_ms, 3),
    requests: valid.requests,
    slow: valid.slow,
    baseline: latency.baseline,
    floor: latency.floor,
  };
  printLatency(table.valid_key_latency);
  Object.assign(table, geography);
  printGeography(geography);
  const targets = checkTargets(table, memory, webhooks);
  printTargets(targets);
  printRollups(rollups);
  printWebhooks(webhooks);
  printMemory(memory);
  const output = {
    scenarios: table,
    node: process.version,
    date: new Date().toISOString(),
    targets,
    memory,
    /** valid_key with and without the usage buffer (rollups and request log), same workerd, alternating */
    rollups,
    /** valid_key and rate_limited with and without a webhook endpoint, same build and workerd, alternating */
    webhooks,
    run: {
      mode: quick ? "quick" : "full",
      seconds_per_scenario: seconds,
      connections,
      /** where workerd kept D1, KV and the Durable Objects: "memory" (/dev/shm) or "disk" (bench/gateway.mjs) */
      stores: STORES,
      requests: Object.fromEntries(Object.entries(results).map(([name, r]) => [name, r.requests])),
      latency_seconds_per_round: quick ? 1 : 2,
      latency_rounds: quick ? 1 : 10,
      /** workerd runs every isolate on one thread: its CPU per request explains the ratios */
      workerd_cpu_ms_per_request: Object.fromEntries(
        Object.entries(results).map(([name, r]) => [name, r.workerd_cpu_ms_per_request]),
      ),
      cold_keys_created: results.cold_key.keys,
      load_average_at_end: loadavg().map((n) => round(n)),
      wall_seconds: round((Date.now() - started) / 1000, 1),
    },
  };
  await writeFile(args.out, `${JSON.stringify(output, null, 2)}\n`);
  log(`wrote ${args.out}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
