/**
 * One webhook endpoint: its settings, a test event sent now, and every delivery attempt; for
 * writers, enable/disable, a new signing secret and deletion after a confirmation.
 */
import { useState } from "hono/jsx/dom";
import type { DeliveryAttempt, RotatedWebhook, Webhook, WebhookTestResult } from "../../client/index.ts";
import { Dialog } from "../components/dialog.tsx";
import { Pager, usePages } from "../components/pager.tsx";
import { RevealedKey } from "../components/reveal.tsx";
import { Time } from "../components/status.tsx";
import { ProblemMessage, useAction, useLoad } from "../data.tsx";
import { href, Link, navigate } from "../router.tsx";
import { mayChange, type Session } from "../session.ts";
import { EndpointBadge, SECRET_WARNING } from "./webhooks.tsx";
import { DetailsList, type DetailRow } from "../components/details.tsx";

export function WebhookPage(props: { session: Session; id: string; query: URLSearchParams }) {
  const [round, setRound] = useState(0);
  const endpoint = useLoad(() => props.session.client.webhooks.get(props.id), [props.id, round]);
  const changed = () => setRound((r) => r + 1);
  const w = endpoint.data;
  if (!w) {
    return (
      <>
        <h1 tabindex={-1}>{endpoint.problem ? "Endpoint not shown" : "Webhook endpoint"}</h1>
        <ProblemMessage problem={endpoint.problem} />
        {endpoint.loading && <p class="loading">Loading…</p>}
        <p>
          <Link to={href("/webhooks")}>Back to the webhooks</Link>
        </p>
      </>
    );
  }
  return (
    <>
      <p class="crumbs">
        <Link to={href("/webhooks")}>All webhooks</Link> / <code>{w.id}</code>
      </p>
      <div class="title">
        <h1 tabindex={-1}>
          Endpoint <code class="wrap">{w.url}</code>
        </h1>
        <EndpointBadge webhook={w} />
      </div>
      {mayChange(props.session, "webhooks") && <EndpointActions session={props.session} webhook={w} onChanged={changed} />}
      <EndpointDetails webhook={w} />
      <Deliveries session={props.session} id={w.id} status={props.query.get("status") ?? ""} round={round} />
    </>
  );
}

function EndpointDetails(props: { webhook: Webhook }) {
  const w = props.webhook;
  const rows: DetailRow[] = [
    ["ID", <code>{w.id}</code>],
    ["URL", <code class="wrap">{w.url}</code>],
    ["Events", w.events.join(" ")],
    ["Description", w.description ?? "none"],
    ["Failing since", <Time iso={w.failingSince} never="its last delivery succeeded" />],
    ["Created", <Time iso={w.createdAt} />],
    ["Updated", <Time iso={w.updatedAt} />],
  ];
  return <DetailsList rows={rows} />;
}

function attemptText(a: DeliveryAttempt): string {
  return a.status === "succeeded" ? `Delivered: the endpoint answered ${a.statusCode} in ${a.durationMs} ms.` : `Not delivered: ${a.error ?? "no answer"}.`;
}

