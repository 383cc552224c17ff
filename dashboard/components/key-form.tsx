/**
 * The key's settings as form fields, shared by the create page and the key page's edit form,
 * and the request body they make. keygate validates every value; the page only turns text
 * into the API's types and shows keygate's problems beside the fields they name.
 */
import { useLayoutEffect, useRef, useState } from "hono/jsx/dom";
import type { CreateKeyInput, KeyRecord, UpdateKeyInput } from "../../client/index.ts";
import { describedBy, Field, FieldProblem, type FieldProblems } from "./field.tsx";

const DAY = 86_400;
/** Expiry choices: seconds from now, "never", a date, or (editing) the key's current expiry. */
const EXPIRY_CHOICES: [string, string][] = [
  ["never", "Never"],
  [String(DAY), "In 1 day"],
  [String(7 * DAY), "In 7 days"],
  [String(30 * DAY), "In 30 days"],
  [String(90 * DAY), "In 90 days"],
  [String(365 * DAY), "In 1 year"],
  ["date", "On a date…"],
];

interface LimitRow {
  id: number;
  name: string;
  limit: string;
  windowSeconds: string;
}

let rowIds = 0;
const row = (r?: KeyRecord["ratelimits"][number]): LimitRow => ({
  id: ++rowIds,
  name: r?.name ?? "",
  limit: r ? String(r.limit) : "",
  windowSeconds: r ? String(r.windowSeconds) : "",
});

const words = (text: string) => text.split(/[\s,]+/).filter(Boolean);

