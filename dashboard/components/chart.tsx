/**
 * Requests over time by outcome: one stacked bar per hour or day of a key's usage series,
 * drawn in SVG with attributes and CSS classes only (the page's policy forbids inline
 * styles). The same figures follow as a table, for screen readers and for reading exact values.
 */
import { count, utcMinute } from "../../client/format.ts";
import type { KeyUsage, UsageCounts } from "../../client/index.ts";

export const OUTCOMES = [
  { field: "allowed", label: "Allowed" },
  { field: "rateLimited", label: "Rate limited" },
  { field: "quotaExhausted", label: "Quota exhausted" },
  { field: "denied", label: "Denied" },
] as const satisfies { field: keyof UsageCounts; label: string }[];

const WIDTH = 960;
const HEIGHT = 200;
const TOP = 16;
const BOTTOM = 24;

const when = (start: string, granularity: KeyUsage["granularity"]) =>
  granularity === "day" ? start.slice(0, 10) : `${utcMinute(start).slice(5)} UTC`;

export const outcomeSummary = (figures: UsageCounts) =>
  `${count(figures.requests)} requests: ${OUTCOMES.map((o) => `${count(figures[o.field])} ${o.label.toLowerCase()}`).join(", ")}`;

/** A key's usage, or any series shaped as one (the portal's usage of an owner). */
export function UsageChart(props: { usage: Pick<KeyUsage, "series" | "granularity" | "totals" | "from"> }) {
  const { series, granularity, totals } = props.usage;
  const max = Math.max(1, ...series.map((s) => s.requests));
  const slot = WIDTH / Math.max(1, series.length);
  const scale = (HEIGHT - TOP - BOTTOM) / max;
  const ticks = series.length > 1 ? [0, Math.floor((series.length - 1) / 2), series.length - 1] : [0];
  return (
    <figure class="chart">
      <div class="legend" aria-hidden="true">
        {OUTCOMES.map((o) => (
          <span class={`key ${o.field}`}>{o.label}</span>
        ))}
      </div>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width="100%" role="img" aria-label={`Requests per ${granularity} by outcome. ${outcomeSummary(totals)}.`}>
        <line class="axis" x1="0" x2={WIDTH} y1={HEIGHT - BOTTOM} y2={HEIGHT - BOTTOM} />
        <text class="tick" x="2" y="12">
          {count(max)}
        </text>
        {series.map((s, i) => {
          let y = HEIGHT - BOTTOM;
          return (
            <g>
              <title>{`${when(s.start, granularity)}: ${outcomeSummary(s)}`}</title>
              {OUTCOMES.map((o) => {
                const h = s[o.field] * scale;
                y -= h;
                return h > 0 ? <rect class={o.field} x={i * slot + slot * 0.15} y={y} width={slot * 0.7} height={h} /> : null;
              })}
            </g>
          );
        })}
        {ticks.map((i) => (
          <text class="tick" x={i * slot + slot / 2} y={HEIGHT - 6} text-anchor={i === 0 ? "start" : i === series.length - 1 ? "end" : "middle"}>
            {when(series[i]?.start ?? props.usage.from, granularity)}
          </text>
        ))}
      </svg>
      <figcaption>{outcomeSummary(totals)}.</figcaption>
      <details>
        <summary>Show the figures as a table</summary>
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{granularity === "day" ? "Day (UTC)" : "Hour (UTC)"}</th>
                <th scope="col">Requests</th>
                {OUTCOMES.map((o) => (
                  <th scope="col">{o.label}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {series.map((s) => (
                <tr>
                  <th scope="row">{when(s.start, granularity)}</th>
                  <td>{count(s.requests)}</td>
                  {OUTCOMES.map((o) => (
                    <td>{count(s[o.field])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
