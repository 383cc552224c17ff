/**
 * `node bench/d1-writes.mjs`: what the usage flush costs D1 per logged request, measured alone
 * (no gateway traffic): a worker (bench/d1-writes-worker.ts) writes 500-request batches to a
 * local D1 in workerd, as keygate's flush does, and the workerd process's CPU time is divided by
 * the requests written. Compares the request log as pages (what keygate writes) with a row per
 * request (the form migration 0004 replaced) and with no log at all.
 *
 *   --batches N  per form and repeat (default 100)   --requests N  per batch (default 500)
 *   --repeats N  (default 3)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { applyMigrations, compatibilityDate, loopbackMiniflare } from "../scripts/local-gateway.ts";
import { benchStorage } from "./gateway.mjs";
import { cpuMs, workerdPid } from "./inspect.mjs";
import { WORKER_BUILD } from "./variant-build.mjs";

/** The table before migration 0004, as 0002 created it. */
const ROWS_TABLE = [
  `CREATE TABLE request_log_rows (key_id text NOT NULL, at integer NOT NULL, request_id text NOT NULL, method text NOT NULL,
     path text NOT NULL, route text NOT NULL, status integer NOT NULL, outcome text NOT NULL, ip text, user_agent text,
     country text, gateway_ms integer NOT NULL, upstream_ms integer, PRIMARY KEY (key_id, at, request_id))`,
  `CREATE INDEX request_log_rows_outcome ON request_log_rows (key_id, outcome, at, request_id)`,
];

const { values: args } = parseArgs({ options: { batches: { type: "string" }, requests: { type: "string" }, repeats: { type: "string" } } });
const batches = Number(args.batches ?? 100);
const perBatch = Number(args.requests ?? 500);
const repeats = Number(args.repeats ?? 3);

const outdir = await mkdtemp(join(tmpdir(), "keygate-d1-writes-"));
try {
  const scriptPath = join(outdir, "worker.js");
  await build({ ...WORKER_BUILD, entryPoints: [new URL("./d1-writes-worker.ts", import.meta.url).pathname], outfile: scriptPath });
  const storage = await benchStorage();
  const mf = loopbackMiniflare([
    {
      name: "writer",
      modules: true,
      scriptPath,
      modulesRoot: outdir,
      compatibilityDate: await compatibilityDate(),
      d1Databases: { DB: "d1-writes" },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    },
  ], storage.options);
  try {
    const db = await mf.getD1Database("DB");
    await applyMigrations(db);
    for (const statement of ROWS_TABLE) await db.prepare(statement).run();
    const url = (await mf.unsafeGetDirectURL("writer")).href;
    const pid = await workerdPid();
    const write = async (form) => {
      const res = await fetch(`${url}?form=${form}&n=${perBatch}`);
      if (res.status !== 200) throw new Error(`${form}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };
    const forms = ["rollups", "pages", "rows"];
    for (const form of forms) await write(form); // warm up
    const results = Object.fromEntries(forms.map((f) => [f, []]));
    for (let r = 0; r < repeats; r++) {
      for (const form of forms) {
        const before = await cpuMs(pid);
        for (let i = 0; i < batches; i++) await write(form);
        results[form].push((((await cpuMs(pid)) - before) * 1000) / (batches * perBatch));
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    console.log(`workerd CPU per request written, ${batches} batches of ${perBatch}, median of ${repeats} repeats (stores ${storage.kind === "memory" ? "in memory" : "on disk"}):`);
    const label = { rollups: "rollups and totals, no request log", pages: "with the log as pages (keygate)", rows: "with the log as a row per request (before 0004)" };
    for (const form of forms) {
      const extra = form === "rollups" ? "" : `  (the log: ${(median(results[form]) - median(results.rollups)).toFixed(1)} µs)`;
      console.log(`  ${label[form].padEnd(48)} ${median(results[form]).toFixed(1).padStart(5)} µs${extra}`);
    }
  } finally {
    await mf.dispose();
    await storage.remove();
  }
} finally {
  await rm(outdir, { recursive: true, force: true });
}
