import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

/**
 * `npm run bench` still works: the whole harness (build, workerd through Miniflare, origin,
 * autocannon, memory probe) in its quick mode, writing to a temp file so the committed
 * bench/results.json is left as it was.
 */
const root = path.resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "keygate-bench-test-"));
const committed = path.join(root, "bench/results.json");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SCENARIOS = [
  "baseline",
  "floor",
  "valid_key",
  "valid_key_owner_limits",
  "cold_key",
  "unknown_key",
  "malformed_key",
  "forged_keys",
  "forged_keys_many_clients",
  "rate_limited",
  "admin_create",
];

interface Percentiles {
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
}

interface Latency extends Percentiles {
  offered_rps: number;
  added_p50_ms: number;
  added_p99_ms: number;
  baseline: Percentiles;
  floor: Percentiles;
}

interface Added {
  added_p50_ms: number;
  added_p99_ms: number;
}

interface Geo {
  home: string;
  regions: { region: string; rtt_ms: number; one_object: Added; regional: Added }[];
}

interface GeoExactness {
  limit: number;
  windows: { admitted: number }[];
  over_admitted: number;
  underadmitted: number;
}

interface GeoRevocation {
  admitted_after_revoke: number;
  unreachable_admin_ms: number;
  admitted_after_revoke_unreachable: number;
}

interface WebhooksComparison {
  with_webhooks: { ratio_to_baseline: number; requests: number };
  without_webhooks: { ratio_to_baseline: number; requests: number };
  ratio_drop: number;
  ratio_drop_interval: [number, number];
  per_round: { with_webhooks: number; without_webhooks: number }[];
}

interface Run {
  connections: number;
}

interface Results {
  run: Run;
  scenarios: Record<
    string,
    {
      rps: number;
      p50_ms: number;
      p99_ms: number;
      ratio_to_baseline: number;
      ratio_to_floor: number;
      d1_reads?: number;
      statuses?: Record<string, number>;
      ratio_drop?: number;
    }
  > & { valid_key_latency: Latency; geo: Geo; geo_exactness: GeoExactness; geo_revocation: GeoRevocation };
  node: string;
  date: string;
  targets: { target: string; value: number; met: boolean }[];
  rollups: {
    with_rollups: { ratio_to_baseline: number; requests: number };
    without_rollups: { ratio_to_baseline: number; requests: number };
    ratio_drop: number;
    ratio_drop_mean: number;
    ratio_drop_interval: [number, number];
    per_round: { with_rollups: number; without_rollups: number }[];
  };
  webhooks: {
    rounds: number;
    deliveries: Record<string, number>;
    valid_key: WebhooksComparison;
    rate_limited: WebhooksComparison;
  };
  memory: {
    distinct_keys: number;
    before: { heap_used_mib: number; cache: { entries: number; unknownEntries: number } };
    after: { heap_used_mib: number; heap_reserved_mib: number; isolate_mib: number; cache: { entries: number; unknownEntries: number } };
  };
}

