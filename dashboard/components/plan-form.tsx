/**
 * A plan's settings as form fields, for creating a plan and for editing one, and the body they
 * make. keygate checks every value; the page turns text into the API's types and shows keygate's
 * problems beside the fields they name.
 */
import { useState } from "hono/jsx/dom";
import type { CreatePlanInput, Plan, UpdatePlanInput } from "../../client/index.ts";
import { describedBy, Field, type FieldProblems } from "./field.tsx";
import { LimitRows, readLimits, same } from "./limits-field.tsx";

const words = (text: string) => text.split(/[\s,]+/).filter(Boolean);

export function PlanFields(props: { mode: "create" | "edit"; plan?: Plan; problems: FieldProblems }) {
  const { plan, problems, mode } = props;
  const [interval, setCreditsInterval] = useState<string>(plan?.ownerCredits?.interval ?? "none");
  const input = (id: string, hint = false) => ({
    id,
    name: id,
    "aria-invalid": problems[id] ? ("true" as const) : undefined,
    "aria-describedby": describedBy(id, hint, problems[id]),
  });
  return (
    <>
      {mode === "create" && (
        <Field id="id" label="Plan ID" problem={problems.id} hint="Lower-case letters, digits, _ and -, at most 40, e.g. pro. Owners name their plan by it; it cannot change.">
          <input {...input("id", true)} type="text" required autocomplete="off" spellcheck={false} maxlength={40} />
        </Field>
      )}
      <Field id="name" label="Name" problem={problems.name} hint="What people call it, e.g. Pro.">
        <input {...input("name", true)} type="text" required autocomplete="off" value={plan?.name} />
      </Field>
      <Field id="description" label="Description" problem={problems.description}>
        <textarea {...input("description")} rows={2} value={plan?.description ?? ""} />
      </Field>
      <LimitRows
        field="keyRatelimits"
        legend="Key rate limits"
        addLabel="Add key rate limit"
        hint="Each key's own limits, unless the key sets its own. None: keys of this plan's owners have no limit of their own."
        initial={plan?.keyRatelimits ?? []}
        problem={problems.keyRatelimits}
      />
      <LimitRows
        field="ownerRatelimits"
        legend="Owner rate limits"
        addLabel="Add owner rate limit"
        hint="Limits all the keys of one owner share, unless the owner sets its own."
        initial={plan?.ownerRatelimits ?? []}
        problem={problems.ownerRatelimits}
      />
      <fieldset class={problems.ownerCredits ? "invalid" : undefined} aria-describedby={describedBy("ownerCredits", true, problems.ownerCredits)}>
        <legend>Owner credits</legend>
        <p class="hint" id="ownerCredits-hint">
          A balance all the keys of one owner draw from: it starts at the amount and is refilled to it.
        </p>
        <Field id="creditsInterval" label="Shared balance" problem={undefined}>
          <select id="creditsInterval" name="creditsInterval" value={interval} onChange={(e: Event) => setCreditsInterval((e.target as HTMLSelectElement).value)}>
            <option value="none">None</option>
            <option value="daily">Refilled daily, at 00:00 UTC</option>
            <option value="monthly">Refilled monthly</option>
          </select>
        </Field>
        {interval !== "none" && (
          <Field id="creditsAmount" label="Credits per owner" problem={undefined}>
            <input id="creditsAmount" name="creditsAmount" type="number" min="1" required value={plan?.ownerCredits ? String(plan.ownerCredits.amount) : undefined} />
          </Field>
        )}
        {interval === "monthly" && (
          <Field id="creditsDay" label="Refill day of the month" problem={undefined}>
            <input id="creditsDay" name="creditsDay" type="number" min="1" max="31" value={String(plan?.ownerCredits?.day ?? 1)} />
          </Field>
        )}
        {problems.ownerCredits && (
          <p class="field-problem" id="ownerCredits-problem">
            {problems.ownerCredits}
          </p>
        )}
      </fieldset>
      <Field id="maxKeys" label="Keys per owner" problem={problems.maxKeys} hint="Usable keys an owner on this plan may hold. Empty: MAX_KEYS_PER_OWNER.">
        <input {...input("maxKeys", true)} type="number" min="1" value={plan?.maxKeys === null || plan?.maxKeys === undefined ? undefined : String(plan.maxKeys)} />
      </Field>
      <Field id="scopes" label="Scope ceiling" problem={problems.scopes} hint="The most a key of this plan's owners may hold, separated by spaces. Empty: no ceiling.">
        <input {...input("scopes", true)} type="text" autocomplete="off" spellcheck={false} value={plan?.scopes?.join(" ") ?? ""} />
      </Field>
    </>
  );
}

type Settings = Required<Omit<UpdatePlanInput, "name">> & { name: string };

function readSettings(form: HTMLFormElement): Settings {
  const data = new FormData(form);
  const text = (name: string) => String(data.get(name) ?? "").trim();
  const interval = text("creditsInterval");
  const amount = Number(text("creditsAmount"));
  const scopes = words(text("scopes"));
  return {
    name: text("name"),
    description: text("description") || null,
    keyRatelimits: readLimits(data, "keyRatelimits"),
    ownerRatelimits: readLimits(data, "ownerRatelimits"),
    ownerCredits:
      interval === "daily" ? { amount, interval } : interval === "monthly" ? { amount, interval, day: Number(text("creditsDay") || 1) } : null,
    maxKeys: text("maxKeys") === "" ? null : Number(text("maxKeys")),
    scopes: scopes.length ? scopes : null,
  };
}

export function createPlanBody(form: HTMLFormElement): CreatePlanInput {
  const id = String(new FormData(form).get("id") ?? "").trim();
  return { id, ...readSettings(form) };
}

/** A monthly balance as the form writes it names its day (keygate's default is 1). */
const asWritten = (c: Plan["ownerCredits"]) => c && (c.interval === "monthly" ? { ...c, day: c.day ?? 1 } : { amount: c.amount, interval: c.interval });

/** Only what differs from the plan as loaded: a change to one field touches nothing else. */
export function updatePlanBody(form: HTMLFormElement, plan: Plan): UpdatePlanInput {
  const settings = readSettings(form);
  const current: Settings = {
    name: plan.name,
    description: plan.description,
    keyRatelimits: plan.keyRatelimits,
    ownerRatelimits: plan.ownerRatelimits,
    ownerCredits: asWritten(plan.ownerCredits),
    maxKeys: plan.maxKeys,
    scopes: plan.scopes,
  };
  const body: UpdatePlanInput = {};
  for (const name of Object.keys(settings) as (keyof Settings)[]) {
    if (!same(settings[name], current[name])) Object.assign(body, { [name]: settings[name] });
  }
  return body;
}
