/**
 * `npm exec -- node bench/variants.mjs`: what each part of the valid-key path costs. Builds
 * keygate several times, each with one part taken out by a textual patch of src/ applied
 * at bundle time (src/ itself is never written), and measures valid_key next to the
 * pass-through baseline in the same workerd. workerd runs every isolate on one thread, so
 * its CPU time per request is the figure to compare; rps follows from it.
 *
 *   --seconds N (default 6)   --connections N (default 50)
 */
import { fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { randomToken, startGateway } from "./gateway.mjs";
import { bundleVariant } from "./variant-build.mjs";
import { cpuMs, workerdPid } from "./inspect.mjs";
import { adminClient, keyBody } from "./keys.mjs";
import { load, round } from "./load.mjs";
import { WITHOUT_ROLLUPS } from "./rollups.mjs";

const { values: args } = parseArgs({ options: { seconds: { type: "string" }, connections: { type: "string" } } });
const seconds = Number(args.seconds ?? 6);
const connections = Number(args.connections ?? 50);

/** name -> { file under src/: [pattern, replacement][] }; each pattern must match. */
const VARIANTS = {
  "as built": {},
  "as built (again, to show the noise)": {},
  "no KeyState call (check answers OK locally)": {
    "state/client.ts": [[/check: \(lineageId, req\) =>[^\n]*\n/, 'check: async () => ({ outcome: "OK", limits: [], credits: null }),\n']],
  },
  "KeyState check without storage writes": {
    "state/key-state.ts": [
      [/this\.kv\.put\(`rl:\$\{rl\.name\}`, windows\[i\]\);/, ""],
      [/this\.recordUse\([^;]*\);/, ""],
    ],
  },
  "KeyState check without the usage write (recordUse)": {
    "state/key-state.ts": [[/this\.recordUse\([^;]*\);/, ""]],
  },
  "no deadline timer around the KeyState call": {
    "state/client.ts": [
      [/timer = setTimeout\([^;]*;/, ""],
      [/Promise\.race\(\[call\(\), deadline\]\)/, "call()"],
    ],
  },
  "no Analytics Engine write": {
    "gateway/record.ts": [[/recordRequest\(c\.env\.USAGE, c\.executionCtx, recorded\);/, ""]],
  },
  "no usage buffer (D1 rollups and request log)": WITHOUT_ROLLUPS,
  "origin response passed on without copying headers": {
    "gateway/proxy.ts": [[/const responseHeaders = new Headers\(\);[\s\S]*?return new Response\([^;]*;/, "return new Response(upstream.body, upstream);"]],
  },
  "fetch to the origin without AbortController and timer": {
    "gateway/proxy.ts": [
      [/const timer = setTimeout\([\s\S]*?\}, timeoutMs\);/, "const timer = 0;"],
      [/signal: controller\.signal,/, ""],
    ],
  },
  "fetch to the origin with AbortSignal.timeout": {
    "gateway/proxy.ts": [
      [/const timer = setTimeout\([\s\S]*?\}, timeoutMs\);/, "const timer = 0;"],
      [/signal: controller\.signal,/, "signal: AbortSignal.timeout(timeoutMs),"],
    ],
  },
  "no identity headers for the origin (key, scopes, metadata, assertion)": {
    "gateway/index.ts": [[/headers\.set\("X-Keygate-Key-Id"[\s\S]*?headers\.set\("X-Keygate-Assertion"[^;]*;/, ""]],
  },
  "no proxying (answers 200 after the checks)": {
    "gateway/index.ts": [[/response = await proxy\(c, admitted, event\);/, "response = Response.json({ ok: true });"]],
  },
};

const origin = fork(new URL("./origin.mjs", import.meta.url).pathname);
const { port } = await new Promise((resolve) => origin.once("message", resolve));
const outdir = await mkdtemp(join(tmpdir(), "keygate-variants-"));
const rows = [];
try {
  for (const [name, patches] of Object.entries(VARIANTS)) {
    let scriptPath;
    try {
      scriptPath = await bundleVariant(patches, join(outdir, String(rows.length)));
    } catch (err) {
      console.log(`${name}: skipped (${err.message})`);
      continue;
    }
    const adminToken = randomToken();
    const g = await startGateway({ scriptPath, originUrl: `http://127.0.0.1:${port}`, adminToken });
    try {
      const pid = await workerdPid();
      const cpu = () => cpuMs(pid);
      const { key } = await adminClient(g.gateway, adminToken).create(keyBody("variant", rows.length));
      await (await fetch(`${g.gateway}/v1/items`, { headers: { Authorization: `Bearer ${key}` } })).arrayBuffer();
      const run = (url, headers) => load({ url, seconds, connections, expect: 200, cpu, requests: [{ method: "GET", path: "/v1/items", headers }] });
      const base = await run(g.baseline, {});
      const valid = await run(g.gateway, { Authorization: `Bearer ${key}` });
      const row = {
        variant: name,
        valid_rps: valid.rps,
        baseline_rps: base.rps,
        ratio: round(valid.rps / base.rps, 3),
        valid_cpu_ms: valid.workerd_cpu_ms_per_request,
        baseline_cpu_ms: base.workerd_cpu_ms_per_request,
        /** valid-key CPU in units of one baseline request, measured back to back: steadier than rps */
        cpu_vs_baseline: round(valid.workerd_cpu_ms_per_request / base.workerd_cpu_ms_per_request, 2),
      };
      rows.push(row);
      console.log(
        `${name.padEnd(52)} valid ${String(row.valid_rps).padStart(8)} rps (${row.valid_cpu_ms} ms CPU/req)  ` +
          `baseline ${String(row.baseline_rps).padStart(8)} rps (${row.baseline_cpu_ms} ms)  ratio ${row.ratio}  ` +
          `CPU x baseline ${row.cpu_vs_baseline}`,
      );
    } finally {
      await g.mf.dispose();
    }
  }
} finally {
  origin.disconnect();
  await rm(outdir, { recursive: true, force: true });
}
