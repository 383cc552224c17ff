/**
 * The geography scenarios (issue: admission near every consumer): keygate's isolates and
 * objects as if they stood in different regions, every call between them delayed by the round
 * trip between their regions (bench/geography.ts). Two builds run side by side in one workerd:
 * `regional` (keygate as it is: each region's requests go to that region's object) and
 * `one_object` (the same code with every request sent to the lineage's home, as keygate did
 * before regions). Consumers in weur, enam and apac; the lineage's home in weur.
 *
 * - geo: per region, the latency keygate adds to the pass-through baseline in the same
 *   region, at a fixed offered rate below saturation, for both builds;
 * - geo_exactness: the three regions hammer one lineage; per window, what was admitted (never
 *   above the limit) and what was refused while the window still had room (`underadmitted`);
 * - geo_revocation: a revoke during load: what any region admitted after the 2xx, then the
 *   same with one region cut off (how long the revoke took, and what it admitted after).
 *
 * Loopback only; every phase is bounded in time.
 */
import http from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleVariant } from "./variant-build.mjs";
import { startGateway } from "./gateway.mjs";
import { adminClient } from "./keys.mjs";
import { quantile } from "./latency.mjs";
import { round } from "./load.mjs";

export const REGIONS = ["weur", "enam", "apac"];
const HOME = "weur";

/** The round trip of each region to the nearest object: in its own region (bench/geography.ts). */
export const OWN_ROUND_TRIP = { weur: 10, enam: 15, apac: 35 };
/** From each region to the home in weur. */
export const TO_HOME = { weur: 10, enam: 85, apac: 160 };

/** The one_object build: every request goes to the lineage's home, wherever it comes from. */
const ONE_OBJECT = {
  "admission/client.ts": [[/if \(region === null \|\| homeRegion === undefined \|\| homeRegion === region\) \{/, "if (true) {"]],
};

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

function send(url, headers, method = "GET") {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, headers, method }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * One region's consumers at `rps`, open loop, for `seconds`: every request's scheduled time,
 * when it was answered and how.
 */
async function openLoop({ url, region, key, rps, seconds }) {
  const total = Math.max(1, Math.round(rps * seconds));
  const interval = 1e9 / rps;
  const start = process.hrtime.bigint() + 5_000_000n;
  const offset = Date.now() - Number(process.hrtime.bigint() / 1_000_000n);
  const records = [];
  const pending = [];
  for (let i = 0; i < total; i++) {
    const due = start + BigInt(Math.round(i * interval));
    const wait = Number(due - process.hrtime.bigint()) / 1e6;
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      send(`${url}/v1/items`, { Authorization: `Bearer ${key}`, "X-Bench-Region": region }).then((res) => {
        const done = process.hrtime.bigint();
        records.push({
          region,
          sentAt: Number(due / 1_000_000n) + offset,
          ms: Number(done - due) / 1e6,
          status: res.status,
          reset: Number(/;t=(\d+)/.exec(res.headers.ratelimit ?? "")?.[1] ?? NaN),
          doneAt: Number(done / 1_000_000n) + offset,
        });
      }),
    );
  }
  await Promise.all(pending);
  return records;
}

const everywhere = (url, key, rps, seconds) => Promise.all(REGIONS.map((region) => openLoop({ url, region, key, rps, seconds }))).then((r) => r.flat());

async function newKey(gateway, adminToken, label, ratelimits) {
  const admin = adminClient(gateway, adminToken);
  const created = await admin.create({ name: `geo ${label}`, ownerId: `geo-${label}`, ratelimits });
  // The first request comes from weur: the lineage's home is made there.
  const first = await send(`${gateway}/v1/items`, { Authorization: `Bearer ${created.key}`, "X-Bench-Region": HOME });
  if (first.status !== 200) throw new Error(`first request answered ${first.status}: ${first.body}`);
  return created;
}

/** Per region, p50 and p99 of what `records` took. */
function percentiles(records) {
  return Object.fromEntries(
    REGIONS.map((region) => {
      const ms = records.filter((r) => r.region === region).map((r) => r.ms);
      return [region, { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), requests: ms.length }];
    }),
  );
}

