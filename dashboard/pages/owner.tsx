/**
 * One owner: its plan, the limits and balance all its keys share with what is left of them, its
 * keys and its usage over time; for operators and admins, an editor (name, plan, shared limits,
 * credits, metadata) and a portal link.
 */
import { useState } from "hono/jsx/dom";
import { balanceText, count, creditsText, limitStateText, rateLimitsText } from "../../client/format.ts";
import type { Owner, UpdateOwnerInput } from "../../client/index.ts";
import { UsageChart } from "../components/chart.tsx";
import { describedBy, Field, issuesByField, type FieldProblems } from "../components/field.tsx";
import { LimitRows, readLimits, same } from "../components/limits-field.tsx";
import { Pager, usePages } from "../components/pager.tsx";
import { PortalLinkControl } from "../components/portal-link.tsx";
import { StatusBadge, Time } from "../components/status.tsx";
import { ProblemMessage, useAction, useLoad } from "../data.tsx";
import { href, Link } from "../router.tsx";
import { mayChange, type Session } from "../session.ts";
import { DetailsList, type DetailRow } from "../components/details.tsx";

export function OwnerPage(props: { session: Session; id: string }) {
  const [round, setRound] = useState(0);
  const record = useLoad(() => props.session.client.owners.get(props.id), [props.id, round]);
  const owner = record.data;
  if (!owner) {
    return (
      <>
        <h1 tabindex={-1}>{record.problem ? "Owner not shown" : "Owner"}</h1>
        <ProblemMessage problem={record.problem} />
        {record.loading && <p class="loading">Loading…</p>}
        <p>
          <Link to={href("/owners")}>Back to the owners</Link>
        </p>
      </>
    );
  }
  return (
    <>
      <p class="crumbs">
        <Link to={href("/owners")}>All owners</Link> / <code class="wrap">{owner.id}</code>
      </p>
      <div class="title">
        <h1 tabindex={-1}>{owner.name ?? owner.id}</h1>
        {owner.plan ? <span class="badge ok">{owner.plan}</span> : <span class="badge">no plan</span>}
      </div>
      <Details owner={owner} />
      {mayChange(props.session, "owners") && <EditOwner session={props.session} owner={owner} onChanged={() => setRound((r) => r + 1)} />}
      <PortalLinkControl session={props.session} ownerId={owner.id} />
      <OwnerKeys session={props.session} id={owner.id} round={round} />
      <OwnerUsage session={props.session} id={owner.id} round={round} />
      <p>
        <button type="button" class="secondary" onClick={() => setRound((r) => r + 1)}>
          Refresh
        </button>
      </p>
    </>
  );
}

function Details(props: { owner: Owner }) {
  const o = props.owner;
  const limits = o.limits.map((l) => limitStateText({ ...l, name: l.name.replace(/^owner\./, "") }));
  const fromPlan = o.plan ? "none: the plan's apply" : "none";
  const rows: DetailRow[] = [
    ["ID", <code class="wrap">{o.id}</code>],
    ["Name", o.name ?? <span class="muted">none</span>],
    ["Plan", o.plan ? <Link to={href(`/plans/${o.plan}`)}>{o.plan}</Link> : <span class="muted">none</span>],
    ["Keys", `${count(o.keys)} usable`],
    [
      "Shared limits, what is left",
      limits.length ? (
        <ul class="changes">
          {limits.map((text) => (
            <li>{text}</li>
          ))}
        </ul>
      ) : (
        "none"
      ),
    ],
    ["Shared balance", balanceText(o.balance)],
    ["Own rate limits", o.ratelimits ? (o.ratelimits.length ? rateLimitsText(o.ratelimits) : "none shared (the plan's do not apply)") : fromPlan],
    ["Own credits", o.credits ? creditsText(o.credits) : fromPlan],
    ["Metadata", <code class="wrap">{JSON.stringify(o.metadata)}</code>],
    ["Created", <Time iso={o.createdAt} />],
    ["Updated", <Time iso={o.updatedAt} />],
    ["Version", String(o.version)],
  ];
  return <DetailsList rows={rows} />;
}

type Refill = NonNullable<NonNullable<Owner["credits"]>["refill"]>;
const asWritten = (refill: Refill | null) => refill && (refill.interval === "monthly" ? { ...refill, day: refill.day ?? 1 } : { amount: refill.amount, interval: refill.interval });