/** The fields every key has, filled from `key` when editing. `create` adds the fields set only at creation. */
export function KeyFields(props: { mode: "create" | "edit"; record?: KeyRecord; problems: FieldProblems }) {
  const { record: key, problems, mode } = props;
  const [rows, setRows] = useState<LimitRow[]>(() => (key?.ratelimits ?? []).map(row));
  const [expires, setExpires] = useState(mode === "edit" ? "keep" : "never");
  const [refill, setRefill] = useState<string>(key?.credits?.refill?.interval ?? "none");
  // Keyboard users land in the row they added, or back on "Add rate limit" after removing one.
  const [focus, setFocus] = useState<{ row: number } | { add: true } | null>(null);
  const addButton = useRef<HTMLButtonElement>(null);
  useLayoutEffect(() => {
    if (focus && "row" in focus) document.querySelector<HTMLInputElement>(`[name="limit-name-${focus.row}"]`)?.focus();
    if (focus && "add" in focus) addButton.current?.focus();
  }, [focus]);
  const input = (id: string, hint = false) => ({
    id,
    name: id,
    "aria-invalid": problems[id] ? ("true" as const) : undefined,
    "aria-describedby": describedBy(id, hint, problems[id]),
  });

  return (
    <>
      <Field id="name" label="Name" problem={problems.name} hint="What the key is for, e.g. “Acme production”.">
        <input {...input("name", true)} type="text" required autocomplete="off" value={key?.name} />
      </Field>
      {mode === "create" && (
        <>
          <Field id="ownerId" label="Owner" problem={problems.ownerId} hint="Your customer's id, e.g. acct_42. Your origin receives it as X-Keygate-Owner-Id.">
            <input {...input("ownerId", true)} type="text" required autocomplete="off" spellcheck={false} />
          </Field>
          <Field id="environment" label="Environment" problem={problems.environment}>
            <select {...input("environment")}>
              <option value="live">live</option>
              <option value="test">test</option>
            </select>
          </Field>
        </>
      )}
      <Field id="scopes" label="Scopes" problem={problems.scopes} hint="Separated by spaces, e.g. posts:read posts:write. Empty: no scopes.">
        <input {...input("scopes", true)} type="text" autocomplete="off" spellcheck={false} value={key?.scopes.join(" ")} />
      </Field>
      <Field id="expires" label="Expires" problem={problems.expires}>
        <select {...input("expires")} value={expires} onChange={(e: Event) => setExpires((e.target as HTMLSelectElement).value)}>
          {mode === "edit" && <option value="keep">{key?.expiresAt ? "Keep the current expiry" : "Keep: never"}</option>}
          {EXPIRY_CHOICES.map(([value, label]) => (
            <option value={value}>{label}</option>
          ))}
        </select>
      </Field>
      {expires === "date" && (
        <Field id="expiresAt" label="Expiry date" problem={undefined} hint="In your local time.">
          <input {...input("expiresAt", true)} type="datetime-local" required />
        </Field>
      )}

      <fieldset class={problems.ratelimits ? "invalid" : undefined} aria-describedby={describedBy("ratelimits", true, problems.ratelimits)}>
        <legend>Rate limits</legend>
        <p class="hint" id="ratelimits-hint">
          Each limit allows a number of requests per window, shared by the key and its rotations. None: unlimited.
        </p>
        {rows.map((r, i) => (
          <div class="limit-row" key={r.id}>
            <label>
              <span>Label</span>
              <input name={`limit-name-${r.id}`} aria-label={`Rate limit ${i + 1} label`} type="text" value={r.name} placeholder="minute" required />
            </label>
            <label>
              <span>Requests</span>
              <input name={`limit-limit-${r.id}`} aria-label={`Rate limit ${i + 1} requests`} type="number" min="1" value={r.limit} required />
            </label>
            <label>
              <span>Window (seconds)</span>
              <input name={`limit-window-${r.id}`} aria-label={`Rate limit ${i + 1} window in seconds`} type="number" min="1" value={r.windowSeconds} required />
            </label>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setRows(rows.filter((other) => other.id !== r.id));
                setFocus({ add: true });
              }}
            >
              Remove<span class="visually-hidden"> rate limit {i + 1}</span>
            </button>
          </div>
        ))}
        <button
          type="button"
          class="secondary"
          ref={addButton}
          onClick={() => {
            const added = row();
            setRows([...rows, added]);
            setFocus({ row: added.id });
          }}
        >
          Add rate limit
        </button>
        <FieldProblem id="ratelimits" problem={problems.ratelimits} />
      </fieldset>

      <fieldset class={problems.credits ? "invalid" : undefined}>
        <legend>Quota</legend>
        <Field id="credits" label="Credits" problem={problems.credits} hint="Requests the key may make before it is refused (a route may cost more than 1). Empty: unlimited.">
          <input {...input("credits", true)} type="number" min="0" value={key?.credits ? String(key.credits.remaining) : undefined} />
        </Field>
        <Field id="refill" label="Refill" problem={undefined}>
          <select {...input("refill")} value={refill} onChange={(e: Event) => setRefill((e.target as HTMLSelectElement).value)}>
            <option value="none">No refill</option>
            <option value="daily">Daily, at 00:00 UTC</option>
            <option value="monthly">Monthly</option>
          </select>
        </Field>
        {refill !== "none" && (
          <Field id="refillAmount" label="Refill to" problem={undefined} hint="The balance after each refill.">
            <input {...input("refillAmount", true)} type="number" min="1" required value={key?.credits?.refill ? String(key.credits.refill.amount) : undefined} />
          </Field>
        )}
        {refill === "monthly" && (
          <Field id="refillDay" label="Refill day of the month" problem={undefined}>
            <input {...input("refillDay")} type="number" min="1" max="31" value={String(key?.credits?.refill?.day ?? 1)} />
          </Field>
        )}
      </fieldset>

      <Field id="allowedIps" label="Allowed IPs" problem={problems.allowedIps} hint="Addresses or CIDR ranges, separated by spaces or new lines. Empty: any address.">
        <textarea {...input("allowedIps", true)} rows={2} spellcheck={false} value={key?.allowedIps.join("\n") ?? ""} />
      </Field>
      <Field id="metadata" label="Metadata" problem={problems.metadata} hint="A JSON object your origin receives in X-Keygate-Metadata.">
        <textarea {...input("metadata", true)} rows={3} spellcheck={false} value={JSON.stringify(key?.metadata ?? {}, null, 2)} />
      </Field>
      {mode === "create" && (
        <>
          <Field id="prefix" label="Prefix" problem={problems.prefix} hint="Optional; kg_live or kg_test unless you choose one.">
            <input {...input("prefix", true)} type="text" autocomplete="off" spellcheck={false} />
          </Field>
          <div class="field checkbox">
            <input id="enabled" name="enabled" type="checkbox" checked />
            <label for="enabled">Enabled: the key works as soon as it is created</label>
          </div>
        </>
      )}
    </>
  );
}

type Refill = NonNullable<NonNullable<KeyRecord["credits"]>["refill"]>;
type Settings = Pick<UpdateKeyInput, "name" | "scopes" | "metadata" | "allowedIps" | "ratelimits" | "credits" | "expiresAt">;

