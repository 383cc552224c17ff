/**
 * One plan: its settings and owners; for admins, an editor that shows what a change would do
 * (POST /plans/{id}/preview) before it is saved, and deletion after a confirmation.
 */
import { useLayoutEffect, useRef, useState } from "hono/jsx/dom";
import { count, maxKeysText, PLAN_FIELD_LABELS, planCreditsText, planFieldText, rateLimitsText, relativeTime, scopeCeilingText } from "../../client/format.ts";
import type { Plan, PlanChange, PlanPreview, UpdatePlanInput } from "../../client/index.ts";
import { Dialog } from "../components/dialog.tsx";
import { issuesByField } from "../components/field.tsx";
import { PlanFields, updatePlanBody } from "../components/plan-form.tsx";
import { Time } from "../components/status.tsx";
import { ProblemMessage, useAction, useLoad } from "../data.tsx";
import { href, Link, navigate } from "../router.tsx";
import { mayChange, type Problem, type Session } from "../session.ts";
import { PendingText } from "./plans.tsx";
import { DetailsList, type DetailRow } from "../components/details.tsx";

export function PlanPage(props: { session: Session; id: string }) {
  const [round, setRound] = useState(0);
  const record = useLoad(() => props.session.client.plans.get(props.id), [props.id, round]);
  const [note, setNote] = useState("");
  const plan = record.data;
  if (!plan) {
    return (
      <>
        <h1 tabindex={-1}>{record.problem ? "Plan not shown" : "Plan"}</h1>
        <ProblemMessage problem={record.problem} />
        {record.loading && <p class="loading">Loading…</p>}
        <p>
          <Link to={href("/plans")}>Back to the plans</Link>
        </p>
      </>
    );
  }
  const admin = mayChange(props.session, "plans");
  return (
    <>
      <p class="crumbs">
        <Link to={href("/plans")}>All plans</Link> / <code>{plan.id}</code>
      </p>
      <div class="title">
        <h1 tabindex={-1}>Plan {plan.name}</h1>
      </div>
      {admin && <DeletePlan session={props.session} plan={plan} />}
      <p role="status" class="hint">
        {note}
      </p>
      <Details plan={plan} />
      {admin && (
        <EditPlan
          session={props.session}
          plan={plan}
          onSaved={(text) => {
            setNote(text);
            setRound((r) => r + 1);
          }}
        />
      )}
      <p>
        <button type="button" class="secondary" onClick={() => setRound((r) => r + 1)}>
          Refresh
        </button>
      </p>
    </>
  );
}

function Details(props: { plan: Plan }) {
  const p = props.plan;
  const rows: DetailRow[] = [
    ["ID", <code>{p.id}</code>],
    ["Description", p.description ?? <span class="muted">none</span>],
    ["Owners", <Link to={href("/owners", { plan: p.id })}>{`${count(p.owners)} owner${p.owners === 1 ? "" : "s"}`}</Link>],
    ["Key rate limits", rateLimitsText(p.keyRatelimits)],
    ["Owner rate limits", rateLimitsText(p.ownerRatelimits)],
    ["Owner credits", planCreditsText(p.ownerCredits)],
    ["Keys per owner", maxKeysText(p.maxKeys)],
    ["Scope ceiling", scopeCeilingText(p.scopes)],
    ["Pending", <PendingText plan={p} />],
    ["Created", <Time iso={p.createdAt} />],
    ["Updated", <Time iso={p.updatedAt} />],
    ["Version", String(p.version)],
  ];
  return <DetailsList rows={rows} />;
}

/** What a saved change answered, as the page announces it. */
function savedText(change: PlanChange): string {
  if (change.status === 200) return "Saved: in force on the next request of every key the plan touches.";
  const { pending, inForceBy } = change.accepted;
  return `Saved. ${count(pending)} owner${pending === 1 ? "" : "s"} still to take the change in; in force for all of them by ${new Date(inForceBy).toLocaleTimeString()} (${relativeTime(inForceBy)}).`;
}

