/**
 * The keys: search by name or owner (the list's `q`), filters by environment and status,
 * newest first, a page at a time. Filters live in the query string, so Back and links keep them.
 */
import { creditsText, rateLimitsText } from "../../client/format.ts";
import type { ListKeysQuery } from "../../client/index.ts";
import { FilterForm } from "../components/filters.tsx";
import { Pager, usePages } from "../components/pager.tsx";
import { StatusBadge, Time } from "../components/status.tsx";
import { StartCell } from "../components/key-start.tsx";
import { ProblemMessage, useLoad } from "../data.tsx";
import { href, Link, navigate } from "../router.tsx";
import type { Session } from "../session.ts";

const PAGE_SIZE = 25;

export function KeysPage(props: { session: Session; query: URLSearchParams }) {
  const q = props.query.get("q") ?? "";
  const environment = props.query.get("environment") ?? "";
  const status = props.query.get("status") ?? "";
  const filters = `${q}\n${environment}\n${status}`;
  const pages = usePages(filters);
  const list = useLoad(
    () =>
      props.session.client.keys.list({
        limit: PAGE_SIZE,
        ...(q ? { q } : {}),
        ...(environment ? { environment: environment as ListKeysQuery["environment"] } : {}),
        ...(status ? { status: status as ListKeysQuery["status"] } : {}),
        ...(pages.cursor ? { cursor: pages.cursor } : {}),
      }),
    [filters, pages.cursor],
  );

  const filtering = q || environment || status;

  return (
    <>
      <div class="page-head">
        <h1 tabindex={-1}>API keys</h1>
        {props.session.canWrite && (
          <button type="button" onClick={() => navigate(href("/keys/new"))}>
            Create key
          </button>
        )}
      </div>
      <FilterForm label="Keys" path="/" names={["q", "environment", "status"]}>
        <div class="field grow">
          <label for="q">Search by name or owner</label>
          <input id="q" name="q" type="search" value={q} autocomplete="off" />
        </div>
        <div class="field">
          <label for="filter-environment">Environment</label>
          <select id="filter-environment" name="environment" value={environment}>
            <option value="">All</option>
            <option value="live">live</option>
            <option value="test">test</option>
          </select>
        </div>
        <div class="field">
          <label for="filter-status">Status</label>
          <select id="filter-status" name="status" value={status}>
            <option value="">All</option>
            <option value="active">active</option>
            <option value="revoked">revoked</option>
            <option value="expired">expired</option>
          </select>
        </div>
        <button type="submit" class="secondary">
          Search
        </button>
      </FilterForm>
      <ProblemMessage problem={list.problem} />
      {list.data && list.data.data.length === 0 && (
        <p class="empty">
          {filtering ? "No key matches these filters." : props.session.canWrite ? "No keys yet. Create one to get started." : "No keys yet."}
        </p>
      )}
      {list.data && list.data.data.length > 0 && (
        <div class="table-scroll">
          <table class="keys stack">
            <caption class="visually-hidden">API keys, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Start</th>
                <th scope="col">Name</th>
                <th scope="col">Owner</th>
                <th scope="col">Scopes</th>
                <th scope="col">Limits</th>
                <th scope="col">Credits</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((k) => (
                <tr>
                  <td data-label="Start">
                    <StartCell start={k.start} />
                  </td>
                  <td data-label="Name">
                    <Link to={href(`/keys/${k.id}`)}>{k.name}</Link>
                  </td>
                  <td data-label="Owner">{k.ownerId}</td>
                  <td data-label="Scopes">{k.scopes.join(" ") || <span class="muted">none</span>}</td>
                  <td data-label="Limits">{rateLimitsText(k.ratelimits)}</td>
                  <td data-label="Credits">{creditsText(k.credits)}</td>
                  <td data-label="Last used">
                    <Time iso={k.lastUsedAt} />
                  </td>
                  <td data-label="Expires">
                    <Time iso={k.expiresAt} />
                  </td>
                  <td data-label="Status">
                    <StatusBadge record={k} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Pages of keys" page={pages.page} nextCursor={list.data?.nextCursor} onNext={pages.next} onPrevious={pages.previous} />
      {list.loading && <p class="loading">Loading…</p>}
    </>
  );
}
