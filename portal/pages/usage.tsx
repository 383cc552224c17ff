/**
 * The owner's usage over time (requests by outcome), what is left of the limits and credits, and
 * one key's recent requests.
 */
import { useState } from "hono/jsx/dom";
import { count, creditsText, keyLabel, rateLimitsText, utcMinute } from "../../client/format.ts";
import type { PortalMe } from "../../client/portal.ts";
import { UsageChart } from "../../dashboard/components/chart.tsx";
import { StatusBadge } from "../../dashboard/components/status.tsx";
import { KeyNamed } from "../../dashboard/components/key-start.tsx";
import { ProblemMessage, useLoad } from "../../dashboard/data.tsx";
import { client, PORTAL_PATH } from "../session.ts";

const LATE = "Figures arrive up to a minute after the requests are made.";

export function UsagePage(props: { me: PortalMe }) {
  const [granularity, setGranularity] = useState<"hour" | "day">("hour");
  const usage = useLoad(() => client.usage({ granularity }), [granularity]);
  const keys = useLoad(() => client.keys.list({ limit: 100 }), []);
  return (
    <>
      <div class="page-head">
        <h1 tabindex={-1}>Usage</h1>
        <div class="field inline">
          <label for="usage-period">Period</label>
          <select id="usage-period" value={granularity} onChange={(e: Event) => setGranularity((e.target as HTMLSelectElement).value as "hour" | "day")}>
            <option value="hour">Last 24 hours, hourly</option>
            <option value="day">Last 30 days, daily</option>
          </select>
        </div>
      </div>
      <section aria-labelledby="requests-heading">
        <h2 id="requests-heading">Requests over time</h2>
        <p class="hint">{LATE}</p>
        <ProblemMessage problem={usage.problem} />
        {usage.data && <UsageChart usage={usage.data} />}
        {usage.loading && !usage.data && <p class="loading">Loading…</p>}
      </section>
      <section aria-labelledby="limits-heading">
        <h2 id="limits-heading">Limits and credits left</h2>
        <SharedLimits me={props.me} />
        <ProblemMessage problem={keys.problem} />
        {keys.data && keys.data.data.length > 0 && (
          <div class="table-scroll">
            <table class="stack">
              <caption class="visually-hidden">Each key's limits and credits</caption>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Rate limits</th>
                  <th scope="col">Credits</th>
                  <th scope="col">Requests</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {keys.data.data.map((k) => (
                  <tr>
                    <td data-label="Key">
                      {k.name} <KeyNamed record={k} />
                    </td>
                    <td data-label="Rate limits">{rateLimitsText(k.ratelimits)}</td>
                    <td data-label="Credits">{creditsText(k.credits)}</td>
                    <td data-label="Requests">{count(k.usageCount)}</td>
                    <td data-label="Status">
                      <StatusBadge record={k} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p class="hint">
          Credits left here may lag a minute behind. A key's own answer is exact: <code>GET {PORTAL_PATH}/api/key</code> with the key as a
          bearer token.
        </p>
      </section>
      {keys.data && keys.data.data.length > 0 && <RecentRequests keys={keys.data.data.map((k) => ({ id: k.id, label: `${k.name} (${keyLabel(k)})` }))} />}
    </>
  );
}

function SharedLimits(props: { me: PortalMe }) {
  const { limits, credits } = props.me;
  if (limits.length === 0 && !credits) return <p>No limits or credits are shared across your keys: each key has its own, below.</p>;
  return (
    <dl class="details">
      {limits.map((l) => (
        <div>
          <dt>{l.name}</dt>
          <dd>
            {count(l.remaining)} of {count(l.limit)} left, for {l.reset} more seconds
          </dd>
        </div>
      ))}
      {credits && (
        <div>
          <dt>Shared credits</dt>
          <dd>{creditsText(credits)}</dd>
        </div>
      )}
    </dl>
  );
}

function RecentRequests(props: { keys: { id: string; label: string }[] }) {
  const [keyId, setKeyId] = useState(props.keys[0].id);
  const log = useLoad(() => client.keys.requests(keyId), [keyId]);
  return (
    <section aria-labelledby="recent-heading">
      <div class="section-head">
        <h2 id="recent-heading">Recent requests</h2>
        <div class="field inline">
          <label for="recent-key">Key</label>
          <select id="recent-key" value={keyId} onChange={(e: Event) => setKeyId((e.target as HTMLSelectElement).value)}>
            {props.keys.map((k) => (
              <option value={k.id}>{k.label}</option>
            ))}
          </select>
        </div>
      </div>
      <ProblemMessage problem={log.problem} />
      {log.data && log.data.data.length === 0 && <p class="empty">No requests with this key in the last 7 days.</p>}
      {log.data && log.data.data.length > 0 && (
        <div class="table-scroll">
          <table class="stack">
            <caption class="visually-hidden">Requests made with the key, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Method</th>
                <th scope="col">Path</th>
                <th scope="col">Status</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {log.data.data.map((r) => (
                <tr>
                  <td data-label="Time (UTC)">{utcMinute(r.at)}</td>
                  <td data-label="Method">{r.method}</td>
                  <td data-label="Path">
                    <code>{r.path}</code>
                  </td>
                  <td data-label="Status">{r.status}</td>
                  <td data-label="Outcome">{r.outcome}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
