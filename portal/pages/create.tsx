/** Create a key: a name, scopes (at most what the owner's keys hold), an expiry; then the key itself, shown this once. */
import { useState } from "hono/jsx/dom";
import type { CreatedPortalKey } from "../../client/portal.ts";
import { describedBy, Field, issuesByField, type FieldProblems } from "../../dashboard/components/field.tsx";
import { RevealedKey } from "../../dashboard/components/reveal.tsx";
import { ProblemMessage, useAction, useLoad } from "../../dashboard/data.tsx";
import { keyStatus } from "../../client/format.ts";
import { href, Link } from "../router.tsx";
import { client } from "../session.ts";

const DAY = 86_400;
const EXPIRY_CHOICES: [string, string][] = [
  ["", "Never"],
  [String(7 * DAY), "In 7 days"],
  [String(30 * DAY), "In 30 days"],
  [String(90 * DAY), "In 90 days"],
  [String(365 * DAY), "In 1 year"],
];

export function CreatePage() {
  const [created, setCreated] = useState<CreatedPortalKey | null>(null);
  const [problems, setProblems] = useState<FieldProblems>({});
  const [round, setRound] = useState(0);
  const create = useAction(client.keys.create);
  // The scopes the owner's usable keys hold: what a new key may have (the portal API checks it).
  const keys = useLoad(() => client.keys.list({ limit: 100 }), []);
  const held = [...new Set((keys.data?.data ?? []).filter((k) => keyStatus(k) !== "revoked" && keyStatus(k) !== "expired").flatMap((k) => k.scopes))];

  if (created) {
    return (
      <>
        <h1 tabindex={-1}>Create a key</h1>
        <RevealedKey secret={created.key} heading={`${created.name} is ready`}>
          <p class="actions">
            <Link to={href("/")} class="button">
              Back to your keys
            </Link>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setCreated(null);
                setProblems({});
                setRound(round + 1);
              }}
            >
              Create another key
            </button>
          </p>
        </RevealedKey>
      </>
    );
  }

  const submit = async (event: Event) => {
    event.preventDefault();
    create.clear();
    const form = new FormData(event.target as HTMLFormElement);
    const name = String(form.get("name") ?? "").trim();
    const scopes = String(form.get("scopes") ?? "")
      .split(/[\s,]+/)
      .filter(Boolean);
    const expires = String(form.get("expires") ?? "");
    const environment = String(form.get("environment") ?? "live") as "live" | "test";
    const found: FieldProblems = name ? {} : { name: "Give the key a name." };
    setProblems(found);
    if (found.name) return;
    const answer = await create.run({ name, scopes, environment, ...(expires ? { expiresIn: Number(expires) } : {}) });
    if (answer) setCreated(answer);
  };
  const fieldProblems = { ...problems, ...issuesByField(create.problem?.issues ?? []) };

  return (
    <>
      <h1 tabindex={-1}>Create a key</h1>
      <form class="key-form" onSubmit={submit} key={round}>
        <Field id="name" label="Name" hint="So you can tell your keys apart, for example “Production server”." problem={fieldProblems.name}>
          <input id="name" name="name" type="text" required maxLength={100} autocomplete="off" aria-describedby={describedBy("name", true, fieldProblems.name)} />
        </Field>
        <Field
          id="scopes"
          label="Scopes"
          hint={
            held.length > 0
              ? `Separated by spaces. Your keys may hold: ${held.join(" ")}. Leave empty for none.`
              : "Your keys may hold no scopes yet: leave this empty."
          }
          problem={fieldProblems.scopes}
        >
          <input id="scopes" name="scopes" type="text" autocomplete="off" spellcheck={false} aria-describedby={describedBy("scopes", true, fieldProblems.scopes)} />
        </Field>
        <Field id="expires" label="Expires" problem={fieldProblems.expires}>
          <select id="expires" name="expires" aria-describedby={describedBy("expires", false, fieldProblems.expires)}>
            {EXPIRY_CHOICES.map(([value, label]) => (
              <option value={value}>{label}</option>
            ))}
          </select>
        </Field>
        <Field id="environment" label="Environment" hint="Test keys for trying things out; live keys for real use." problem={fieldProblems.environment}>
          <select id="environment" name="environment" aria-describedby={describedBy("environment", true, fieldProblems.environment)}>
            <option value="live">live</option>
            <option value="test">test</option>
          </select>
        </Field>
        <div class="form-actions">
          <ProblemMessage problem={create.problem} />
          <button type="submit" disabled={create.busy}>
            Create key
          </button>
          <Link to={href("/")} class="button secondary">
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}
