/**
 * One bounded autocannon run against a loopback URL, reduced to what the report shows.
 * A run whose responses are not the status the scenario expects is an error, so a table
 * can never show the speed of the wrong answer.
 */
import autocannon from "autocannon";

/**
 * @param {object} o
 * @param {string} o.url           loopback base URL
 * @param {number} o.seconds       time bound
 * @param {number} [o.amount]      request bound (stops earlier when reached)
 * @param {number} o.connections
 * @param {number|number[]} o.expect  the status every response must have (or one of them)
 * @param {object[]} o.requests    autocannon request sequence
 * @param {() => Promise<number|null>} [o.cpu]  workerd's CPU time so far, in ms
 */
export async function load({ url, seconds, amount, connections, expect, requests, cpu }) {
  if (!/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/.test(url)) throw new Error(`refusing non-loopback target ${url}`);
  const cpuBefore = cpu ? await cpu() : null;
  const run = autocannon({
    url,
    connections,
    duration: seconds,
    ...(amount ? { amount } : {}),
    requests,
    timeout: 30,
  });
  // autocannon notices the end at its next 1 s tick; time the run up to the last response.
  let lastResponse = 0;
  run.on("response", () => (lastResponse = Date.now()));
  const result = await run;
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
  const expected = [expect].flat();
  const wrong = answered - expected.reduce((sum, code) => sum + (statuses[code] ?? 0), 0);
  if (answered === 0 || wrong > 0 || result.errors > 0) {
    throw new Error(
      `expected every response to be ${expected.join(" or ")}; got ${JSON.stringify(statuses)}, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  const elapsed = ((lastResponse || result.finish.getTime()) - result.start.getTime()) / 1000;
  const cpuAfter = cpu ? await cpu() : null;
  return {
    statuses,
    rps: round(answered / elapsed),
    p50_ms: round(result.latency.p50),
    p99_ms: round(result.latency.p99),
    requests: answered,
    seconds: round(elapsed),
    workerd_cpu_ms_per_request: cpuBefore === null || cpuAfter === null ? null : round((cpuAfter - cpuBefore) / answered, 3),
  };
}

export const round = (n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
