/**
 * The portal: a key holder's own keys, usage and limits, under the operator's product name. The
 * session is the cookie a portal link set; when the portal API says it has ended (401), the
 * page says so and offers nothing else.
 */
import type { Child } from "hono/jsx";
import { useLayoutEffect, useRef, useState } from "hono/jsx/dom";
import type { PortalMe } from "../client/portal.ts";
import { ProblemMessage, useAction, useUnauthorized } from "../dashboard/data.tsx";
import { problemOf, type Problem } from "../dashboard/session.ts";
import { href, Link, usePath } from "./router.tsx";
import { client, PORTAL_TITLE } from "./session.ts";
import { KeysPage } from "./pages/keys.tsx";
import { CreatePage } from "./pages/create.tsx";
import { UsagePage } from "./pages/usage.tsx";

type Started = { state: "starting" } | { state: "signed-out"; why: "ended" | "out" | Problem } | { state: "signed-in"; me: PortalMe };

export function App() {
  const [started, setStarted] = useState<Started>({ state: "starting" });
  const path = usePath();

  useLayoutEffect(() => {
    client.me().then(
      (me) => setStarted({ state: "signed-in", me }),
      (err) => {
        const problem = problemOf(err);
        setStarted({ state: "signed-out", why: problem.status === 401 ? "ended" : problem });
      },
    );
  }, []);
  useUnauthorized(() => setStarted({ state: "signed-out", why: "ended" }));

  if (started.state === "starting") return <p class="loading">Loading…</p>;
  if (started.state === "signed-out") return <SignedOut why={started.why} />;
  return (
    <Shell me={started.me} path={path} onSignedOut={() => setStarted({ state: "signed-out", why: "out" })}>
      <Page me={started.me} path={path} />
    </Shell>
  );
}

function Page(props: { me: PortalMe; path: string }) {
  if (props.path === "/" || props.path === "/keys") return <KeysPage />;
  if (props.path === "/keys/new") return <CreatePage />;
  if (props.path === "/usage") return <UsagePage me={props.me} />;
  return (
    <>
      <h1 tabindex={-1}>Page not found</h1>
      <p>
        Nothing here. <Link to={href("/")}>Go to your keys</Link>.
      </p>
    </>
  );
}

const TITLES: Record<string, string> = { "/": "Your API keys", "/keys": "Your API keys", "/keys/new": "Create a key", "/usage": "Usage" };

const NAV: [string, string][] = [
  ["/", "Keys"],
  ["/usage", "Usage"],
];

function SignedOut(props: { why: "ended" | "out" | Problem }) {
  useLayoutEffect(() => {
    document.title = `Signed out · ${PORTAL_TITLE}`;
  }, []);
  return (
    <main id="main" class="sign-in">
      <p class="brand">{PORTAL_TITLE}</p>
      <h1>{props.why === "out" ? "You are signed out" : "Not signed in"}</h1>
      {typeof props.why === "object" ? (
        <ProblemMessage problem={props.why} />
      ) : (
        <p>
          {props.why === "out" ? "Your session has ended. " : "This portal link has expired or was already used, or your session has ended. "}
          To manage your keys again, open the portal from the app that gave you your keys.
        </p>
      )}
    </main>
  );
}

function Shell(props: { me: PortalMe; path: string; onSignedOut: () => void; children: Child }) {
  const main = useRef<HTMLElement>(null);
  const section = props.path.startsWith("/keys") ? "/" : props.path;
  const signOut = useAction(async () => {
    await client.signOut();
    return true;
  });
  const first = useRef(true);
  useLayoutEffect(() => {
    document.title = `${TITLES[props.path] ?? "Page not found"} · ${PORTAL_TITLE}`;
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [props.path]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">{PORTAL_TITLE}</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map(([path, label]) => (
              <li>
                <Link to={href(path)} aria-current={section === path ? "page" : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            <span class="visually-hidden">Signed in as </span>
            {props.me.name ?? props.me.ownerId}
          </span>
          {props.me.returnUrl && (
            <a href={props.me.returnUrl} rel="noopener">
              Back to the app
            </a>
          )}
          <button type="button" class="secondary" disabled={signOut.busy} onClick={async () => (await signOut.run()) && props.onSignedOut()}>
            Sign out
          </button>
        </div>
      </header>
      <ProblemMessage problem={signOut.problem} />
      <main id="main" tabindex={-1} ref={main}>
        {props.children}
      </main>
    </>
  );
}
