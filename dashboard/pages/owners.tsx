/**
 * Owners: search by id or name (the list's `q`), filter by plan, in id order, a page at a time;
 * each with its plan, usable keys and requests of the last 24 hours.
 */
import { count } from "../../client/format.ts";
import { FilterForm } from "../components/filters.tsx";
import { Pager, usePages } from "../components/pager.tsx";
import { ProblemMessage, useLoad } from "../data.tsx";
import { href, Link } from "../router.tsx";
import type { Session } from "../session.ts";

const PAGE_SIZE = 25;

export function OwnersPage(props: { session: Session; query: URLSearchParams }) {
  const q = props.query.get("q") ?? "";
  const plan = props.query.get("plan") ?? "";
  const filters = `${q}\n${plan}`;
  const pages = usePages(filters);
  const plans = useLoad(() => props.session.client.plans.list(), []);
  const list = useLoad(
    () =>
      props.session.client.owners.list({
        limit: PAGE_SIZE,
        ...(q ? { q } : {}),
        ...(plan ? { plan } : {}),
        ...(pages.cursor ? { cursor: pages.cursor } : {}),
      }),
    [filters, pages.cursor],
  );
  const planName = (id: string | null) => (id ? (plans.data?.data.find((p) => p.id === id)?.name ?? id) : null);
  // A plan named in the address but not (or no longer) in the list still shows as chosen.
  const choices = plans.data?.data.map((p) => [p.id, p.name]) ?? [];
  if (plan && !choices.some(([id]) => id === plan)) choices.push([plan, plan]);
  return (
    <>
      <h1 tabindex={-1}>Owners</h1>
      <p class="lead">Your customers: each key names one. An owner's plan and shared limits apply to all its keys.</p>
      <FilterForm label="Owners" path="/owners" names={["q", "plan"]}>
        <div class="field grow">
          <label for="q">Search by id or name</label>
          <input id="q" name="q" type="search" value={q} autocomplete="off" />
        </div>
        <div class="field">
          <label for="filter-plan">Plan</label>
          <select id="filter-plan" name="plan" value={plan}>
            <option value="">All</option>
            {choices.map(([id, name]) => (
              <option value={id}>{name === id ? id : `${name} (${id})`}</option>
            ))}
          </select>
        </div>
        <button type="submit" class="secondary">
          Search
        </button>
      </FilterForm>
      <ProblemMessage problem={list.problem ?? plans.problem} />
      {list.data && list.data.data.length === 0 && (
        <p class="empty">{q || plan ? "No owner matches these filters." : "No owners yet: an owner exists once a key names it."}</p>
      )}
      {list.data && list.data.data.length > 0 && (
        <div class="table-scroll">
          <table class="stack">
            <caption class="visually-hidden">Owners, by id</caption>
            <thead>
              <tr>
                <th scope="col">ID</th>
                <th scope="col">Name</th>
                <th scope="col">Plan</th>
                <th scope="col">Keys</th>
                <th scope="col">Requests, last 24 h</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((o) => (
                <tr>
                  <td data-label="ID">
                    <Link to={href(`/owners/${encodeURIComponent(o.id)}`)}>
                      <code class="wrap">{o.id}</code>
                    </Link>
                  </td>
                  <td data-label="Name">{o.name ?? <span class="muted">none</span>}</td>
                  <td data-label="Plan">{o.plan ? <Link to={href(`/plans/${o.plan}`)}>{planName(o.plan)}</Link> : <span class="muted">none</span>}</td>
                  <td data-label="Keys">{count(o.keys)}</td>
                  <td data-label="Requests, last 24 h">{count(o.requests24h)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Pages of owners" page={pages.page} nextCursor={list.data?.nextCursor} onNext={pages.next} onPrevious={pages.previous} />
      {list.loading && <p class="loading">Loading…</p>}
    </>
  );
}
