/**
 * What the usage rollups and request log cost the valid-key path: keygate built twice by the
 * same bundler, once as it is and once without its usage buffer (the one line in
 * src/gateway/record.ts that hands each request to it, taken out at bundle time), both in one
 * workerd beside the baseline. Each round runs one build, the baseline, then the other build
 * (they swap every round); all three share the one workerd thread, so one baseline per round
 * serves both ratios. The figures reported are medians over the rounds.
 *
 * `npm run bench` runs it after the scenarios. Alone, for more rounds than the bench's twenty:
 *   node bench/rollups.mjs --rounds 40   (3 s each, 50 connections; writes nothing)
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

/** The build without the usage buffer: every request still gets its Analytics Engine data point. */
export const WITHOUT_ROLLUPS = { "gateway/record.ts": [[/usageBuffer\(\)\.record\([^;]*\);/, ""]] };

const PATH = "/v1/items";

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return round(sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2, 3);
}

/** Two-sided 95% quantiles of Student's t for n - 1 degrees of freedom, n rounds (1.96 past 30). */
const T95 = [12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.2, 2.18, 2.16, 2.14, 2.13, 2.12, 2.11, 2.1, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05, 2.05, 2.05];

/** The mean of the values and the half-width of its 95% interval (0 for a single value). */
function meanInterval(values) {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, spread: 0 };
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, spread: (T95[n - 2] ?? 1.96) * (sd / Math.sqrt(n)) };
}

export async function compareRollups({ originUrl, seconds, connections, rounds, log }) {
  const outdir = await mkdtemp(join(tmpdir(), "keygate-rollups-"));
  try {
    const withPath = await bundleVariant({}, join(outdir, "with"));
    const withoutPath = await bundleVariant(WITHOUT_ROLLUPS, join(outdir, "without"));
    const adminToken = randomToken();
    const g = await startGateway({
      scriptPath: withPath,
      originUrl,
      adminToken,
      others: [{ name: "keygate-no-rollups", scriptPath: withoutPath }],
    });
    try {
      const pid = await workerdPid();
      const cpu = () => cpuMs(pid);
      const targets = { with_rollups: g.gateway, without_rollups: g.others["keygate-no-rollups"] };
      const keys = {};
      const ids = {};
      for (const [name, url] of Object.entries(targets)) {
        ({ key: keys[name], id: ids[name] } = await adminClient(url, adminToken).create(keyBody("rollups", 0)));
        const res = await fetch(`${url}${PATH}`, { headers: { Authorization: `Bearer ${keys[name]}` } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${name}: valid key answered ${res.status}`);
      }
      const sums = {};
      const add = (name, r) => {
        const s = (sums[name] ??= { requests: 0, seconds: 0, cpu_ms: 0 });
        s.requests += r.requests;
        s.seconds += r.seconds;
        s.cpu_ms += (r.workerd_cpu_ms_per_request ?? 0) * r.requests;
        return r.rps;
      };
      const run = (url, headers) =>
        load({ url, seconds, connections, expect: 200, cpu, requests: [{ method: "GET", path: PATH, headers }] });
      const valid = (name) => run(targets[name], { Authorization: `Bearer ${keys[name]}` });
      const perRound = [];
      for (let i = 0; i < rounds; i++) {
        // The baseline runs between the two builds, which swap places every round, so neither
        // build is always the one measured furthest from it or on a warmer workerd.
        const [first, second] = i % 2 === 0 ? ["with_rollups", "without_rollups"] : ["without_rollups", "with_rollups"];
        const rps = {};
        rps[first] = add(first, await valid(first));
        rps.baseline = add("baseline", await run(g.baseline, {}));
        rps[second] = add(second, await valid(second));
        perRound.push({
          with_rollups: round(rps.with_rollups / rps.baseline, 3),
          without_rollups: round(rps.without_rollups / rps.baseline, 3),
        });
        log(`rollups round ${i + 1}/${rounds}: ratio ${perRound[i].with_rollups} with, ${perRound[i].without_rollups} without`);
      }
      // The switch works: one build wrote usage to D1 while under load, the other wrote none.
      const recorded = {};
      for (const [name, url] of Object.entries(targets)) {
        const res = await fetch(`${url}/admin/keys/${ids[name]}/usage`, { headers: { Authorization: `Bearer ${adminToken}` } });
        recorded[name] = (await res.json()).totals.requests;
      }
      if (!(recorded.with_rollups > 0 && recorded.without_rollups === 0)) {
        throw new Error(`usage recorded: ${JSON.stringify(recorded)}; expected some with rollups and none without`);
      }
      const drops = perRound.map((r) => r.without_rollups - r.with_rollups);
      const { mean, spread } = meanInterval(drops);
      const rps = (s) => s.requests / s.seconds;
      const figures = (name) => ({
        rps: round(rps(sums[name])),
        /** the median of the rounds' ratios: a round disturbed by other work on the machine does not move it */
        ratio_to_baseline: median(perRound.map((r) => r[name])),
        workerd_cpu_ms_per_request: round(sums[name].cpu_ms / sums[name].requests, 3),
        requests: sums[name].requests,
        /** requests the usage routes already showed when the runs ended (batches still open are not yet written) */
        usage_recorded: recorded[name],
      });
      const result = {
        rounds,
        seconds_per_run: seconds,
        baseline: { rps: round(rps(sums.baseline)), workerd_cpu_ms_per_request: round(sums.baseline.cpu_ms / sums.baseline.requests, 3) },
        with_rollups: figures("with_rollups"),
        without_rollups: figures("without_rollups"),
        /** median over the rounds of (ratio without - ratio with) */
        ratio_drop: median(drops),
        /** the mean of the rounds' drops and its 95% interval (t distribution): how precise the median is */
        ratio_drop_mean: round(mean, 3),
        ratio_drop_interval: [round(mean - spread, 3), round(mean + spread, 3)],
        per_round: perRound,
      };
      return result;
    } finally {
      await g.dispose();
    }
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

export function printRollups(r) {
  const line = (label, f) =>
    `  valid_key ${label.padEnd(24)} ratio ${f.ratio_to_baseline.toFixed(3)}  (${f.rps.toFixed(0)} rps, ` +
    `${f.workerd_cpu_ms_per_request.toFixed(2)} ms workerd CPU/req)`;
  console.log(`Usage rollups, same workerd, median of ${r.rounds} alternating rounds of ${r.seconds_per_run} s (baseline ${r.baseline.rps.toFixed(0)} rps):`);
  console.log(line("with usage rollups", r.with_rollups));
  console.log(line("without usage rollups", r.without_rollups));
  console.log(
    `${r.ratio_drop <= 0.02 ? "met   " : "MISSED"}  valid_key ratio drops by at most 0.02 with the rollups (measured ${r.ratio_drop.toFixed(3)}; ` +
      `per round ${r.per_round.map((x) => (x.without_rollups - x.with_rollups).toFixed(3)).join(", ")})`,
  );
  console.log(`        mean drop ${r.ratio_drop_mean.toFixed(3)}, 95% interval ${r.ratio_drop_interval.map((x) => x.toFixed(3)).join(" to ")}`);
  console.log("");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { rounds: { type: "string" } } });
  const { child: origin, url: originUrl } = await startOrigin();
  try {
    const log = (msg) => console.log(msg);
    printRollups(await compareRollups({ originUrl, seconds: 3, connections: 50, rounds: Number(values.rounds ?? 20), log }));
  } finally {
    origin.disconnect();
  }
}
