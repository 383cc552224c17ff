/** Security events: refusals a reviewer looks for, leaks, suspensions and failed sign-ins, newest first. */
import { FilterForm } from "../components/filters.tsx";
import { Pager, usePages } from "../components/pager.tsx";
import { Time } from "../components/status.tsx";
import { ProblemMessage, useLoad } from "../data.tsx";
import { href, Link } from "../router.tsx";
import type { Session } from "../session.ts";

const CODES = ["MALFORMED_KEY", "KEY_NOT_FOUND", "TOO_MANY_INVALID_KEYS", "KEY_REVOKED", "KEY_EXPIRED", "KEY_SUSPENDED", "IP_NOT_ALLOWED", "KEY_LEAKED", "UNAUTHORIZED"] as const;
type Code = (typeof CODES)[number];

export function SecurityPage(props: { session: Session; query: URLSearchParams }) {
  const requested = props.query.get("code") ?? "";
  const code = (CODES as readonly string[]).includes(requested) ? (requested as Code) : "";
  const ip = props.query.get("ip") ?? "";
  const filters = `${code}\n${ip}`;
  const pages = usePages(filters);
  const events = useLoad(
    () =>
      props.session.client.securityEvents({
        limit: 50,
        ...(code ? { code } : {}),
        ...(ip ? { ip } : {}),
        ...(pages.cursor ? { cursor: pages.cursor } : {}),
      }),
    [filters, pages.cursor],
  );
  return (
    <>
      <h1 tabindex={-1}>Security events</h1>
      <p class="lead">Refusals before a key is known, dead or suspended keys in use, addresses a key does not allow, leak reports and failed admin sign-ins. Kept 30 days.</p>
      <FilterForm label="Security events" path="/security" names={["code", "ip"]}>
        <div class="field">
          <label for="code">Code</label>
          <select id="code" name="code" value={code}>
            <option value="">Any</option>
            {CODES.map((c) => (
              <option value={c}>{c}</option>
            ))}
          </select>
        </div>
        <div class="field grow">
          <label for="ip">Client IP</label>
          <input id="ip" name="ip" type="search" value={ip} autocomplete="off" spellcheck={false} placeholder="203.0.113.9" />
        </div>
        <button type="submit" class="secondary">
          Filter
        </button>
      </FilterForm>
      <ProblemMessage problem={events.problem} />
      {events.data && events.data.data.length === 0 && <p class="empty">No security event matches these filters.</p>}
      {events.data && events.data.data.length > 0 && (
        <div class="table-scroll">
          <table class="stack">
            <caption class="visually-hidden">Security events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Code</th>
                <th scope="col">Client</th>
                <th scope="col">Key</th>
                <th scope="col">Request</th>
                <th scope="col">Count</th>
              </tr>
            </thead>
            <tbody>
              {events.data.data.map((e) => (
                <tr>
                  <td data-label="When">
                    <Time iso={e.at} />
                  </td>
                  <td data-label="Code">
                    <code>{e.code}</code>
                  </td>
                  <td data-label="Client">
                    {e.ip ?? <span class="muted">unknown</span>}
                    {e.country && <span class="muted"> {e.country}</span>}
                    {e.userAgent && <div class="muted small">{e.userAgent}</div>}
                  </td>
                  <td data-label="Key">
                    {e.keyId ? (
                      <Link to={href(`/keys/${e.keyId}`)}>
                        <code>{e.keyStart ? `${e.keyStart}…` : e.keyId}</code>
                      </Link>
                    ) : e.keyStart ? (
                      <code>{e.keyStart}…</code>
                    ) : (
                      <span class="muted">none</span>
                    )}
                  </td>
                  <td data-label="Request">
                    <code class="wrap">
                      {e.method} {e.path}
                    </code>
                    <div class="muted small">{e.requestId}</div>
                  </td>
                  <td data-label="Count">{e.count ?? 1}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Pages of security events" page={pages.page} nextCursor={events.data?.nextCursor} onNext={pages.next} onPrevious={pages.previous} />
      {events.loading && <p class="loading">Loading…</p>}
    </>
  );
}
