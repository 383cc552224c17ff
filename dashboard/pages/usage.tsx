/**
 * Usage by owner or by plan: how much each customer, or each plan's customers together, used over
 * a period, from GET /usage?groupBy=owner|plan.
 */
import { count } from "../../client/format.ts";
import type { UsageCounts } from "../../client/index.ts";
import { OUTCOMES } from "../components/chart.tsx";
import { ProblemMessage, useLoad } from "../data.tsx";
import { href, Link, navigate } from "../router.tsx";
import type { Session } from "../session.ts";

const HOUR = 3_600_000;
const PERIODS: [string, string, number][] = [
  ["24h", "Last 24 hours", 24 * HOUR],
  ["7d", "Last 7 days", 7 * 24 * HOUR],
  ["30d", "Last 30 days", 30 * 24 * HOUR],
];

const ms = (value: number | null) => (value === null ? "–" : `≤ ${count(value)}`);

function Figures(props: { row: UsageCounts }) {
  return (
    <>
      <td data-label="Requests">{count(props.row.requests)}</td>
      {OUTCOMES.map((o) => (
        <td data-label={o.label}>{count(props.row[o.field])}</td>
      ))}
      <td data-label="Credits used">{count(props.row.creditsUsed)}</td>
      <td data-label="p95 keygate ms">{ms(props.row.latency.gatewayMs.p95)}</td>
    </>
  );
}

export function UsagePage(props: { session: Session; query: URLSearchParams }) {
  const period = PERIODS.find(([id]) => id === props.query.get("period")) ?? PERIODS[2];
  const by = props.query.get("by") === "plan" ? "plan" : "owner";
  const usage = useLoad(
    () => props.session.client.usage({ groupBy: by, from: new Date(Date.now() - period[2]).toISOString() }),
    [period[0], by],
  );
  const choose = (change: Record<string, string>) =>
    navigate(href("/usage", { period: props.query.get("period") ?? undefined, by: props.query.get("by") ?? undefined, ...change }), { replace: true });
  const label = by === "plan" ? "Plan" : "Owner";
  return (
    <>
      <div class="page-head">
        <h1 tabindex={-1}>Usage by {by}</h1>
        <div class="actions">
          <div class="field inline">
            <label for="group-by">Group by</label>
            <select id="group-by" value={by} onChange={(e: Event) => choose({ by: (e.target as HTMLSelectElement).value })}>
              <option value="owner">Owner</option>
              <option value="plan">Plan</option>
            </select>
          </div>
          <div class="field inline">
            <label for="period">Period</label>
            <select id="period" value={period[0]} onChange={(e: Event) => choose({ period: (e.target as HTMLSelectElement).value })}>
              {PERIODS.map(([id, label]) => (
                <option value={id}>{label}</option>
              ))}
            </select>
          </div>
        </div>
      </div>
      <p class="hint">
        {by === "plan"
          ? "Every request through the gateway, by the plan its key's owner is on now; at most 60 s behind."
          : "Every request through the gateway, by the owner of the key it carried; at most 60 s behind."}
      </p>
      {usage.problem && (
        <div class="unavailable">
          <p>Usage cannot be shown right now.</p>
          <ProblemMessage problem={usage.problem} />
        </div>
      )}
      {usage.data && usage.data.data.length === 0 && <p class="empty">No requests in this period.</p>}
      {usage.data && usage.data.data.length > 0 && (
        <div class="table-scroll">
          <table class="stack numbers">
            <caption class="visually-hidden">Requests per {by}, most first</caption>
            <thead>
              <tr>
                <th scope="col">{label}</th>
                <th scope="col">Requests</th>
                {OUTCOMES.map((o) => (
                  <th scope="col">{o.label}</th>
                ))}
                <th scope="col">Credits used</th>
                <th scope="col">p95 keygate ms</th>
              </tr>
            </thead>
            <tbody>
              {usage.data.data.map((row) => (
                <tr>
                  <th scope="row" data-label={label}>
                    {by === "plan" ? (
                      row.group ? (
                        <Link to={href(`/plans/${row.group}`)}>{row.group}</Link>
                      ) : (
                        <span class="muted">no plan (and requests refused before a key was known)</span>
                      )
                    ) : row.group ? (
                      <Link to={href("/", { q: row.group })}>{row.group}</Link>
                    ) : (
                      <span class="muted">no key (refused before a key was known)</span>
                    )}
                  </th>
                  <Figures row={row} />
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row" data-label={label}>
                  {by === "plan" ? "All plans" : "All owners"}
                </th>
                <Figures row={usage.data.totals} />
              </tr>
            </tfoot>
          </table>
        </div>
      )}
      {usage.loading && <p class="loading">Loading…</p>}
    </>
  );
}