/** Only the fields that differ from the owner as loaded: renaming an owner never resets its balance. */
function ownerBody(form: HTMLFormElement, owner: Owner): { body?: UpdateOwnerInput; problems: FieldProblems } {
  const data = new FormData(form);
  const text = (name: string) => String(data.get(name) ?? "").trim();
  const problems: FieldProblems = {};
  let metadata: Record<string, unknown> = {};
  try {
    metadata = text("metadata") ? JSON.parse(text("metadata")) : {};
  } catch (err) {
    problems.metadata = `not JSON: ${(err as Error).message}`;
  }
  if (Object.keys(problems).length) return { problems };
  const interval = text("refill");
  const amount = Number(text("refillAmount"));
  const refill: Refill | null = interval === "daily" ? { amount, interval } : interval === "monthly" ? { amount, interval, day: Number(text("refillDay") || 1) } : null;
  const after: Required<UpdateOwnerInput> = {
    name: text("name") || null,
    plan: text("plan") || null,
    ratelimits: text("limitsFrom") === "own" ? readLimits(data, "ratelimits") : null,
    credits: text("creditsFrom") === "own" ? { remaining: Number(text("credits")), refill } : null,
    metadata,
  };
  const before: Required<UpdateOwnerInput> = {
    name: owner.name,
    plan: owner.plan,
    ratelimits: owner.ratelimits,
    credits: owner.credits && { remaining: owner.credits.remaining, refill: asWritten(owner.credits.refill) },
    metadata: owner.metadata,
  };
  const body: UpdateOwnerInput = {};
  for (const name of Object.keys(after) as (keyof UpdateOwnerInput)[]) {
    if (!same(after[name], before[name])) Object.assign(body, { [name]: after[name] });
  }
  return { body, problems };
}

