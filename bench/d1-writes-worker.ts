/**
 * The worker behind bench/d1-writes.mjs: each request writes one usage batch of `n` requests
 * made with one key to D1, as the isolate buffer's flush does (the same `runOnce`, rollups and
 * log pages from src/), in the form `form` names:
 *
 *   rollups  the rollups and totals only, no request log
 *   pages    rollups and totals, and the log as pages (`request_log_pages`, what keygate writes)
 *   rows     rollups and totals, and the log as a row per request with its primary key and an
 *            outcome index: the `request_log` table migration 0004 replaced, kept here to compare
 *            (bench/d1-writes.mjs creates it as `request_log_rows`)
 */
import { sql } from "drizzle-orm";
import { addRequest } from "../src/analytics/figures";
import { emptyMeasures } from "../src/store/measures";
import type { RecordedRequest } from "../src/analytics/writer";
import { runOnce } from "../src/store/flush";
import { addToPage, flushStatements, type LogPage, type Rollup } from "../src/store/usage";
import { logRow } from "../src/analytics/buffer";

const KEY_ID = "key_01JD0000000000000000000000";
let clock = Date.now();

function batch(n: number): RecordedRequest[] {
  return Array.from({ length: n }, () => ({
    keyId: KEY_ID,
    ownerId: "acct_bench",
    environment: "live",
    route: "items",
    method: "GET",
    outcome: "OK",
    status: 200,
    colo: "",
    country: "",
    gatewayMs: 1,
    upstreamMs: 3,
    requestBytes: 0,
    responseBytes: 120,
    creditsUsed: 0,
    at: clock++,
    requestId: `req_${crypto.randomUUID().replaceAll("-", "")}`,
    path: "/v1/items",
    clientIp: "127.0.0.1",
    userAgent: "autocannon",
  }));
}

export default {
  async fetch(request: Request, env: { DB: D1Database }): Promise<Response> {
    const url = new URL(request.url);
    const form = url.searchParams.get("form");
    const requests = batch(Number(url.searchParams.get("n") ?? 500));
    const rollup: Rollup = { ...emptyMeasures(), keyId: KEY_ID, hour: 0, route: "items", outcome: "OK", status: 200, ownerId: "acct_bench" };
    const pages = new Map<string, LogPage>();
    for (const r of requests) {
      addRequest(rollup, r);
      if (form === "pages") addToPage(pages, KEY_ID, logRow(r));
    }
    const id = `usage_${crypto.randomUUID()}`;
    await runOnce(env.DB, id, (notYetApplied) => {
      const statements = flushStatements([rollup], [...pages.values()], id, notYetApplied);
      if (form === "rows") {
        const rows = requests.map((r) => [r.keyId, r.at, r.requestId, r.method, r.path, r.route, r.status, r.outcome, r.clientIp, r.userAgent, null, r.gatewayMs, r.upstreamMs]);
        for (let i = 0; i < rows.length; i += 200) {
          statements.push(sql`
            INSERT INTO request_log_rows SELECT ${sql.raw(Array.from({ length: 13 }, (_, f) => `value ->> ${f}`).join(", "))}
            FROM json_each(${JSON.stringify(rows.slice(i, i + 200))}) WHERE ${notYetApplied} ON CONFLICT DO NOTHING`);
        }
      }
      return statements;
    });
    return new Response("written");
  },
};