function EditPlan(props: { session: Session; plan: Plan; onSaved: (note: string) => void }) {
  const { client } = props.session;
  const [open, setOpen] = useState(false);
  const [note, setNote] = useState("");
  const [previewed, setPreviewed] = useState<{ body: UpdatePlanInput; preview: PlanPreview } | null>(null);
  const preview = useAction((body: UpdatePlanInput) => client.plans.preview(props.plan.id, body));
  const save = useAction((body: UpdatePlanInput) => client.plans.update(props.plan.id, body));

  const submit = async (event: Event) => {
    event.preventDefault();
    preview.clear();
    save.clear();
    setNote("");
    const body = updatePlanBody(event.target as HTMLFormElement, props.plan);
    if (Object.keys(body).length === 0) {
      setPreviewed(null);
      setNote("Nothing changed.");
      return;
    }
    const answer = await preview.run(body);
    setPreviewed(answer ? { body, preview: answer } : null);
  };
  const confirm = async () => {
    if (!previewed) return;
    const change = await save.run(previewed.body);
    if (!change) return;
    setPreviewed(null);
    setOpen(false);
    props.onSaved(savedText(change));
  };
  const problem = preview.problem ?? save.problem;
  const fieldProblems = issuesByField(problem?.issues ?? []);
  return (
    <section aria-labelledby="edit-heading">
      <div class="section-head">
        <h2 id="edit-heading">Settings</h2>
        <button
          type="button"
          class="secondary"
          aria-expanded={open ? "true" : "false"}
          aria-controls="edit-form"
          onClick={() => {
            setOpen(!open);
            setPreviewed(null);
          }}
        >
          {open ? "Close editor" : "Edit"}
        </button>
      </div>
      <p role="status" class="hint">
        {note}
      </p>
      {open && (
        // Any edit after a preview makes it stale: it goes, and the change must be previewed again.
        <form id="edit-form" class="key-form" onSubmit={submit} onInput={() => previewed && setPreviewed(null)} key={props.plan.version}>
          <PlanFields mode="edit" plan={props.plan} problems={fieldProblems} />
          <div class="form-actions">
            {!previewed && <ProblemMessage problem={problem} />}
            <button type="submit" disabled={preview.busy}>
              Preview changes
            </button>
          </div>
        </form>
      )}
      {open && previewed && (
        <PreviewPanel preview={previewed.preview} busy={save.busy} problem={save.problem} onSave={confirm} onKeepEditing={() => setPreviewed(null)} />
      )}
    </section>
  );
}

function PreviewPanel(props: { preview: PlanPreview; busy: boolean; problem: Problem | undefined; onSave: () => void; onKeepEditing: () => void }) {
  const { preview } = props;
  const heading = useRef<HTMLHeadingElement>(null);
  // Keyboard and screen-reader users land on what the change would do.
  useLayoutEffect(() => heading.current?.focus(), []);
  const changes = Object.entries(preview.changes);
  const refused = preview.refused.length > 0;
  return (
    <div class="preview" role="region" aria-labelledby="preview-heading">
      <h3 id="preview-heading" tabindex={-1} ref={heading}>
        What this change would do
      </h3>
      <p>
        It touches {count(preview.owners)} owner{preview.owners === 1 ? "" : "s"} on this plan and {count(preview.keys)} usable key
        {preview.keys === 1 ? "" : "s"} that follow the plan's key limits. Nothing has changed yet.
      </p>
      <div class="table-scroll">
        <table class="stack">
          <caption class="visually-hidden">Each setting that would change, before and after</caption>
          <thead>
            <tr>
              <th scope="col">Setting</th>
              <th scope="col">Now</th>
              <th scope="col">After saving</th>
            </tr>
          </thead>
          <tbody>
            {changes.map(([field, change]) => (
              <tr>
                <th scope="row" data-label="Setting">
                  {PLAN_FIELD_LABELS[field] ?? field}
                </th>
                <td data-label="Now">{planFieldText(field, change.from)}</td>
                <td data-label="After saving">{planFieldText(field, change.to)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {refused && (
        <div class="problem" role="alert">
          <strong>keygate would refuse this change.</strong> These keys hold scopes beyond the new ceiling (SCOPE_NOT_ALLOWED); narrow
          their scopes or widen the ceiling first:
          <ul>
            {preview.refused.map((k) => (
              <li>
                <Link to={href(`/keys/${k.id}`)}>{k.id}</Link> of {k.ownerId}: {k.scopes.join(" ")}
              </li>
            ))}
          </ul>
        </div>
      )}
      <div class="form-actions">
        <ProblemMessage problem={props.problem} />
        <button type="button" disabled={props.busy || refused} onClick={props.onSave}>
          Save changes
        </button>
        <button type="button" class="secondary" onClick={props.onKeepEditing}>
          Keep editing
        </button>
      </div>
    </div>
  );
}

function DeletePlan(props: { session: Session; plan: Plan }) {
  const [open, setOpen] = useState(false);
  const remove = useAction(() => props.session.client.plans.delete(props.plan.id));
  const close = () => {
    remove.clear();
    setOpen(false);
  };
  const confirm = async () => {
    if (!(await remove.run())) return;
    setOpen(false);
    navigate(href("/plans"));
  };
  const { plan } = props;
  return (
    <div class="key-actions">
      <div class="actions">
        <button type="button" class="danger" onClick={() => setOpen(true)}>
          Delete
        </button>
      </div>
      {open && (
        <Dialog title={`Delete plan ${plan.name}?`} onClose={close}>
          <p>
            Plan <code>{plan.id}</code> goes for good.{" "}
            {plan.owners > 0
              ? `${count(plan.owners)} owner${plan.owners === 1 ? " is" : "s are"} on it: keygate keeps a plan while any owner is on it, so move them to another plan first.`
              : "No owner is on it."}
          </p>
          <div class="dialog-actions">
            <ProblemMessage problem={remove.problem} />
            <button type="button" class="secondary" onClick={close}>
              Cancel
            </button>
            <button type="button" class="danger" disabled={remove.busy} onClick={confirm}>
              Delete plan
            </button>
          </div>
        </Dialog>
      )}
    </div>
  );
}
