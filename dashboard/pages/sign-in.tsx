/** Sign-in: an admin token or admin key, checked with GET /whoami and kept in this tab only. */
import { useLayoutEffect, useRef } from "hono/jsx/dom";
import { ProblemMessage, useAction } from "../data.tsx";
import { signIn, type Problem, type Session } from "../session.ts";

export function SignIn(props: { problem?: Problem; onSignedIn: (session: Session) => void }) {
  const field = useRef<HTMLInputElement>(null);
  const attempt = useAction(signIn);
  // With the render that draws the form, as the Shell's title and focus.
  useLayoutEffect(() => {
    document.title = "Sign in · keygate";
    field.current?.focus();
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    const token = field.current?.value.trim() ?? "";
    const session = await attempt.run(token);
    if (session) props.onSignedIn(session);
  };
  const problem = attempt.problem ?? props.problem;
  return (
    <main id="main" class="sign-in">
      <h1>Sign in to keygate</h1>
      <form onSubmit={submit}>
        <div class={problem ? "field invalid" : "field"}>
          <label for="admin-token">Admin token</label>
          <input
            id="admin-token"
            type="password"
            required
            autocomplete="off"
            spellcheck={false}
            aria-describedby="admin-token-hint"
            aria-invalid={problem ? "true" : undefined}
            ref={field}
          />
          <p class="hint" id="admin-token-hint">
            ADMIN_TOKEN (locally, <code>npm run dev</code> printed it and keeps it in <code>.dev.vars</code>), or a keygate key
            holding admin:read or admin:write. It stays in this browser tab until you sign out or close the tab.
          </p>
          <ProblemMessage problem={problem} />
        </div>
        <button type="submit" disabled={attempt.busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
