/**
 * A key's usage chart, recent requests and audit trail, each loaded on its own: when one
 * cannot be answered (the usage source down, say) it says why and the rest of the page works.
 */
import { useState } from "hono/jsx/dom";
import { count } from "../../client/format.ts";
import { ProblemMessage, useLoad } from "../data.tsx";
import type { Session } from "../session.ts";
import { AuditTable } from "./audit-table.tsx";
import { UsageChart } from "./chart.tsx";
import { Pager, usePages } from "./pager.tsx";
import { Time } from "./status.tsx";

const LATE = "Figures and requests arrive up to 60 s after the requests are made.";

export function KeyUsage(props: { session: Session; id: string; round: number }) {
  const [granularity, setGranularity] = useState<"hour" | "day">("hour");
  const usage = useLoad(() => props.session.client.keys.usage(props.id, { granularity }), [props.id, granularity, props.round]);
  return (
    <section aria-labelledby="usage-heading">
      <div class="section-head">
        <h2 id="usage-heading">Usage</h2>
        <div class="field inline">
          <label for="usage-period">Period</label>
          <select id="usage-period" value={granularity} onChange={(e: Event) => setGranularity((e.target as HTMLSelectElement).value as "hour" | "day")}>
            <option value="hour">Last 24 hours, hourly</option>
            <option value="day">Last 30 days, daily</option>
          </select>
        </div>
      </div>
      {usage.problem && (
        <div class="unavailable">
          <p>Usage cannot be shown right now; the rest of this page still works.</p>
          <ProblemMessage problem={usage.problem} />
        </div>
      )}
      {usage.data && <UsageChart usage={usage.data} />}
      {usage.data && usage.data.totals.requests === 0 && <p class="muted">No requests in this period yet. {LATE}</p>}
    </section>
  );
}

export function KeyRequests(props: { session: Session; id: string; round: number }) {
  const pages = usePages(props.id);
  const requests = useLoad(
    () => props.session.client.keys.requests(props.id, { limit: 20, ...(pages.cursor ? { cursor: pages.cursor } : {}) }),
    [props.id, pages.cursor, props.round],
  );
  return (
    <section aria-labelledby="requests-heading">
      <h2 id="requests-heading">Recent requests</h2>
      {requests.problem && (
        <div class="unavailable">
          <p>Recent requests cannot be shown right now.</p>
          <ProblemMessage problem={requests.problem} />
        </div>
      )}
      {requests.data && requests.data.data.length === 0 && <p class="muted">No requests in the last 7 days. {LATE}</p>}
      {requests.data && requests.data.data.length > 0 && (
        <div class="table-scroll">
          <table class="stack">
            <caption class="visually-hidden">Requests made with this key, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Outcome</th>
                <th scope="col">Time (ms)</th>
                <th scope="col">Client</th>
              </tr>
            </thead>
            <tbody>
              {requests.data.data.map((r) => (
                <tr>
                  <td data-label="When">
                    <Time iso={r.at} />
                  </td>
                  <td data-label="Request">
                    <code>
                      {r.method} {r.path}
                    </code>
                    {r.route && <span class="muted"> via {r.route}</span>}
                  </td>
                  <td data-label="Status">{r.status}</td>
                  <td data-label="Outcome">
                    <span class={r.outcome === "OK" ? "badge ok" : "badge bad"}>{r.outcome}</span>
                  </td>
                  <td data-label="Time (ms)">
                    {count(r.gatewayMs)} keygate{r.upstreamMs !== null && `, ${count(r.upstreamMs)} origin`}
                  </td>
                  <td data-label="Client">{r.ip ?? <span class="muted">unknown</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Pages of requests" page={pages.page} nextCursor={requests.data?.nextCursor} onNext={pages.next} onPrevious={pages.previous} />
    </section>
  );
}

export function KeyAudit(props: { session: Session; id: string; round: number }) {
  const audit = useLoad(() => props.session.client.audit({ targetId: props.id, limit: 50 }), [props.id, props.round]);
  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit trail</h2>
      <ProblemMessage problem={audit.problem} />
      {audit.data && <AuditTable entries={audit.data.data} caption="Changes to this key, newest first" showKey={false} />}
    </section>
  );
}
