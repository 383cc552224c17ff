/**
 * Open-loop latency: requests sent on a fixed schedule (`rps` a second, whatever the answers),
 * each timed from its scheduled moment to the end of its response, in nanoseconds, so a slow
 * answer delays no later request and no delay is hidden (no coordinated omission). autocannon's
 * histogram counts whole milliseconds, too coarse for a 1 ms target; this client is small.
 */
import http from "node:http";

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function send(url, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, headers }, (res) => {
      res.on("data", () => {});
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Sends `rps` requests a second for `seconds` to `url` (loopback only). Resolves with every
 * latency in ms; throws if any answer is not `expect`.
 */
export async function openLoop({ url, rps, seconds, headers = {}, expect = 200 }) {
  if (!/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/.test(url)) throw new Error(`refusing non-loopback target ${url}`);
  const total = Math.round(rps * seconds);
  const interval = 1e9 / rps;
  const start = process.hrtime.bigint() + 5_000_000n;
  const latencies = [];
  const pending = [];
  for (let i = 0; i < total; i++) {
    const due = start + BigInt(Math.round(i * interval));
    const wait = Number(due - process.hrtime.bigint()) / 1e6;
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      send(url, headers).then((status) => {
        if (status !== expect) throw new Error(`expected ${expect}, got ${status}`);
        latencies.push(Number(process.hrtime.bigint() - due) / 1e6);
      }),
    );
  }
  await Promise.all(pending);
  return latencies;
}

/** The q-quantile (0..1) of the values, nearest rank. */
export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Each target at `rps` offered, in `rounds` rounds that alternate between the targets;
 * percentiles over all of a target's requests. Short rounds, many of them: this machine
 * stalls now and then for tens of ms (the floor and the baseline show it too), and a stall
 * lands on whichever target is running, so many short turns spread stalls across the targets
 * alike instead of letting one or two decide a target's tail. `slow` counts answers over
 * 10 ms, the stalls' footprint.
 */
export async function measureLatency({ targets, rps, seconds, rounds, warmup = 1 }) {
  const samples = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
  for (const target of Object.values(targets)) await openLoop({ ...target, rps, seconds: warmup });
  for (let round = 0; round < rounds; round++) {
    for (const [name, target] of Object.entries(targets)) samples[name].push(...(await openLoop({ ...target, rps, seconds })));
  }
  const ms = (n) => Math.round(n * 1000) / 1000;
  return Object.fromEntries(
    Object.entries(samples).map(([name, values]) => [
      name,
      {
        p50_ms: ms(quantile(values, 0.5)),
        p99_ms: ms(quantile(values, 0.99)),
        p999_ms: ms(quantile(values, 0.999)),
        requests: values.length,
        slow: values.filter((v) => v > 10).length,
      },
    ]),
  );
}
