/**
 * What webhooks cost the consumer path: keygate in workerd beside the baseline, with the EVENTS
 * queue bound as wrangler.toml binds it and a webhook endpoint subscribed to every event (a
 * receiver on loopback that verifies each delivery with the `standardwebhooks` package),
 * enabled for the runs "with" and disabled for the runs "without". valid_key and rate_limited
 * (as the bench's scenarios: a key whose one request an hour is spent) each run in alternating
 * rounds of both (bench/compare.mjs). A third pair, rate_limited_every_second, uses a key that
 * allows one request a second, so each second's first refusal raises a `key.rate_limited` that
 * is queued, signed and delivered while the load runs: what an event costs, not only the switch.
 *
 * `npm run bench` runs it after the usage rollups. Alone:
 *   node bench/webhooks.mjs --rounds 10   (3 s each, 50 connections; writes nothing)
 */
import http from "node:http";
import { rm } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { buildBundle, randomToken, startGateway, startOrigin } from "./gateway.mjs";
import { cpuMs, workerdPid } from "./inspect.mjs";
import { adminClient, keyBody } from "./keys.mjs";
import { load } from "./load.mjs";
import { alternate } from "./compare.mjs";
import { get, PATH } from "./scenarios.mjs";

const WITH = "with_webhooks";
const WITHOUT = "without_webhooks";

