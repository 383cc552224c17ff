/**
 * Webhook endpoints: every endpoint with what it receives and how it fares; for writers, a
 * form that adds one and shows its signing secret once.
 */
import { useState } from "hono/jsx/dom";
import type { CreatedWebhook, Webhook } from "../../client/index.ts";
import { issuesByField, type FieldProblems } from "../components/field.tsx";
import { Pager, usePages } from "../components/pager.tsx";
import { RevealedKey } from "../components/reveal.tsx";
import { Time } from "../components/status.tsx";
import { ProblemMessage, useAction, useLoad } from "../data.tsx";
import { href, Link } from "../router.tsx";
import { mayChange, type Session } from "../session.ts";

/** Every event type an endpoint can ask for (DESIGN.md, "Events and webhooks"). */
export const EVENT_TYPES = [
  "key.created",
  "key.updated",
  "key.rotated",
  "key.revoked",
  "key.expiring",
  "key.expired",
  "key.rate_limited",
  "key.credits_low",
  "key.suspended",
  "key.leaked",
  "owner.updated",
  "plan.updated",
  "webhook.test",
] as const;

export const SECRET_WARNING =
  "Copy this signing secret now and keep it with the receiver: it verifies every delivery (Standard Webhooks), and it will not be shown again.";

/** How an endpoint fares, as a badge. */
export function EndpointBadge(props: { webhook: Webhook }) {
  const w = props.webhook;
  if (!w.enabled) {
    const why = w.disabledReason === "gone" ? "disabled: answered 410" : w.disabledReason === "failing" ? "disabled: failing 3 days" : "disabled";
    return <span class="badge bad">{why}</span>;
  }
  return w.failingSince ? <span class="badge warn">failing</span> : <span class="badge ok">enabled</span>;
}

export function WebhooksPage(props: { session: Session }) {
  const [round, setRound] = useState(0);
  const pages = usePages(String(round));
  const list = useLoad(() => props.session.client.webhooks.list({ limit: 50, ...(pages.cursor ? { cursor: pages.cursor } : {}) }), [pages.cursor, round]);
  return (
    <>
      <h1 tabindex={-1}>Webhooks</h1>
      <p class="lead">keygate tells these endpoints what happens to keys, signed as Standard Webhooks.</p>
      {mayChange(props.session, "webhooks") && <AddEndpoint session={props.session} onAdded={() => setRound((r) => r + 1)} />}
      <section aria-labelledby="endpoints-heading">
        <h2 id="endpoints-heading">Endpoints</h2>
        <ProblemMessage problem={list.problem} />
        {list.data && list.data.data.length === 0 && <p class="empty">No endpoint yet.</p>}
        {list.data && list.data.data.length > 0 && (
          <div class="table-scroll">
            <table class="stack">
              <caption class="visually-hidden">Webhook endpoints, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">URL</th>
                  <th scope="col">Events</th>
                  <th scope="col">Status</th>
                  <th scope="col">Description</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {list.data.data.map((w) => (
                  <tr>
                    <td data-label="URL">
                      <Link to={href(`/webhooks/${w.id}`)}>
                        <code class="wrap">{w.url}</code>
                      </Link>
                    </td>
                    <td data-label="Events">{w.events.join(" ")}</td>
                    <td data-label="Status">
                      <EndpointBadge webhook={w} />
                    </td>
                    <td data-label="Description">{w.description ?? <span class="muted">none</span>}</td>
                    <td data-label="Created">
                      <Time iso={w.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager label="Pages of endpoints" page={pages.page} nextCursor={list.data?.nextCursor} onNext={pages.next} onPrevious={pages.previous} />
        {list.loading && <p class="loading">Loading…</p>}
      </section>
    </>
  );
}

function AddEndpoint(props: { session: Session; onAdded: () => void }) {
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  const [problems, setProblems] = useState<FieldProblems>({});
  const [round, setRound] = useState(0);
  const add = useAction(props.session.client.webhooks.create);

  if (created) {
    return (
      <RevealedKey secret={created.secret} heading="The endpoint's signing secret" label="Signing secret" warning={SECRET_WARNING}>
        <p class="actions">
          <Link to={href(`/webhooks/${created.id}`)} class="button">
            View the endpoint
          </Link>
          <button type="button" class="secondary" onClick={() => (setCreated(null), setRound(round + 1))}>
            Add another endpoint
          </button>
        </p>
      </RevealedKey>
    );
  }

  const submit = async (event: Event) => {
    event.preventDefault();
    add.clear();
    const data = new FormData(event.target as HTMLFormElement);
    const url = String(data.get("url") ?? "").trim();
    const every = data.get("every") === "on";
    const events = every ? ["*"] : data.getAll("events").map(String);
    const found: FieldProblems = {};
    if (!url) found.url = "Give the URL deliveries go to.";
    if (events.length === 0) found.events = "Choose at least one event, or every event.";
    setProblems(found);
    if (Object.keys(found).length) return;
    const description = String(data.get("description") ?? "").trim();
    const answer = await add.run({ url, events: events as never, ...(description ? { description } : {}) });
    if (answer) {
      setCreated(answer);
      props.onAdded();
    }
  };
  const fieldProblems = { ...problems, ...issuesByField(add.problem?.issues ?? []) };
  return (
    <section aria-labelledby="add-heading">
      <h2 id="add-heading">Add an endpoint</h2>
      <form class="key-form" onSubmit={submit} key={round}>
        <div class={fieldProblems.url ? "field invalid" : "field"}>
          <label for="url">URL</label>
          <input id="url" name="url" type="url" inputmode="url" autocomplete="off" spellcheck={false} placeholder="https://example.com/webhooks/keygate" aria-describedby={`url-hint${fieldProblems.url ? " url-problem" : ""}`} />
          <p class="hint" id="url-hint">
            https:, or http: for a loopback address (127.0.0.1, localhost) while you try it out.
          </p>
          {fieldProblems.url && (
            <p class="field-problem" id="url-problem">
              {fieldProblems.url}
            </p>
          )}
        </div>
        <fieldset class={fieldProblems.events ? "invalid" : undefined} aria-describedby={fieldProblems.events ? "events-problem" : undefined}>
          <legend>Events</legend>
          <div class="field checkbox">
            <input id="every" name="every" type="checkbox" />
            <label for="every">Every event</label>
          </div>
          <div class="checks">
            {EVENT_TYPES.map((type) => (
              <div class="field checkbox">
                <input id={`event-${type}`} name="events" type="checkbox" value={type} />
                <label for={`event-${type}`}>
                  <code>{type}</code>
                </label>
              </div>
            ))}
          </div>
          {fieldProblems.events && (
            <p class="field-problem" id="events-problem">
              {fieldProblems.events}
            </p>
          )}
        </fieldset>
        <div class={fieldProblems.description ? "field invalid" : "field"}>
          <label for="description">Description</label>
          <input id="description" name="description" type="text" autocomplete="off" maxlength={500} />
        </div>
        <div class="form-actions">
          <ProblemMessage problem={add.problem} />
          <button type="submit" disabled={add.busy}>
            Add endpoint
          </button>
        </div>
      </form>
    </section>
  );
}