it("runs every scenario in quick mode and writes results where it is told", { timeout: 150_000 }, async () => {
  const out = path.join(tmp, "results.json");
  const committedBefore = existsSync(committed) ? statSync(committed).mtimeMs : null;
  const { stdout } = await promisify(execFile)(process.execPath, ["bench/run.mjs", "--quick", "--out", out], {
    cwd: root,
    timeout: 140_000,
    maxBuffer: 8 * 1024 * 1024,
  });
  expect(stdout).toContain("valid_key rps >= 0.95 x floor");
  expect(stdout).toMatch(/valid_key with usage rollups +ratio \d/);
  expect(stdout).toMatch(/valid_key without usage rollups +ratio \d/);

  const results = JSON.parse(readFileSync(out, "utf8")) as Results;
  expect(Object.keys(results.scenarios).sort()).toEqual([...SCENARIOS, "valid_key_latency", "geo", "geo_exactness", "geo_revocation"].sort());
  for (const name of SCENARIOS) {
    const s = results.scenarios[name];
    expect(s.rps, name).toBeGreaterThan(0);
    expect(s.ratio_to_baseline, name).toBeGreaterThan(0);
    expect(s.ratio_to_floor, name).toBeCloseTo(s.rps / results.scenarios.floor.rps, 2);
    expect(s.p99_ms, name).toBeGreaterThan(0);
    expect(s.p50_ms, name).toBeGreaterThanOrEqual(0);
    expect(s.p50_ms, name).toBeLessThanOrEqual(s.p99_ms);
  }
  expect(results.scenarios.baseline.ratio_to_baseline).toBe(1);
  expect(results.scenarios.floor.ratio_to_floor).toBe(1);
  // The owner's shared limit, against the key's own alone, in the same run.
  const owned = results.scenarios.valid_key_owner_limits;
  expect(owned.ratio_drop).toBeCloseTo(results.scenarios.valid_key.ratio_to_baseline - owned.ratio_to_baseline, 3);
  expect(results.targets.map((t) => t.target)).toContain("valid_key_owner_limits costs at most 0.05 of the ratio against valid_key");

  // The open-loop latency: percentiles in order, and the added milliseconds against the baseline.
  const latency = results.scenarios.valid_key_latency;
  expect(latency.offered_rps).toBeGreaterThan(0);
  for (const p of [latency, latency.baseline, latency.floor]) {
    expect(p.p50_ms).toBeGreaterThan(0);
    expect(p.p50_ms).toBeLessThanOrEqual(p.p99_ms);
    expect(p.p99_ms).toBeLessThanOrEqual(p.p999_ms);
  }
  expect(latency.added_p50_ms).toBeCloseTo(latency.p50_ms - latency.baseline.p50_ms, 2);
  expect(latency.added_p99_ms).toBeCloseTo(latency.p99_ms - latency.baseline.p99_ms, 2);
  expect(results.node).toBe(process.version);
  expect(Number.isNaN(Date.parse(results.date))).toBe(false);
  expect(results.targets.map((t) => t.target)).toEqual(expect.arrayContaining(["valid_key rps >= 0.95 x floor", "forged_keys rps >= baseline"]));
  expect(stdout).toMatch(/valid_key adds -?[\d.]+ ms at p50 and -?[\d.]+ ms at p99 to the baseline/);

  // valid_key was measured with and without the usage rollups, in the same workerd.
  const { rollups } = results;
  for (const build of [rollups.with_rollups, rollups.without_rollups]) {
    expect(build.requests).toBeGreaterThan(0);
    expect(build.ratio_to_baseline).toBeGreaterThan(0);
  }
  expect(rollups.per_round).toHaveLength(1);
  const [only] = rollups.per_round;
  expect(rollups.ratio_drop).toBeCloseTo(only.without_rollups - only.with_rollups, 3);
  // One round has no spread to estimate: its interval is the drop itself.
  expect(rollups.ratio_drop_mean).toBeCloseTo(rollups.ratio_drop, 3);
  expect(rollups.ratio_drop_interval).toEqual([rollups.ratio_drop_mean, rollups.ratio_drop_mean]);
  expect(stdout).toMatch(/mean drop -?[\d.]+, 95% interval -?[\d.]+ to -?[\d.]+/);

  // valid_key and rate_limited were measured with and without a webhook endpoint; the endpoint's
  // receiver verified the rate-limited key's events with the standardwebhooks package.
  const { webhooks } = results;
  expect(webhooks.rounds).toBe(1);
  for (const comparison of [webhooks.valid_key, webhooks.rate_limited]) {
    expect(comparison.with_webhooks.requests).toBeGreaterThan(0);
    expect(comparison.without_webhooks.requests).toBeGreaterThan(0);
    const [round] = comparison.per_round;
    expect(comparison.ratio_drop).toBeCloseTo(round.without_webhooks - round.with_webhooks, 3);
  }
  expect(webhooks.deliveries["key.rate_limited"]).toBeGreaterThan(0);
  expect(results.targets.map((t) => t.target)).toEqual(
    expect.arrayContaining([expect.stringMatching(/^valid_key with a webhook endpoint within noise/), expect.stringMatching(/^rate_limited with a webhook endpoint within noise/)]),
  );
  expect(stdout).toMatch(/Webhooks, same workerd/);

  // Forged keys: one client reaches D1 at most as often as it may present unknown keys (20),
  // plus the requests it has in flight when it reaches that limit, then is refused; many clients
  // reach D1 at most as often as the isolate's budget allows.
  const forged = results.scenarios.forged_keys;
  expect(forged.statuses?.["429"]).toBeGreaterThan(0);
  expect(forged.d1_reads).toBeLessThanOrEqual(20 + results.run.connections);
  const many = results.scenarios.forged_keys_many_clients;
  expect(many.d1_reads).toBeGreaterThan(0);
  expect(many.d1_reads).toBeLessThanOrEqual(50 + 10 * 5);

  // The memory run sent its keys: the isolate remembered each as unknown, apart from the key cache.
  const { memory } = results;
  expect(memory.distinct_keys).toBeGreaterThan(0);
  expect(memory.after.cache.unknownEntries - memory.before.cache.unknownEntries).toBe(memory.distinct_keys);
  expect(memory.after.cache.entries).toBe(memory.before.cache.entries);
  expect(memory.after.heap_used_mib).toBeGreaterThan(0);
  expect(memory.after.heap_reserved_mib).toBeGreaterThanOrEqual(memory.after.heap_used_mib);
  expect(memory.after.isolate_mib).toBeGreaterThanOrEqual(memory.after.heap_reserved_mib);

  // The geography: three regions, each with both designs' added latency; the home in weur.
  const { geo, geo_exactness: exactness, geo_revocation: revocation } = results.scenarios;
  expect(geo.home).toBe("weur");
  expect(geo.regions.map((r) => r.region)).toEqual(["weur", "enam", "apac"]);
  for (const r of geo.regions) {
    expect(r.rtt_ms, r.region).toBeGreaterThan(0);
    for (const design of [r.one_object, r.regional]) {
      expect(Number.isFinite(design.added_p50_ms), r.region).toBe(true);
      expect(Number.isFinite(design.added_p99_ms), r.region).toBe(true);
    }
  }
  // Far from the home, one object pays the distance to it on every request; regional admission does not.
  const apac = geo.regions.find((r) => r.region === "apac")!;
  expect(apac.one_object.added_p50_ms).toBeGreaterThan(apac.regional.added_p50_ms + 50);
  expect(exactness.limit).toBeGreaterThan(0);
  expect(exactness.windows.length).toBeGreaterThan(0);
  for (const w of exactness.windows) expect(w.admitted).toBeLessThanOrEqual(exactness.limit);
  expect(exactness.over_admitted).toBe(0);
  expect(exactness.underadmitted).toBeGreaterThanOrEqual(0);
  expect(revocation.admitted_after_revoke).toBe(0);
  expect(revocation.admitted_after_revoke_unreachable).toBe(0);
  expect(revocation.unreachable_admin_ms).toBeGreaterThan(0);
  expect(stdout).toMatch(/regions \(home in weur/);

  expect(existsSync(committed) ? statSync(committed).mtimeMs : null).toBe(committedBefore);
});