/** A webhook receiver on loopback: counts the deliveries the reference library verifies, by type, and those it refuses. */
async function startReceiver() {
  const verified = {};
  let refused = 0;
  let webhook = null;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try {
        const { type } = webhook.verify(Buffer.concat(chunks).toString("utf8"), req.headers);
        verified[type] = (verified[type] ?? 0) + 1;
        res.writeHead(204).end();
      } catch {
        refused++;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks`,
    /** the endpoint's secret, once keygate has made it */
    trust: (secret) => (webhook = new Webhook(secret)),
    counts: () => ({ verified: { ...verified }, refused }),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

export async function compareWebhooks({ scriptPath, originUrl, seconds, connections, rounds, log }) {
  const receiver = await startReceiver();
  const adminToken = randomToken();
  const g = await startGateway({ scriptPath, originUrl, adminToken, queue: true });
  try {
    const cpu = ((pid) => () => cpuMs(pid))(await workerdPid());
    const headers = { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" };
    const created = await fetch(`${g.gateway}/admin/webhooks`, { method: "POST", headers, body: JSON.stringify({ url: receiver.url, events: ["*"] }) });
    if (created.status !== 201) throw new Error(`POST /admin/webhooks answered ${created.status}: ${await created.text()}`);
    const endpoint = await created.json();
    receiver.trust(endpoint.secret);
    // One keygate, its endpoint enabled for the runs "with" and disabled for the runs "without"
    // (a disabled endpoint is given no event, as if there were none): two workers would differ
    // by their place in workerd as well as by their configuration (bench/README.md, "Webhooks").
    let enabled = true;
    const setEnabled = async (want) => {
      if (want === enabled) return;
      const res = await fetch(`${g.gateway}/admin/webhooks/${endpoint.id}`, { method: "PATCH", headers, body: JSON.stringify({ enabled: want }) });
      if (res.status !== 200) throw new Error(`PATCH /admin/webhooks answered ${res.status}: ${await res.text()}`);
      enabled = want;
    };

    const admin = adminClient(g.gateway, adminToken);
    const limitedKey = async (name, windowSeconds) =>
      (await admin.create({ ...keyBody(name, 0), ratelimits: [{ name: "window", limit: 1, windowSeconds }] })).key;
    const keys = {
      valid: (await admin.create(keyBody("webhooks", 0))).key,
      // as the bench's rate_limited scenario: one request an hour, spent before the runs
      limited: await limitedKey("webhooks-limited", 3600),
      // one request a second: each second's first refusal raises a key.rate_limited
      everySecond: await limitedKey("webhooks-every-second", 1),
    };
    if ((await get(g.gateway, keys.limited)) !== 200 || (await get(g.gateway, keys.limited)) !== 429) throw new Error("limit did not bite");
    const scenario = async (which, expect) => {
      const measure = async (name) => {
        if (name === "baseline") return load({ url: g.baseline, seconds, connections, expect: 200, cpu, requests: [{ method: "GET", path: PATH }] });
        await setEnabled(name === WITH);
        const headers = { Authorization: `Bearer ${keys[which]}` };
        return load({ url: g.gateway, seconds, connections, expect, cpu, requests: [{ method: "GET", path: PATH, headers }] });
      };
      const label = { valid: "valid_key", limited: "rate_limited", everySecond: "rate_limited_every_second" }[which];
      const compared = await alternate({
        names: [WITH, WITHOUT],
        rounds,
        measure,
        onRound: (i, r) => log(`webhooks ${label} round ${i + 1}/${rounds}: ratio ${r[WITH]} with, ${r[WITHOUT]} without`),
      });
      return {
        [WITH]: compared.figures(WITH),
        [WITHOUT]: compared.figures(WITHOUT),
        ratio_drop: compared.ratio_drop,
        ratio_drop_mean: compared.ratio_drop_mean,
        ratio_drop_interval: compared.ratio_drop_interval,
        per_round: compared.perRound,
      };
    };
    const validKey = await scenario("valid", 200);
    const rateLimited = await scenario("limited", 429);
    const everySecond = await scenario("everySecond", [200, 429]);

    // The switch works: the receiver verified the key.rate_limited events of the loaded key
    // (the queue hands them on within a second or two of the load's end).
    await setEnabled(true);
    const deadline = Date.now() + 15_000;
    while (!receiver.counts().verified["key.rate_limited"] && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const deliveries = receiver.counts();
    if (!deliveries.verified["key.rate_limited"] || deliveries.refused > 0) {
      throw new Error(`webhook deliveries: ${JSON.stringify(deliveries)}; expected verified key.rate_limited events and no refusals`);
    }
    return {
      rounds,
      seconds_per_run: seconds,
      valid_key: validKey,
      rate_limited: rateLimited,
      rate_limited_every_second: everySecond,
      deliveries: deliveries.verified,
    };
  } finally {
    await g.dispose();
    await receiver.close();
  }
}

/** Within noise: no cost the rounds can tell from zero (the 95% interval of the mean drop reaches 0), and the median drop at most 0.02. */
export const withinNoise = (s) => s.ratio_drop_interval[0] <= 0 && s.ratio_drop <= 0.02;

export function printWebhooks(r) {
  console.log(`Webhooks, same workerd, median of ${r.rounds} alternating rounds of ${r.seconds_per_run} s (deliveries verified: ${JSON.stringify(r.deliveries)}):`);
  for (const name of ["valid_key", "rate_limited", "rate_limited_every_second"]) {
    const s = r[name];
    console.log(
      `  ${name.padEnd(12)} ratio ${s[WITH].ratio_to_baseline.toFixed(3)} with a webhook endpoint, ${s[WITHOUT].ratio_to_baseline.toFixed(3)} without; ` +
        `drop ${s.ratio_drop.toFixed(3)}, mean ${s.ratio_drop_mean.toFixed(3)}, 95% interval ${s.ratio_drop_interval.map((x) => x.toFixed(3)).join(" to ")}`,
    );
  }
  console.log("");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { rounds: { type: "string" } } });
  const scriptPath = await buildBundle();
  const { child: origin, url: originUrl } = await startOrigin();
  try {
    printWebhooks(await compareWebhooks({ scriptPath, originUrl, seconds: 3, connections: 50, rounds: Number(values.rounds ?? 10), log: console.log }));
  } finally {
    origin.disconnect();
    await rm(dirname(scriptPath), { recursive: true, force: true });
  }
}