/** What the form says, in the API's types; a value that is not JSON is a problem of its field. */
function readSettings(form: HTMLFormElement): { settings: Settings & { expiresIn?: number }; problems: FieldProblems } {
  const data = new FormData(form);
  const text = (name: string) => String(data.get(name) ?? "").trim();
  const number = (name: string) => (text(name) === "" ? undefined : Number(text(name)));
  const problems: FieldProblems = {};

  let metadata: Record<string, unknown> = {};
  try {
    metadata = text("metadata") ? JSON.parse(text("metadata")) : {};
  } catch (err) {
    problems.metadata = `not JSON: ${(err as Error).message}`;
  }

  const ratelimits = [...data.keys()]
    .filter((name) => name.startsWith("limit-name-"))
    .map((name) => name.slice("limit-name-".length))
    .map((id) => ({ name: text(`limit-name-${id}`), limit: Number(text(`limit-limit-${id}`)), windowSeconds: Number(text(`limit-window-${id}`)) }));

  const remaining = number("credits");
  const interval = text("refill");
  const amount = number("refillAmount") ?? 0;
  const refill: Refill | null =
    interval === "daily" ? { amount, interval } : interval === "monthly" ? { amount, interval, day: number("refillDay") ?? 1 } : null;
  const credits = remaining === undefined ? null : { remaining, refill };

  const settings: Settings & { expiresIn?: number } = {
    name: text("name"),
    scopes: words(text("scopes")),
    metadata,
    allowedIps: words(text("allowedIps")),
    ratelimits,
    credits,
  };
  const expires = text("expires");
  const date = new Date(text("expiresAt"));
  if (expires === "never") settings.expiresAt = null;
  else if (expires === "date" && Number.isNaN(date.getTime())) problems.expires = "choose a date and time";
  else if (expires === "date") settings.expiresAt = date.toISOString();
  else if (/^\d+$/.test(expires)) settings.expiresIn = Number(expires);
  return { settings, problems };
}

/** The create body, or the problems that stop it being sent. */
export function createBody(form: HTMLFormElement): { body?: CreateKeyInput; problems: FieldProblems } {
  const { settings, problems } = readSettings(form);
  if (Object.keys(problems).length) return { problems };
  const data = new FormData(form);
  const prefix = String(data.get("prefix") ?? "").trim();
  const { expiresAt, ...rest } = settings;
  return {
    problems,
    body: {
      ...rest,
      ...(expiresAt ? { expiresAt } : {}),
      ownerId: String(data.get("ownerId") ?? "").trim(),
      environment: data.get("environment") === "test" ? "test" : "live",
      enabled: data.get("enabled") === "on",
      ...(prefix ? { prefix } : {}),
    } as CreateKeyInput,
  };
}

/** JSON with object keys in order, so two equal values read the same whatever order their fields came in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/** A refill as the form writes it: a monthly refill names its day (keygate's default is 1). */
const asWritten = (refill: NonNullable<KeyRecord["credits"]>["refill"]) =>
  refill && (refill.interval === "monthly" ? { ...refill, day: refill.day ?? 1 } : { amount: refill.amount, interval: refill.interval });

/**
 * The change body: only the settings that differ from the key as loaded, so saving a new name
 * never resets the live credit balance or the rate limits of the key's lineage.
 */
export function updateBody(form: HTMLFormElement, key: KeyRecord): { body?: UpdateKeyInput; problems: FieldProblems } {
  const { settings, problems } = readSettings(form);
  if (Object.keys(problems).length) return { problems };
  const { expiresIn, ...fields } = settings;
  const body: UpdateKeyInput = {};
  const current: Settings = {
    name: key.name,
    scopes: key.scopes,
    metadata: key.metadata,
    allowedIps: key.allowedIps,
    ratelimits: key.ratelimits,
    credits: key.credits && { remaining: key.credits.remaining, refill: asWritten(key.credits.refill) },
  };
  for (const name of ["name", "scopes", "metadata", "allowedIps", "ratelimits", "credits"] as const) {
    if (!same(fields[name], current[name])) Object.assign(body, { [name]: fields[name] });
  }
  if (expiresIn !== undefined) body.expiresAt = new Date(Date.now() + expiresIn * 1000).toISOString();
  else if (fields.expiresAt !== undefined && !(fields.expiresAt === null && key.expiresAt === null)) body.expiresAt = fields.expiresAt;
  return { body, problems };
}