function EndpointActions(props: { session: Session; webhook: Webhook; onChanged: () => void }) {
  const { client } = props.session;
  const w = props.webhook;
  const [dialog, setDialog] = useState<"delete" | null>(null);
  const [tested, setTested] = useState<WebhookTestResult | null>(null);
  const [secret, setSecret] = useState<RotatedWebhook | null>(null);
  const test = useAction(() => client.webhooks.test(w.id));
  const toggle = useAction(() => client.webhooks.update(w.id, { enabled: !w.enabled }));
  const rotate = useAction(() => client.webhooks.rotateSecret(w.id));
  const remove = useAction(() => client.webhooks.delete(w.id));

  const sendTest = async () => {
    setTested(null);
    const result = await test.run();
    if (result) {
      setTested(result);
      props.onChanged();
    }
  };
  const confirmDelete = async () => {
    if (!(await remove.run())) return;
    setDialog(null);
    navigate(href("/webhooks"));
  };
  return (
    <div class="key-actions">
      <div class="actions">
        <button type="button" disabled={test.busy} onClick={sendTest}>
          Send test event
        </button>
        <button type="button" class="secondary" disabled={toggle.busy} onClick={async () => (await toggle.run()) && props.onChanged()}>
          {w.enabled ? "Disable" : "Enable"}
        </button>
        <button type="button" class="secondary" disabled={rotate.busy} onClick={async () => setSecret((await rotate.run()) ?? null)}>
          Rotate secret
        </button>
        <button type="button" class="danger" onClick={() => setDialog("delete")}>
          Delete
        </button>
      </div>
      <p role="status" class={tested?.attempt.status === "failed" ? "problem" : "hint"}>
        {test.busy ? "Sending a webhook.test event…" : tested ? attemptText(tested.attempt) : ""}
      </p>
      <ProblemMessage problem={test.problem ?? toggle.problem ?? rotate.problem} />
      {secret && (
        <RevealedKey secret={secret.secret} heading="The endpoint's new signing secret" label="Signing secret" warning={SECRET_WARNING}>
          <p>
            Until {new Date(secret.previousSecretExpiresAt).toLocaleString()}, deliveries carry a signature under the previous secret too, so
            the receiver can switch to this one without missing any.
          </p>
        </RevealedKey>
      )}
      {dialog === "delete" && (
        <Dialog title="Delete this endpoint?" onClose={() => (remove.clear(), setDialog(null))}>
          <p>
            Nothing more is sent to <code class="wrap">{w.url}</code>, retries included. This cannot be undone.
          </p>
          <ProblemMessage problem={remove.problem} />
          <div class="dialog-actions">
            <button type="button" class="secondary" onClick={() => (remove.clear(), setDialog(null))}>
              Cancel
            </button>
            <button type="button" class="danger" disabled={remove.busy} onClick={confirmDelete}>
              Delete endpoint
            </button>
          </div>
        </Dialog>
      )}
    </div>
  );
}

function Deliveries(props: { session: Session; id: string; status: string; round: number }) {
  const [refreshed, setRefreshed] = useState(0);
  const status = props.status === "succeeded" || props.status === "failed" ? props.status : "";
  const pages = usePages(status);
  const attempts = useLoad(
    () =>
      props.session.client.webhooks.deliveries(props.id, {
        limit: 50,
        ...(status ? { status } : {}),
        ...(pages.cursor ? { cursor: pages.cursor } : {}),
      }),
    [props.id, status, pages.cursor, props.round, refreshed],
  );
  return (
    <section aria-labelledby="deliveries-heading">
      <div class="section-head">
        <h2 id="deliveries-heading">Deliveries</h2>
        <button type="button" class="secondary" onClick={() => setRefreshed((r) => r + 1)}>
          Refresh
        </button>
      </div>
      <div class="field">
        <label for="status">Result</label>
        <select
          id="status"
          value={status}
          onChange={(e: Event) => navigate(href(`/webhooks/${props.id}`, { status: (e.target as HTMLSelectElement).value || undefined }), { replace: true })}
        >
          <option value="">Any</option>
          <option value="succeeded">Delivered</option>
          <option value="failed">Failed</option>
        </select>
      </div>
      <ProblemMessage problem={attempts.problem} />
      {attempts.data && attempts.data.data.length === 0 && <p class="empty">No delivery attempt yet.</p>}
      {attempts.data && attempts.data.data.length > 0 && (
        <div class="table-scroll">
          <table class="stack">
            <caption class="visually-hidden">Delivery attempts, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Attempt</th>
                <th scope="col">Result</th>
                <th scope="col">Duration</th>
                <th scope="col">Next retry</th>
              </tr>
            </thead>
            <tbody>
              {attempts.data.data.map((a) => (
                <tr>
                  <td data-label="When">
                    <Time iso={a.at} />
                  </td>
                  <td data-label="Event">
                    <code>{a.eventType}</code> <code class="small">{a.eventId}</code>
                  </td>
                  <td data-label="Attempt">{a.attempt}</td>
                  <td data-label="Result">
                    {a.status === "succeeded" ? <span class="badge ok">{a.statusCode}</span> : <span class="badge bad">{a.statusCode ?? "failed"}</span>}
                    {a.error && <span class="muted"> {a.error}</span>}
                  </td>
                  <td data-label="Duration">{a.durationMs} ms</td>
                  <td data-label="Next retry">
                    <Time iso={a.nextRetryAt} never="none" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Pages of deliveries" page={pages.page} nextCursor={attempts.data?.nextCursor} onNext={pages.next} onPrevious={pages.previous} />
      {attempts.loading && <p class="loading">Loading…</p>}
    </section>
  );
}