async function latencies({ g, adminToken, rps, seconds, rounds }) {
  const designs = { regional: g.gateway, one_object: g.others.one_object };
  const keys = {};
  for (const [design, url] of Object.entries(designs)) {
    keys[design] = (await newKey(url, adminToken, `latency-${design}`, [{ name: "minute", limit: 1_000_000_000, windowSeconds: 60 }])).key;
    await everywhere(url, keys[design], rps, 1); // each region's objects and leases exist before measuring
  }
  const samples = { baseline: [], regional: [], one_object: [] };
  // Each design's round follows a second of the same load, not counted: a steady rate, as the
  // scenario offers, not a region waking after another design's round.
  for (let i = 0; i < rounds; i++) {
    samples.baseline.push(...(await everywhere(g.baseline, "none", rps, seconds)));
    for (const [design, url] of Object.entries(designs)) {
      await everywhere(url, keys[design], rps, 1);
      samples[design].push(...(await everywhere(url, keys[design], rps, seconds)));
    }
  }
  for (const [name, records] of Object.entries(samples)) {
    const wrong = records.filter((r) => r.status !== 200);
    if (wrong.length) throw new Error(`geo ${name}: ${wrong.length} answers were not 200 (e.g. ${wrong[0].status})`);
  }
  const base = percentiles(samples.baseline);
  const regional = percentiles(samples.regional);
  const oneObject = percentiles(samples.one_object);
  return {
    offered_rps_per_region: rps,
    home: HOME,
    regions: REGIONS.map((region) => ({
      region,
      rtt_ms: OWN_ROUND_TRIP[region],
      rtt_to_home_ms: TO_HOME[region],
      baseline: { p50_ms: round(base[region].p50, 3), p99_ms: round(base[region].p99, 3) },
      one_object: { added_p50_ms: round(oneObject[region].p50 - base[region].p50, 2), added_p99_ms: round(oneObject[region].p99 - base[region].p99, 2) },
      regional: { added_p50_ms: round(regional[region].p50 - base[region].p50, 2), added_p99_ms: round(regional[region].p99 - base[region].p99, 2) },
      requests: regional[region].requests,
    })),
  };
}

/**
 * The three regions hammer one lineage for `windows` windows. A window begins with the first
 * request after the previous one ended, so under this load each begins as the last ends: the
 * k-th ends about `first + (k + 1) * windowSeconds`. Each answer says when its window ends
 * (`RateLimit`'s `t`: whole seconds, rounded up), which places it in its window to within a
 * second, far less than a window.
 */
async function exactness({ g, adminToken, limit, windowSeconds, windows, rps }) {
  const { key } = await newKey(g.gateway, adminToken, "exactness", [{ name: "window", limit, windowSeconds }]);
  const first = Date.now();
  const records = await everywhere(g.gateway, key, rps, windowSeconds * windows);
  const W = windowSeconds * 1000;
  const counts = Array.from({ length: windows }, () => ({ admitted: 0, refused: 0 }));
  counts[0].admitted = 1; // the request that opened the first window
  for (const r of records) {
    if (!Number.isFinite(r.reset)) continue;
    const k = Math.round((r.doneAt + r.reset * 1000 - 500 - first) / W) - 1;
    if (k < 0 || k >= windows) continue; // the window the load ended in is not whole: not counted
    if (r.status === 200) counts[k].admitted += 1;
    else if (r.status === 429) counts[k].refused += 1;
  }
  const other = records.filter((r) => r.status !== 200 && r.status !== 429);
  if (other.length) throw new Error(`geo_exactness: ${other.length} answers were neither 200 nor 429 (e.g. ${other[0].status})`);
  return {
    limit,
    window_seconds: windowSeconds,
    offered_rps: rps * REGIONS.length,
    windows: counts,
    over_admitted: counts.reduce((n, w) => n + Math.max(0, w.admitted - limit), 0),
    // refused while the window had not admitted its limit: budget that sat unused elsewhere
    underadmitted: counts.reduce((n, w) => n + Math.min(w.refused, Math.max(0, limit - w.admitted)), 0),
  };
}

/** A revoke during load; the requests sent after its 2xx that any region admitted. */
async function revokeDuringLoad({ url, adminToken, rps, seconds, label, before = async () => {} }) {
  const { id, key } = await newKey(url, adminToken, label, [{ name: "minute", limit: 1_000_000_000, windowSeconds: 60 }]);
  await everywhere(url, key, rps, 1);
  const load = everywhere(url, key, rps, seconds);
  await new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / 3));
  await before();
  const asked = Date.now();
  const res = await send(`${url}/admin/keys/${id}`, { Authorization: `Bearer ${adminToken}` }, "DELETE");
  const answered = Date.now();
  if (res.status !== 200) throw new Error(`revoke answered ${res.status}: ${res.body}`);
  const records = await load;
  return { admin_ms: answered - asked, admitted_after: records.filter((r) => r.sentAt > answered && r.status === 200).length, records };
}

async function revocation({ g, adminToken, rps, seconds, leaseMs }) {
  const plain = await revokeDuringLoad({ url: g.gateway, adminToken, rps, seconds, label: "revoke" });
  const cut = await revokeDuringLoad({
    url: g.gateway,
    adminToken,
    rps,
    seconds,
    label: "revoke-cut",
    before: async () => void (await send(`${g.gateway}/__geo/cut?region=apac`, {})),
  });
  await send(`${g.gateway}/__geo/heal`, {});
  return {
    admitted_after_revoke: plain.admitted_after,
    admin_ms: plain.admin_ms,
    unreachable_region: "apac",
    unreachable_admin_ms: cut.admin_ms,
    lease_ms: leaseMs,
    admitted_after_revoke_unreachable: cut.admitted_after,
  };
}