function EditOwner(props: { session: Session; owner: Owner; onChanged: () => void }) {
  const { owner } = props;
  const [open, setOpen] = useState(false);
  const [problems, setProblems] = useState<FieldProblems>({});
  const [note, setNote] = useState("");
  const [limitsFrom, setLimitsFrom] = useState(owner.ratelimits ? "own" : "plan");
  const [creditsFrom, setCreditsFrom] = useState(owner.credits ? "own" : "plan");
  const [refill, setRefill] = useState<string>(owner.credits?.refill?.interval ?? "none");
  const plans = useLoad(() => (open ? props.session.client.plans.list() : Promise.resolve(null)), [open]);
  const save = useAction((body: UpdateOwnerInput) => props.session.client.owners.update(owner.id, body));

  const submit = async (event: Event) => {
    event.preventDefault();
    save.clear();
    setNote("");
    const { body, problems } = ownerBody(event.target as HTMLFormElement, owner);
    setProblems(problems);
    if (!body) return;
    if (Object.keys(body).length === 0) {
      setNote("Nothing changed.");
      return;
    }
    if (await save.run(body)) {
      setOpen(false);
      setNote("Saved: in force on the next request of every key of this owner.");
      props.onChanged();
    }
  };
  const fieldProblems = { ...problems, ...issuesByField(save.problem?.issues ?? []) };
  const input = (id: string, hint = false) => ({
    id,
    name: id,
    "aria-invalid": fieldProblems[id] ? ("true" as const) : undefined,
    "aria-describedby": describedBy(id, hint, fieldProblems[id]),
  });
  const choices = plans.data?.data.map((p) => [p.id, p.name]) ?? [];
  if (owner.plan && !choices.some(([id]) => id === owner.plan)) choices.push([owner.plan, owner.plan]);
  return (
    <section aria-labelledby="edit-heading">
      <div class="section-head">
        <h2 id="edit-heading">Settings</h2>
        <button type="button" class="secondary" aria-expanded={open ? "true" : "false"} aria-controls="edit-form" onClick={() => setOpen(!open)}>
          {open ? "Close editor" : "Edit"}
        </button>
      </div>
      <p role="status" class="hint">
        {note}
      </p>
      {open && (
        <form id="edit-form" class="key-form" onSubmit={submit} key={owner.version}>
          <Field id="name" label="Name" problem={fieldProblems.name}>
            <input {...input("name")} type="text" autocomplete="off" value={owner.name ?? ""} />
          </Field>
          <Field id="plan" label="Plan" problem={fieldProblems.plan} hint="Moving to a plan whose scope ceiling the owner's keys exceed is refused, naming the keys.">
            <select {...input("plan", true)} value={owner.plan ?? ""}>
              <option value="">No plan</option>
              {choices.map(([id, name]) => (
                <option value={id}>{name === id ? id : `${name} (${id})`}</option>
              ))}
            </select>
          </Field>
          <Field id="limitsFrom" label="Shared limits" problem={undefined}>
            <select id="limitsFrom" name="limitsFrom" value={limitsFrom} onChange={(e: Event) => setLimitsFrom((e.target as HTMLSelectElement).value)}>
              <option value="plan">The plan's</option>
              <option value="own">The owner's own</option>
            </select>
          </Field>
          {limitsFrom === "own" && (
            <LimitRows
              field="ratelimits"
              legend="Shared rate limits"
              addLabel="Add shared limit"
              hint="Limits all of this owner's keys share, in place of the plan's. None: nothing shared."
              initial={owner.ratelimits ?? []}
              problem={fieldProblems.ratelimits}
            />
          )}
          <fieldset class={fieldProblems.credits ? "invalid" : undefined}>
            <legend>Shared credits</legend>
            <Field id="creditsFrom" label="Balance" problem={undefined}>
              <select id="creditsFrom" name="creditsFrom" value={creditsFrom} onChange={(e: Event) => setCreditsFrom((e.target as HTMLSelectElement).value)}>
                <option value="plan">The plan's, if it has one</option>
                <option value="own">The owner's own</option>
              </select>
            </Field>
            {creditsFrom === "own" && (
              <>
                <Field id="credits" label="Credits" problem={fieldProblems.credits} hint="The balance all this owner's keys draw from, set now.">
                  <input {...input("credits", true)} type="number" min="0" required value={owner.credits ? String(owner.credits.remaining) : undefined} />
                </Field>
                <Field id="refill" label="Refill" problem={undefined}>
                  <select id="refill" name="refill" value={refill} onChange={(e: Event) => setRefill((e.target as HTMLSelectElement).value)}>
                    <option value="none">No refill</option>
                    <option value="daily">Daily, at 00:00 UTC</option>
                    <option value="monthly">Monthly</option>
                  </select>
                </Field>
                {refill !== "none" && (
                  <Field id="refillAmount" label="Refill to" problem={undefined}>
                    <input id="refillAmount" name="refillAmount" type="number" min="1" required value={owner.credits?.refill ? String(owner.credits.refill.amount) : undefined} />
                  </Field>
                )}
                {refill === "monthly" && (
                  <Field id="refillDay" label="Refill day of the month" problem={undefined}>
                    <input id="refillDay" name="refillDay" type="number" min="1" max="31" value={String(owner.credits?.refill?.day ?? 1)} />
                  </Field>
                )}
              </>
            )}
          </fieldset>
          <Field id="metadata" label="Metadata" problem={fieldProblems.metadata} hint="A JSON object your origin receives in X-Keygate-Owner-Metadata.">
            <textarea {...input("metadata", true)} rows={3} spellcheck={false} value={JSON.stringify(owner.metadata, null, 2)} />
          </Field>
          <div class="form-actions">
            <ProblemMessage problem={save.problem ?? plans.problem} />
            <button type="submit" disabled={save.busy}>
              Save changes
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

function OwnerKeys(props: { session: Session; id: string; round: number }) {
  const pages = usePages(props.id);
  const keys = useLoad(
    () => props.session.client.keys.list({ ownerId: props.id, limit: 25, ...(pages.cursor ? { cursor: pages.cursor } : {}) }),
    [props.id, pages.cursor, props.round],
  );
  return (
    <section aria-labelledby="keys-heading">
      <h2 id="keys-heading">Keys</h2>
      <ProblemMessage problem={keys.problem} />
      {keys.data && keys.data.data.length === 0 && <p class="empty">This owner has no keys.</p>}
      {keys.data && keys.data.data.length > 0 && (
        <div class="table-scroll">
          <table class="stack">
            <caption class="visually-hidden">The owner's keys, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Start</th>
                <th scope="col">Name</th>
                <th scope="col">Scopes</th>
                <th scope="col">Own limits</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.data.map((k) => (
                <tr>
                  <td data-label="Start">
                    <code>{k.start}</code>
                  </td>
                  <td data-label="Name">
                    <Link to={href(`/keys/${k.id}`)}>{k.name}</Link>
                  </td>
                  <td data-label="Scopes">{k.scopes.join(" ") || <span class="muted">none</span>}</td>
                  <td data-label="Own limits">{k.ratelimits.length ? rateLimitsText(k.ratelimits) : <span class="muted">the plan's</span>}</td>
                  <td data-label="Last used">
                    <Time iso={k.lastUsedAt} />
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
      <Pager label="Pages of the owner's keys" page={pages.page} nextCursor={keys.data?.nextCursor} onNext={pages.next} onPrevious={pages.previous} />
    </section>
  );
}

function OwnerUsage(props: { session: Session; id: string; round: number }) {
  const [granularity, setGranularity] = useState<"hour" | "day">("hour");
  const usage = useLoad(() => props.session.client.owners.usage(props.id, { granularity }), [props.id, granularity, props.round]);
  return (
    <section aria-labelledby="usage-heading">
      <div class="section-head">
        <h2 id="usage-heading">Usage across its keys</h2>
        <div class="field inline">
          <label for="usage-period">Period</label>
          <select id="usage-period" value={granularity} onChange={(e: Event) => setGranularity((e.target as HTMLSelectElement).value as "hour" | "day")}>
            <option value="hour">Last 24 hours, hourly</option>
            <option value="day">Last 30 days, daily</option>
          </select>
        </div>
      </div>
      {usage.problem && (
        <div class="unavailable">
          <p>Usage cannot be shown right now; the rest of this page still works.</p>
          <ProblemMessage problem={usage.problem} />
        </div>
      )}
      {usage.data && <UsageChart usage={usage.data} />}
      {usage.data && usage.data.totals.requests === 0 && <p class="muted">No requests in this period yet. Figures arrive up to 60 s after the requests.</p>}
    </section>
  );
}
