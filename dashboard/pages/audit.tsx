/** The audit log: every change, newest first, filtered by key, actor and action. */
import { AuditTable } from "../components/audit-table.tsx";
import { FilterForm } from "../components/filters.tsx";
import { Pager, usePages } from "../components/pager.tsx";
import { ProblemMessage, useLoad } from "../data.tsx";
import type { Session } from "../session.ts";

const ACTIONS = [
  "key.create",
  "key.update",
  "key.rotate",
  "key.revoke",
  "key.suspend",
  "key.leak",
  "webhook.create",
  "webhook.update",
  "webhook.rotate_secret",
  "webhook.delete",
  "webhook.disable",
];

export function AuditPage(props: { session: Session; query: URLSearchParams }) {
  const targetId = props.query.get("targetId") ?? "";
  const actor = props.query.get("actor") ?? "";
  const action = props.query.get("action") ?? "";
  const filters = `${targetId}\n${actor}\n${action}`;
  const pages = usePages(filters);
  const audit = useLoad(
    () =>
      props.session.client.audit({
        limit: 50,
        ...(targetId ? { targetId } : {}),
        ...(actor ? { actor } : {}),
        ...(action ? { action } : {}),
        ...(pages.cursor ? { cursor: pages.cursor } : {}),
      }),
    [filters, pages.cursor],
  );
  return (
    <>
      <h1 tabindex={-1}>Audit log</h1>
      <FilterForm label="Audit log" path="/audit" names={["targetId", "actor", "action"]}>
        <div class="field grow">
          <label for="targetId">Key id</label>
          <input id="targetId" name="targetId" type="search" value={targetId} autocomplete="off" spellcheck={false} placeholder="key_… or whk_…" />
        </div>
        <div class="field">
          <label for="actor">Actor</label>
          <input id="actor" name="actor" type="search" value={actor} autocomplete="off" spellcheck={false} placeholder="root or key_…" />
        </div>
        <div class="field">
          <label for="action">Action</label>
          <select id="action" name="action" value={action}>
            <option value="">Any</option>
            {ACTIONS.map((a) => (
              <option value={a}>{a}</option>
            ))}
          </select>
        </div>
        <button type="submit" class="secondary">
          Filter
        </button>
      </FilterForm>
      <ProblemMessage problem={audit.problem} />
      {audit.data && audit.data.data.length === 0 && <p class="empty">No change matches these filters.</p>}
      {audit.data && audit.data.data.length > 0 && <AuditTable entries={audit.data.data} caption="Audit log, newest first" showKey={true} />}
      <Pager label="Pages of the audit log" page={pages.page} nextCursor={audit.data?.nextCursor} onNext={pages.next} onPrevious={pages.previous} />
      {audit.loading && <p class="loading">Loading…</p>}
    </>
  );
}