/** Runs the three scenarios; `quick` keeps each phase about a second. */
export async function measureGeography({ originUrl, adminToken, quick, log }) {
  const outdir = await mkdtemp(join(tmpdir(), "keygate-geo-"));
  try {
    const regional = await bundleVariant({}, join(outdir, "regional"), "bench/geo-worker.ts");
    const oneObject = await bundleVariant(ONE_OBJECT, join(outdir, "one-object"), "bench/geo-worker.ts");
    const g = await startGateway({ scriptPath: regional, originUrl, adminToken, others: [{ name: "one_object", scriptPath: oneObject }] });
    try {
      const rps = quick ? 20 : 40;
      log(`geo: weur, enam, apac at ${rps} requests/s each; regional admission and one object, against the baseline`);
      const geo = await latencies({ g, adminToken, rps, seconds: quick ? 1 : 3, rounds: quick ? 1 : 4 });
      log("geo_exactness: three regions hammer one lineage");
      const geoExactness = await exactness({
        g,
        adminToken,
        limit: quick ? 60 : 500,
        windowSeconds: quick ? 3 : 10,
        windows: quick ? 2 : 3,
        rps: quick ? 40 : 100,
      });
      log("geo_revocation: a revoke during load, then with apac cut off");
      const geoRevocation = await revocation({ g, adminToken, rps, seconds: quick ? 3 : 6, leaseMs: 2_000 });
      return { geo, geo_exactness: geoExactness, geo_revocation: geoRevocation };
    } finally {
      await g.dispose();
    }
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

/** The geography's lines of the report. */
export function printGeography({ geo, geo_exactness: ex, geo_revocation: rev }) {
  console.log(`regions (home in ${geo.home}; ${geo.offered_rps_per_region} requests/s offered in each; added to the baseline, ms):`);
  console.log("  region  own RTT  to home   one object p50 / p99    regional p50 / p99");
  for (const r of geo.regions) {
    const pair = (x) => `${x.added_p50_ms.toFixed(1).padStart(7)} / ${x.added_p99_ms.toFixed(1).padEnd(7)}`;
    console.log(`  ${r.region.padEnd(6)}  ${String(r.rtt_ms).padStart(7)}  ${String(r.rtt_to_home_ms).padStart(7)}   ${pair(r.one_object)}      ${pair(r.regional)}`);
  }
  console.log(
    `exactness: limit ${ex.limit} per ${ex.window_seconds} s, admitted per window ${ex.windows.map((w) => w.admitted).join(", ")}; over-admitted ${ex.over_admitted}, underadmitted ${ex.underadmitted}`,
  );
  console.log(
    `revocation: admitted after the 2xx ${rev.admitted_after_revoke}; with ${rev.unreachable_region} cut off, the revoke took ${rev.unreachable_admin_ms} ms (lease ${rev.lease_ms} ms) and ${rev.admitted_after_revoke_unreachable} were admitted after it`,
  );
  console.log("");
}

/** The geography's targets (printed, never asserted). */
export const GEO_TARGETS = [
  ...REGIONS.flatMap((region) => [
    {
      says: `geo ${region}: regional admission adds <= own round trip + 1 ms at p50`,
      figure: (s) => s.geo.regions.find((r) => r.region === region).regional.added_p50_ms,
      met: (v, _memory, s) => v <= s.geo.regions.find((r) => r.region === region).rtt_ms + 1,
      unit: "ms",
    },
    {
      says: `geo ${region}: regional admission adds <= own round trip + 5 ms at p99`,
      figure: (s) => s.geo.regions.find((r) => r.region === region).regional.added_p99_ms,
      met: (v, _memory, s) => v <= s.geo.regions.find((r) => r.region === region).rtt_ms + 5,
      unit: "ms",
    },
  ]),
  { says: "geo_exactness: no window admits more than its limit", figure: (s) => s.geo_exactness.over_admitted, met: (v) => v === 0, unit: "requests" },
  { says: "geo_revocation: no region admits the key after the 2xx", figure: (s) => s.geo_revocation.admitted_after_revoke, met: (v) => v === 0, unit: "requests" },
  {
    says: "geo_revocation: with a region unreachable, the revoke answers within LEASE_MS + 1 s",
    figure: (s) => s.geo_revocation.unreachable_admin_ms,
    met: (v, _memory, s) => v <= s.geo_revocation.lease_ms + 1_000,
    unit: "ms",
  },
  {
    says: "geo_revocation: with a region unreachable, no region admits the key after the 2xx",
    figure: (s) => s.geo_revocation.admitted_after_revoke_unreachable,
    met: (v) => v === 0,
    unit: "requests",
  },
];
