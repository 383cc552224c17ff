/** Create a key: every setting of the key record, then the key itself, shown this once. */
import { useState } from "hono/jsx/dom";
import type { CreatedKey } from "../../client/index.ts";
import { issuesByField, type FieldProblems } from "../components/field.tsx";
import { createBody, KeyFields } from "../components/key-form.tsx";
import { RevealedKey } from "../components/reveal.tsx";
import { ProblemMessage, useAction } from "../data.tsx";
import { href, Link } from "../router.tsx";
import type { Session } from "../session.ts";

export function CreatePage(props: { session: Session }) {
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [problems, setProblems] = useState<FieldProblems>({});
  const [round, setRound] = useState(0);
  const create = useAction(props.session.client.keys.create);

  if (!props.session.canWrite) {
    return (
      <>
        <h1 tabindex={-1}>Create a key</h1>
        <p>
          {props.session.actor.startsWith("user:")
            ? "You have the viewer role: you can look but not change anything."
            : "This admin key holds admin:read, so it can look but not change anything."}{" "}
          Creating keys needs the operator role: ADMIN_TOKEN, an admin:write key, or an identity mapped to operator or admin.
        </p>
      </>
    );
  }

  if (created) {
    return (
      <>
        <h1 tabindex={-1}>Create a key</h1>
        <RevealedKey secret={created.key} heading={`${created.name} is ready`}>
          <p class="actions">
            <Link to={href(`/keys/${created.id}`)} class="button">
              View the key
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
    const { body, problems } = createBody(event.target as HTMLFormElement);
    setProblems(problems);
    if (!body) return;
    const answer = await create.run(body);
    if (answer) setCreated(answer);
  };
  const fieldProblems = { ...problems, ...issuesByField(create.problem?.issues ?? []) };

  return (
    <>
      <h1 tabindex={-1}>Create a key</h1>
      <form class="key-form" onSubmit={submit} key={round}>
        <KeyFields mode="create" problems={fieldProblems} />
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
