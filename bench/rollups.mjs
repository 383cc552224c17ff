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
import { load } from "./load.mjs";
import { alternate } from "./compare.mjs";

/** The build without the usage buffer: every request still gets its Analytics Engine data point. */
export const WITHOUT_ROLLUPS = { "gateway/record.ts": [[/usageBuffer\(\)\.record\([^;]*\);/, ""]] };

const PATH = "/v1/items";

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
      const run = (url, headers) =>
        load({ url, seconds, connections, expect: 200, cpu, requests: [{ method: "GET", path: PATH, headers }] });
      const compared = await alternate({
        names: ["with_rollups", "without_rollups"],
        rounds,
        measure: (name) => (name === "baseline" ? run(g.baseline, {}) : run(targets[name], { Authorization: `Bearer ${keys[name]}` })),
        onRound: (i, r) => log(`rollups round ${i + 1}/${rounds}: ratio ${r.with_rollups} with, ${r.without_rollups} without`),
      });
      // The switch works: one build wrote usage to D1 while under load, the other wrote none.
      const recorded = {};
      for (const [name, url] of Object.entries(targets)) {
        const res = await fetch(`${url}/admin/keys/${ids[name]}/usage`, { headers: { Authorization: `Bearer ${adminToken}` } });
        recorded[name] = (await res.json()).totals.requests;
      }
      if (!(recorded.with_rollups > 0 && recorded.without_rollups === 0)) {
        throw new Error(`usage recorded: ${JSON.stringify(recorded)}; expected some with rollups and none without`);
      }
      const figures = (name) => ({
        ...compared.figures(name),
        /** requests the usage routes already showed when the runs ended (batches still open are not yet written) */
        usage_recorded: recorded[name],
      });
      const result = {
        rounds,
        seconds_per_run: seconds,
        baseline: compared.baseline,
        with_rollups: figures("with_rollups"),
        without_rollups: figures("without_rollups"),
        ratio_drop: compared.ratio_drop,
        ratio_drop_mean: compared.ratio_drop_mean,
        ratio_drop_interval: compared.ratio_drop_interval,
        per_round: compared.perRound,
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
