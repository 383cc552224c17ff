/**
 * Plans: every plan with its owner count and any change still on its way to its owners; for
 * admins, a form that creates one.
 */
import { useState } from "hono/jsx/dom";
import { count, maxKeysText, planCreditsText, rateLimitsText, relativeTime, scopeCeilingText } from "../../client/format.ts";
import type { Plan } from "../../client/index.ts";
import { issuesByField, type FieldProblems } from "../components/field.tsx";
import { createPlanBody, PlanFields } from "../components/plan-form.tsx";
import { ProblemMessage, useAction, useLoad } from "../data.tsx";
import { href, Link, navigate } from "../router.tsx";
import { mayChange, type Session } from "../session.ts";


/** A change still on its way to some of the plan's owners, and by when it is in force for all. */
export function PendingText(props: { plan: Pick<Plan, "pending" | "inForceBy"> }) {
  if (props.plan.pending === 0) return <span class="muted">none</span>;
  const by = props.plan.inForceBy;
  return (
    <span class="badge warn">
      {count(props.plan.pending)} owner{props.plan.pending === 1 ? "" : "s"}
      {by && (
        <>
          , in force by{" "}
          <time datetime={by} title={by}>
            {relativeTime(by)}
          </time>
        </>
      )}
    </span>
  );
}

export function PlansPage(props: { session: Session }) {
  const [round, setRound] = useState(0);
  const list = useLoad(() => props.session.client.plans.list(), [round]);
  const admin = mayChange(props.session, "plans");
  return (
    <>
      <h1 tabindex={-1}>Plans</h1>
      <p class="lead">What an owner's keys get: their own limits, what all the owner's keys share, and the most they may hold.</p>
      <section aria-labelledby="plans-heading">
        <h2 id="plans-heading">Every plan</h2>
        <ProblemMessage problem={list.problem} />
        {list.data && list.data.data.length === 0 && <p class="empty">{admin ? "No plan yet. Create one below." : "No plan yet."}</p>}
        {list.data && list.data.data.length > 0 && (
          <div class="table-scroll">
            <table class="stack">
              <caption class="visually-hidden">Plans, by id, with their owners</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">ID</th>
                  <th scope="col">Owners</th>
                  <th scope="col">Key limits</th>
                  <th scope="col">Owner limits</th>
                  <th scope="col">Owner credits</th>
                  <th scope="col">Keys per owner</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Pending</th>
                </tr>
              </thead>
              <tbody>
                {list.data.data.map((p) => (
                  <tr>
                    <td data-label="Name">
                      <Link to={href(`/plans/${p.id}`)}>{p.name}</Link>
                    </td>
                    <td data-label="ID">
                      <code>{p.id}</code>
                    </td>
                    <td data-label="Owners">{p.owners > 0 ? <Link to={href("/owners", { plan: p.id })}>{count(p.owners)}<span class="visually-hidden"> owners on {p.name}</span></Link> : "0"}</td>
                    <td data-label="Key limits">{rateLimitsText(p.keyRatelimits)}</td>
                    <td data-label="Owner limits">{rateLimitsText(p.ownerRatelimits)}</td>
                    <td data-label="Owner credits">{planCreditsText(p.ownerCredits)}</td>
                    <td data-label="Keys per owner">{maxKeysText(p.maxKeys)}</td>
                    <td data-label="Scopes">{scopeCeilingText(p.scopes)}</td>
                    <td data-label="Pending">
                      <PendingText plan={p} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {list.loading && <p class="loading">Loading…</p>}
      </section>
      {admin && <CreatePlan session={props.session} onCreated={() => setRound((r) => r + 1)} />}
    </>
  );
}

function CreatePlan(props: { session: Session; onCreated: () => void }) {
  const [problems, setProblems] = useState<FieldProblems>({});
  const create = useAction(props.session.client.plans.create);
  const submit = async (event: Event) => {
    event.preventDefault();
    create.clear();
    const body = createPlanBody(event.target as HTMLFormElement);
    const found: FieldProblems = {};
    if (!body.id) found.id = "Give the plan an id, e.g. pro.";
    setProblems(found);
    if (Object.keys(found).length) return;
    const plan = await create.run(body);
    if (plan) {
      props.onCreated();
      navigate(href(`/plans/${plan.id}`));
    }
  };
  const fieldProblems = { ...problems, ...issuesByField(create.problem?.issues ?? []) };
  return (
    <section aria-labelledby="create-plan-heading">
      <h2 id="create-plan-heading">Create a plan</h2>
      <form class="key-form" onSubmit={submit}>
        <PlanFields mode="create" problems={fieldProblems} />
        <div class="form-actions">
          <ProblemMessage problem={create.problem} />
          <button type="submit" disabled={create.busy}>
            Create plan
          </button>
        </div>
      </form>
    </section>
  );
}
