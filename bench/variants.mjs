/**
 * `npm exec -- node bench/variants.mjs`: what each part of the valid-key path costs. Builds
 * keygate several times, each with one part taken out by a textual patch of src/ applied at
 * bundle time (src/ itself is never written), and runs every build in one workerd beside the
 * floor (bench/floor.mjs), in alternating rounds. workerd runs every isolate on one thread,
 * so CPU time per request is the figure to compare: each round's is divided by the floor's in
 * the same round, which cancels the machine's drift. A part's cost is what removing it saves.
 *
 *   --seconds N per run (default 2)   --rounds N (default 5)   --connections N (default 50)
 *   --only NAME,NAME   run only these variants (and "as built")
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { randomToken, startGateway, startOrigin } from "./gateway.mjs";
import { bundleVariant } from "./variant-build.mjs";
import { cpuMs, workerdPid } from "./inspect.mjs";
import { adminClient, keyBody } from "./keys.mjs";
import { load, round } from "./load.mjs";
import { WITHOUT_ROLLUPS } from "./rollups.mjs";

const { values: args } = parseArgs({
  options: { seconds: { type: "string" }, rounds: { type: "string" }, connections: { type: "string" }, only: { type: "string" } },
});
const seconds = Number(args.seconds ?? 2);
const rounds = Number(args.rounds ?? 5);
const connections = Number(args.connections ?? 50);

/** name -> { file under src/: [pattern, replacement][] }; each pattern must match. */
const VARIANTS = {
  "as built": {},
  "as built, again (shows the noise)": {},
  "no admission call (admit answers OK locally)": {
    "admission/client.ts": [
      [
        /const result = \(await viaLink\([^;]*;/,
        "const result: AdmitResult = { outcome: \"OK\", limits: req.ratelimits.map((rl) => ({ ...rl, remaining: rl.limit, reset: rl.windowSeconds })), credits: null, home: null };",
      ],
    ],
  },
  "no timer for the request's waits (KeyState, origin)": {
    "http/deadline.ts": [[/const due = Date\.now\(\) \+ ms;/, "if (ms > 0) return work;\n    const due = Date.now() + ms;"]],
  },
  "origin's answer passed on as it is (no header walk, no keygate headers)": {
    "gateway/index.ts": [[/const answer = answerFrom\([^;]*;/, "const answer = { response: upstream, bytes: 0 };"]],
  },
  "no Analytics Engine write": {
    "gateway/record.ts": [[/recordRequest\(x\.env\.USAGE, x\.ctx, recorded\);/, ""]],
  },
  "no usage buffer (D1 rollups and request log)": WITHOUT_ROLLUPS,
  "usage buffer kept but never written to D1": {
    "analytics/buffer.ts": [[/await runOnce\(this\.d1\(\), batch\.id, [^;]*;/, ""]],
  },
  "usage buffer with no waitUntil held for a batch's timer": {
    "analytics/buffer.ts": [[/ctx\.waitUntil\(this\.writeLater\(batch, flushAfterMs\)\);/, "void this.writeLater(batch, flushAfterMs);"]],
  },
  "usage buffer without request log rows (rollups only)": {
    "analytics/buffer.ts": [[/if \(r\.keyId !== null\) log\([^;]*\);/, ""]],
  },
  "no usage record at all (AE write nor buffer)": { "gateway/index.ts": [[/record\(x, event\);/, ""]] },
  "no rate-limit headers on the answer": { "gateway/index.ts": [[/\.\.\.rateLimitHeaders\(admitted\.limits\), /, ""]] },
  "no identity headers nor assertion for the origin": {
    "gateway/index.ts": [
      [/const signed = assertionFor\([^;]*;\s*const assertion = [^;]*;/, ""],
      [/\.\.\.identityHeaders\(key\),\s*\.\.\.ownerHeaders\(owner\),\s*\["X-Keygate-Assertion", assertion\],/, ""],
    ],
  },
  "no key format check (parse and checksum)": { "gateway/admit.ts": [[/requireWellFormed\(presented, [^;]*\);/, ""]] },
  "no checks 4 to 9 (record, route, IP, scopes)": { "gateway/admit.ts": [[/const refusal = refuse\([^;]*;/, "const refusal = null;"]] },
  "inbound headers passed on whole (no walk, no filtering, nothing added)": {
    "gateway/index.ts": [[/const headers = originHeaders\(x\.request\.headers, \[[\s\S]*?\]\);/, "const headers = x.request.headers;"]],
  },
};

const only = args.only ? new Set(["as built", "as built, again (shows the noise)", ...args.only.split(",")]) : null;
const chosen = Object.entries(VARIANTS).filter(([name]) => !only || only.has(name));
const { child: origin, url: originUrl } = await startOrigin();
const outdir = await mkdtemp(join(tmpdir(), "keygate-variants-"));
try {
  const builds = [];
  for (const [i, [name, patches]] of chosen.entries()) {
    try {
      builds.push({ name, worker: `variant${i}`, scriptPath: await bundleVariant(patches, join(outdir, String(i))) });
    } catch (err) {
      console.log(`${name}: skipped (${err.message})`);
    }
  }
  const adminToken = randomToken();
  const [first, ...others] = builds;
  const g = await startGateway({
    scriptPath: first.scriptPath,
    originUrl,
    adminToken,
    others: others.map((b) => ({ name: b.worker, scriptPath: b.scriptPath })),
  });
  try {
    const pid = await workerdPid();
    const cpu = () => cpuMs(pid);
    const targets = [{ name: "floor", url: g.floor, headers: { Authorization: `Bearer ${g.floorKey}` } }];
    for (const b of builds) {
      const url = b === first ? g.gateway : g.others[b.worker];
      const { key } = await adminClient(url, adminToken).create(keyBody("variant", targets.length));
      targets.push({ name: b.name, url, headers: { Authorization: `Bearer ${key}` } });
    }
    const run = (t, s) => load({ url: t.url, seconds: s, connections, expect: 200, cpu, requests: [{ method: "GET", path: "/v1/items", headers: t.headers }] });
    for (const t of targets) await run(t, 1);
    const cpuRatios = new Map(builds.map((b) => [b.name, []]));
    const rps = new Map(builds.map((b) => [b.name, []]));
    const floorCpu = [];
    // Each variant right after its own floor run (a pair), the pairs in a new order every round:
    // what other builds leave running in the shared workerd (usage writes, alarms) then falls
    // on every variant alike.
    for (let r = 0; r < rounds; r++) {
      const order = targets.slice(1).sort(() => Math.random() - 0.5);
      for (const t of order) {
        const floor = await run(targets[0], seconds);
        floorCpu.push(floor.workerd_cpu_ms_per_request);
        const res = await run(t, seconds);
        cpuRatios.get(t.name).push(res.workerd_cpu_ms_per_request / floor.workerd_cpu_ms_per_request);
        rps.get(t.name).push(res.rps / floor.rps);
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const built = median(cpuRatios.get("as built"));
    console.log(`\nfloor: ${round(median(floorCpu), 3)} ms of workerd CPU per request (median of ${rounds} rounds)\n`);
    console.log(`${"variant".padEnd(56)} CPU x floor  saves (floor requests)  rps x floor`);
    for (const b of builds) {
      const ratio = median(cpuRatios.get(b.name));
      console.log(
        `${b.name.padEnd(56)} ${ratio.toFixed(2).padStart(11)}  ${(b.name === "as built" ? "-" : (built - ratio).toFixed(2)).padStart(21)}  ${median(rps.get(b.name)).toFixed(2).padStart(11)}`,
      );
    }
  } finally {
    await g.dispose();
  }
} finally {
  origin.disconnect();
  await rm(outdir, { recursive: true, force: true });
}
