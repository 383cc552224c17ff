/** A labelled form control with its hint and the problem keygate named for it. */
import type { Child } from "hono/jsx";

export type FieldProblems = Record<string, string | undefined>;

/** The form field an issue's path names: `ratelimits.0.limit` is the rate limits' field. */
export function fieldOf(path: string): string {
  const first = path.split(".")[0];
  return first === "expiresIn" || first === "expiresAt" ? "expires" : first;
}

export function issuesByField(issues: { path: string; message: string }[]): FieldProblems {
  const byField: FieldProblems = {};
  for (const issue of issues) {
    const field = fieldOf(issue.path);
    const where = issue.path.split(".").slice(1);
    const message = where.length ? `${where.join(".")}: ${issue.message}` : issue.message;
    byField[field] = byField[field] ? `${byField[field]}; ${message}` : message;
  }
  return byField;
}

/** Ids that tie a control to its hint and problem (aria-describedby). */
export const describedBy = (id: string, hint: boolean, problem: string | undefined) =>
  [hint ? `${id}-hint` : "", problem ? `${id}-problem` : ""].filter(Boolean).join(" ") || undefined;

export function Field(props: { id: string; label: string; hint?: Child; problem?: string; children: Child }) {
  return (
    <div class={props.problem ? "field invalid" : "field"}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      <FieldProblem id={props.id} problem={props.problem} />
    </div>
  );
}

export function FieldProblem(props: { id: string; problem?: string }) {
  if (!props.problem) return null;
  return (
    <p class="field-problem" id={`${props.id}-problem`}>
      {props.problem}
    </p>
  );
}
