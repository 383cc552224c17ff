/**
 * Rate limits as rows of form fields (label, requests, window in seconds), for the owner and
 * plan forms: a fieldset named after the API field it fills, so keygate's problems with it show
 * beneath it. Adding a row moves focus into it; removing one returns focus to "Add".
 */
import { useLayoutEffect, useRef, useState } from "hono/jsx/dom";
import type { RateLimit } from "../../client/index.ts";
import { describedBy, FieldProblem } from "./field.tsx";

interface Row {
  id: number;
  name: string;
  limit: string;
  windowSeconds: string;
}

let rowIds = 0;
const row = (r?: RateLimit): Row => ({
  id: ++rowIds,
  name: r?.name ?? "",
  limit: r ? String(r.limit) : "",
  windowSeconds: r ? String(r.windowSeconds) : "",
});

/** `field` names the inputs (`<field>-name-<row>`, …) and the fieldset's hint and problem. */
export function LimitRows(props: { field: string; legend: string; hint: string; initial: RateLimit[]; problem?: string; addLabel?: string }) {
  const { field } = props;
  const [rows, setRows] = useState<Row[]>(() => props.initial.map(row));
  const [focus, setFocus] = useState<{ row: number } | { add: true } | null>(null);
  const addButton = useRef<HTMLButtonElement>(null);
  useLayoutEffect(() => {
    if (focus && "row" in focus) document.querySelector<HTMLInputElement>(`[name="${field}-name-${focus.row}"]`)?.focus();
    if (focus && "add" in focus) addButton.current?.focus();
  }, [focus]);
  const what = props.legend.toLowerCase();
  return (
    <fieldset class={props.problem ? "invalid" : undefined} aria-describedby={describedBy(field, true, props.problem)}>
      <legend>{props.legend}</legend>
      <p class="hint" id={`${field}-hint`}>
        {props.hint}
      </p>
      {rows.map((r, i) => (
        <div class="limit-row" key={r.id}>
          <label>
            <span>Label</span>
            <input name={`${field}-name-${r.id}`} aria-label={`${props.legend} ${i + 1} label`} type="text" value={r.name} placeholder="day" required />
          </label>
          <label>
            <span>Requests</span>
            <input name={`${field}-limit-${r.id}`} aria-label={`${props.legend} ${i + 1} requests`} type="number" min="1" value={r.limit} required />
          </label>
          <label>
            <span>Window (seconds)</span>
            <input name={`${field}-window-${r.id}`} aria-label={`${props.legend} ${i + 1} window in seconds`} type="number" min="1" value={r.windowSeconds} required />
          </label>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setRows(rows.filter((other) => other.id !== r.id));
              setFocus({ add: true });
            }}
          >
            Remove<span class="visually-hidden"> {what} {i + 1}</span>
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
        {props.addLabel ?? "Add limit"}
      </button>
      <FieldProblem id={field} problem={props.problem} />
    </fieldset>
  );
}

/** The limits the rows of `field` hold, in the API's shape. */
export function readLimits(data: FormData, field: string): RateLimit[] {
  const text = (name: string) => String(data.get(name) ?? "").trim();
  return [...data.keys()]
    .filter((name) => name.startsWith(`${field}-name-`))
    .map((name) => name.slice(`${field}-name-`.length))
    .map((id) => ({ name: text(`${field}-name-${id}`), limit: Number(text(`${field}-limit-${id}`)), windowSeconds: Number(text(`${field}-window-${id}`)) }));
}

/** JSON with object keys in order, so two equal values read the same whatever order their fields came in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
export const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);
