/**
 * `npm exec -- node bench/profile.mjs`: where a valid-key request's time goes. Runs the
 * gateway with variants that each remove one cost (KeyState's writes, the single hot
 * KeyState object, the proxying) next to the pass-through baseline, then samples the
 * keygate isolate's CPU with V8's profiler during a valid_key run (or a rate_limited one).
 *
 *   --seconds N   per variant (default 8)   --connections N (default 50)
 *   --profile valid_key|rate_limited   the run to sample (default valid_key)
 *   --save PATH   also write the CPU profile (.cpuprofile, opens in Chrome DevTools)
 */
import { rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { buildBundle, randomToken, startGateway, startOrigin } from "./gateway.mjs";
import { isolateInspector } from "./inspect.mjs";
import { adminClient, keyBody, malformedKey } from "./keys.mjs";
import { load, round } from "./load.mjs";

const { values: args } = parseArgs({
  options: { seconds: { type: "string" }, connections: { type: "string" }, save: { type: "string" }, profile: { type: "string", default: "valid_key" } },
});
if (!["valid_key", "rate_limited"].includes(args.profile)) throw new Error(`--profile is valid_key or rate_limited, not ${args.profile}`);
const seconds = Number(args.seconds ?? 8);
const connections = Number(args.connections ?? 50);
const PATH = "/v1/items";
const bearer = (key) => ({ Authorization: `Bearer ${key}` });

const scriptPath = await buildBundle();
const { child: origin, url: originUrl } = await startOrigin();
const adminToken = randomToken();
const g = await startGateway({ scriptPath, originUrl, adminToken, inspect: true });
const admin = adminClient(g.gateway, adminToken);

async function warm(keys) {
  for (const key of keys) await (await fetch(g.gateway + PATH, { headers: bearer(key) })).arrayBuffer();
}
const oneKey = async (fields) => (await admin.create({ ...keyBody("profile", Math.random()), ...fields })).key;
const rows = [];
async function variant(name, url, expect, requests) {
  const r = await load({ url, seconds, connections, expect, requests });
  rows.push({ name, ...r });
  console.log(`${name.padEnd(34)} ${String(r.rps).padStart(8)} rps  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms`);
  return r;
}

try {
  const limited = await oneKey({});
  const unlimited = await oneKey({ ratelimits: [] });
  const spread = [];
  for (let i = 0; i < connections; i++) spread.push(await oneKey({}));
  const spent = await oneKey({ ratelimits: [{ name: "hour", limit: 1, windowSeconds: 3600 }] });
  await warm([limited, unlimited, ...spread, spent, spent]);
  let next = 0;
  const base = await variant("baseline (pass-through)", g.baseline, 200, [{ method: "GET", path: PATH }]);
  await variant("valid_key: 1 key, 1 limit", g.gateway, 200, [{ method: "GET", path: PATH, headers: bearer(limited) }]);
  await variant("valid_key: 1 key, no limits", g.gateway, 200, [{ method: "GET", path: PATH, headers: bearer(unlimited) }]);
  await variant(`valid_key: ${connections} keys, 1 limit each`, g.gateway, 200, [
    { method: "GET", path: PATH, setupRequest: (req) => ({ ...req, headers: bearer(spread[next++ % spread.length]) }) },
  ]);
  await variant("rate_limited: KeyState read, no proxy", g.gateway, 429, [{ method: "GET", path: PATH, headers: bearer(spent) }]);
  await variant("malformed_key: no storage, no proxy", g.gateway, 401, [{ method: "GET", path: PATH, headers: bearer(malformedKey()) }]);
  for (const row of rows) row.ratio = round(row.rps / base.rps, 3);

  const [sampled, status] = args.profile === "rate_limited" ? [spent, 429] : [limited, 200];
  const inspector = await isolateInspector(g.inspectorUrl, "keygate", () => warm([sampled]));
  const { profile } = await inspector.cpuProfile(() =>
    load({ url: g.gateway, seconds, connections, expect: status, requests: [{ method: "GET", path: PATH, headers: bearer(sampled) }] }),
  );
  inspector.close();
  if (args.save) await writeFile(args.save, JSON.stringify(profile));
  printProfile(profile);
} finally {
  await g.dispose();
  origin.disconnect();
  await rm(dirname(scriptPath), { recursive: true, force: true });
}

function labelOf({ functionName, url, lineNumber }) {
  const file = url ? url.split("/").pop() : "";
  return `${functionName || "(anonymous)"}${file ? ` ${file}:${lineNumber + 1}` : ""}`;
}

/** Self and inclusive time per function; (idle) is the isolate waiting on I/O. */
function printProfile(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map();
  const inclusive = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    total += us;
    const leaf = labelOf(byId.get(id).callFrame);
    self.set(leaf, (self.get(leaf) ?? 0) + us);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const label = labelOf(byId.get(at).callFrame);
      if (!seen.has(label)) inclusive.set(label, (inclusive.get(label) ?? 0) + us);
      seen.add(label);
    }
  });
  const top = (map, n) =>
    [...map]
      .filter(([label]) => label !== "(root)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([label, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${label}`)
      .join("\n");
  console.log(`\nCPU profile of the keygate isolate during ${args.profile} (${(total / 1e6).toFixed(1)} s sampled)`);
  console.log(`\nself time:\n${top(self, 20)}\n\ninclusive time:\n${top(inclusive, 30)}`);
}
