/** The dashboard: sign-in, then the page the path names inside the navigation. */
import type { Child } from "hono/jsx";
import { useCallback, useLayoutEffect, useRef, useState } from "hono/jsx/dom";
import { useUnauthorized } from "./data.tsx";
import { href, Link, useLocation, type Location } from "./router.tsx";
import { ACCESS_LOGOUT, forget, resume, problemOf, signedInAs, type Problem, type Session } from "./session.ts";
import { SignIn } from "./pages/sign-in.tsx";
import { KeysPage } from "./pages/keys.tsx";
import { CreatePage } from "./pages/create.tsx";
import { KeyPage } from "./pages/key.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { UsagePage } from "./pages/usage.tsx";
import { WebhooksPage } from "./pages/webhooks.tsx";
import { WebhookPage } from "./pages/webhook.tsx";
import { SecurityPage } from "./pages/security.tsx";
import { OwnersPage } from "./pages/owners.tsx";
import { OwnerPage } from "./pages/owner.tsx";
import { PlansPage } from "./pages/plans.tsx";
import { PlanPage } from "./pages/plan.tsx";

type Started = { state: "starting" } | { state: "signed-out"; problem?: Problem } | { state: "signed-in"; session: Session };

export function App() {
  const [started, setStarted] = useState<Started>({ state: "starting" });
  const where = useLocation();

  useLayoutEffect(() => {
    resume().then(
      (session) => setStarted(session ? { state: "signed-in", session } : { state: "signed-out" }),
      (err) => setStarted({ state: "signed-out", problem: problemOf(err) }),
    );
  }, []);

  const signOut = useCallback((problem?: Problem) => {
    forget();
    setStarted({ state: "signed-out", problem });
  }, []);
  // Behind Cloudflare Access, signing out ends Access's session: the dashboard itself holds none.
  const leave = (session: Session) => (session.viaAccess ? location.assign(ACCESS_LOGOUT) : signOut());
  useUnauthorized(signOut);

  if (started.state === "starting") return <p class="loading">Loading…</p>;
  if (started.state === "signed-out") {
    return <SignIn problem={started.problem} onSignedIn={(session) => setStarted({ state: "signed-in", session })} />;
  }
  return (
    <Shell session={started.session} where={where} onSignOut={() => leave(started.session)}>
      <Page session={started.session} where={where} />
    </Shell>
  );
}

function Page(props: { session: Session; where: Location }) {
  const { path, query } = props.where;
  const key = /^\/keys\/(key_[0-9A-Za-z]+)$/.exec(path);
  if (path === "/" || path === "/keys") return <KeysPage session={props.session} query={query} />;
  if (path === "/keys/new") return <CreatePage session={props.session} />;
  // One page per key: state such as a key just revealed never carries over to another key.
  if (key) return <KeyPage session={props.session} id={key[1]} key={key[1]} />;
  if (path === "/audit") return <AuditPage session={props.session} query={query} />;
  if (path === "/usage") return <UsagePage session={props.session} query={query} />;
  if (path === "/webhooks") return <WebhooksPage session={props.session} />;
  const webhook = /^\/webhooks\/(whk_[0-9A-Za-z]+)$/.exec(path);
  if (webhook) return <WebhookPage session={props.session} id={webhook[1]} query={query} key={webhook[1]} />;
  if (path === "/security") return <SecurityPage session={props.session} query={query} />;
  if (path === "/owners") return <OwnersPage session={props.session} query={query} />;
  const owner = /^\/owners\/([^/]+)$/.exec(path);
  const ownerId = owner ? decoded(owner[1]) : null;
  if (ownerId) return <OwnerPage session={props.session} id={ownerId} key={ownerId} />;
  if (path === "/plans") return <PlansPage session={props.session} />;
  const plan = /^\/plans\/([a-z0-9][a-z0-9_-]{0,39})$/.exec(path);
  if (plan) return <PlanPage session={props.session} id={plan[1]} key={plan[1]} />;
  return (
    <>
      <h1 tabindex={-1}>Page not found</h1>
      <p>
        The dashboard has no page here. <Link to={href("/")}>Go to the keys</Link>.
      </p>
    </>
  );
}

/** A path segment as the owner's id it encodes (ids may hold any printable character); null if it does not decode. */
function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function titleOf(path: string): string {
  if (path === "/" || path === "/keys") return "API keys";
  if (path === "/keys/new") return "Create a key";
  if (path.startsWith("/keys/")) return "Key";
  if (path.startsWith("/webhooks/")) return "Webhook endpoint";
  if (path.startsWith("/owners/")) return "Owner";
  if (path.startsWith("/plans/")) return "Plan";
  return (
    { "/audit": "Audit log", "/usage": "Usage", "/webhooks": "Webhooks", "/security": "Security events", "/owners": "Owners", "/plans": "Plans" }[path] ??
    "Page not found"
  );
}

const ROLE_HINT: Record<Session["role"], string> = {
  viewer: "Reads everything, changes nothing",
  operator: "Creates, changes, rotates and revokes keys; changes owners; makes portal links",
  admin: "Everything, plans and webhooks too",
};

/** DESIGN.md's order: Keys, Owners, Plans, Webhooks, Security, Audit log, Usage. */
const NAV: [string, string][] = [
  ["/", "Keys"],
  ["/owners", "Owners"],
  ["/plans", "Plans"],
  ["/webhooks", "Webhooks"],
  ["/security", "Security"],
  ["/audit", "Audit log"],
  ["/usage", "Usage"],
];

function Shell(props: { session: Session; where: Location; onSignOut: () => void; children: Child }) {
  const main = useRef<HTMLElement>(null);
  const section = props.where.path.startsWith("/keys") ? "/" : (["/webhooks", "/owners", "/plans"].find((p) => props.where.path.startsWith(p)) ?? props.where.path);
  // A new page gets its own title, and moves focus to its heading, so keyboard and
  // screen-reader users start there. Both happen with the render that draws the page (a layout
  // effect, as every effect of a page is here: see useLoad in data.tsx).
  const first = useRef(true);
  useLayoutEffect(() => {
    document.title = `${titleOf(props.where.path)} · keygate`;
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [props.where.path]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">keygate</span>
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
            {signedInAs(props.session)}
            <span class={props.session.canWrite ? "badge" : "badge warn"} title={ROLE_HINT[props.session.role]}>
              {props.session.canWrite ? props.session.role : `${props.session.role}, read-only`}
            </span>
          </span>
          <button type="button" class="secondary" onClick={props.onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabindex={-1} ref={main}>
        {props.children}
      </main>
    </>
  );
}
