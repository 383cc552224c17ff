/**
 * One key: its details; for writers, edit, enable/disable, rotate with a grace period and
 * revoke after a confirmation that names the key; its usage, recent requests and audit trail.
 */
import { useState } from "hono/jsx/dom";
import { count, creditsText, keyStatus, rateLimitsText, relativeTime } from "../../client/format.ts";
import type { CreatedKey, KeyRecord } from "../../client/index.ts";
import { Dialog } from "../components/dialog.tsx";
import { issuesByField, type FieldProblems } from "../components/field.tsx";
import { KeyAudit, KeyRequests, KeyUsage } from "../components/key-activity.tsx";
import { KeyFields, updateBody } from "../components/key-form.tsx";
import { PortalLinkControl } from "../components/portal-link.tsx";
import { RevealedKey } from "../components/reveal.tsx";
import { StatusBadge, Time } from "../components/status.tsx";
import { KeyNamed, StartCell } from "../components/key-start.tsx";
import { ProblemMessage, useAction, useLoad } from "../data.tsx";
import { href, Link, navigate } from "../router.tsx";
import type { Session } from "../session.ts";
import { DetailsList, type DetailRow } from "../components/details.tsx";

/** The key a rotation just made, handed to its page once and then forgotten: never stored, never in a URL. */
let rotated: { successor: CreatedKey; from: KeyRecord } | null = null;

const GRACE_CHOICES: [number, string][] = [
  [0, "None: the old key stops now"],
  [3_600, "1 hour"],
  [86_400, "24 hours"],
  [7 * 86_400, "7 days"],
  [30 * 86_400, "30 days"],
];

export function KeyPage(props: { session: Session; id: string }) {
  const [round, setRound] = useState(0);
  const [justRotated] = useState(() => {
    const handed = rotated?.successor.id === props.id ? rotated : null;
    rotated = null;
    return handed;
  });
  const record = useLoad(() => props.session.client.keys.get(props.id), [props.id, round]);
  const changed = () => setRound((r) => r + 1);
  const key = record.data;

  if (!key) {
    return (
      <>
        <h1 tabindex={-1}>{record.problem ? "Key not shown" : "Key"}</h1>
        <ProblemMessage problem={record.problem} />
        {record.loading && <p class="loading">Loading…</p>}
        <p>
          <Link to={href("/")}>Back to the keys</Link>
        </p>
      </>
    );
  }
  const writable = props.session.canWrite && keyStatus(key) !== "revoked";
  return (
    <>
      <p class="crumbs">
        <Link to={href("/")}>All keys</Link> / <code>{key.start ? `${key.start}…` : key.id}</code>
      </p>
      <div class="title">
        <h1 tabindex={-1}>{key.name}</h1>
        <StatusBadge record={key} />
      </div>
      {justRotated && (
        <RevealedKey secret={justRotated.successor.key} heading="The replacement key">
          <p>
            It replaces <KeyNamed record={justRotated.from} />, which{" "}
            {justRotated.from.expiresAt && Date.parse(justRotated.from.expiresAt) > Date.now()
              ? `keeps working until ${new Date(justRotated.from.expiresAt).toLocaleString()} (${relativeTime(justRotated.from.expiresAt)}).`
              : "has stopped working."}
          </p>
        </RevealedKey>
      )}
      {writable && <KeyActions session={props.session} record={key} onChanged={changed} />}
      <Details record={key} />
      {writable && <EditKey session={props.session} record={key} onChanged={changed} />}
      <PortalLinkControl session={props.session} ownerId={key.ownerId} />
      <KeyUsage session={props.session} id={key.id} round={round} />
      <KeyRequests session={props.session} id={key.id} round={round} />
      <KeyAudit session={props.session} id={key.id} round={round} />
      <p>
        <button type="button" class="secondary" onClick={changed}>
          Refresh
        </button>
      </p>
    </>
  );
}

function Details(props: { record: KeyRecord }) {
  const k = props.record;
  const rows: DetailRow[] = [
    ["ID", <code>{k.id}</code>],
    ["Owner", k.ownerId],
    ["Environment", k.environment],
    ["Start", <StartCell start={k.start} />],
    ...(k.imported ? [["Imported", "yes: it came in through the import, in the format it had"] as DetailRow] : []),
    ["Scopes", k.scopes.join(" ") || "none"],
    ["Rate limits", rateLimitsText(k.ratelimits)],
    ["Credits", creditsText(k.credits)],
    ["Allowed IPs", k.allowedIps.join(", ") || "any"],
    ["Metadata", <code>{JSON.stringify(k.metadata)}</code>],
    ["Expires", <Time iso={k.expiresAt} />],
    ...(keyStatus(k) === "suspended" ? [["Suspended until", <Time iso={k.suspendedUntil} />] as DetailRow] : []),
    ["Last used", <Time iso={k.lastUsedAt} />],
    ["Requests", count(k.usageCount)],
    ...(k.rotatedFrom ? [["Rotated from", <Link to={href(`/keys/${k.rotatedFrom}`)}>{k.rotatedFrom}</Link>] as DetailRow] : []),
    ...(k.revokedAt ? [["Revoked", <Time iso={k.revokedAt} />] as DetailRow] : []),
    ["Created", <Time iso={k.createdAt} />],
    ["Updated", <Time iso={k.updatedAt} />],
    ["Version", String(k.version)],
  ];
  return <DetailsList rows={rows} />;
}

function KeyActions(props: { session: Session; record: KeyRecord; onChanged: () => void }) {
  const { client } = props.session;
  const key = props.record;
  const [dialog, setDialog] = useState<"rotate" | "revoke" | null>(null);
  const toggle = useAction(() => client.keys.update(key.id, { enabled: !key.enabled }));
  const lift = useAction(() => client.keys.update(key.id, { suspendedUntil: null }));
  const rotate = useAction((grace: number) => client.keys.rotate(key.id, { gracePeriodSeconds: grace }));
  const revoke = useAction(() => client.keys.revoke(key.id));
  const expired = keyStatus(key) === "expired";

  const confirmRotate = async (event: Event) => {
    event.preventDefault();
    const grace = Number(new FormData(event.target as HTMLFormElement).get("grace"));
    const successor = await rotate.run(grace);
    if (!successor) return;
    const from = await client.keys.get(key.id).catch(() => key);
    rotated = { successor, from };
    setDialog(null);
    navigate(href(`/keys/${successor.id}`));
  };
  const confirmRevoke = async () => {
    if (!(await revoke.run())) return;
    setDialog(null);
    props.onChanged();
  };
  const close = () => {
    rotate.clear();
    revoke.clear();
    setDialog(null);
  };

  return (
    <div class="key-actions">
      <div class="actions">
        <button
          type="button"
          class="secondary"
          disabled={toggle.busy}
          onClick={async () => (await toggle.run()) && props.onChanged()}
        >
          {key.enabled ? "Disable" : "Enable"}
        </button>
        {keyStatus(key) === "suspended" && (
          <button type="button" class="secondary" disabled={lift.busy} onClick={async () => (await lift.run()) && props.onChanged()}>
            Lift suspension
          </button>
        )}
        {!expired && (
          <button type="button" class="secondary" onClick={() => setDialog("rotate")}>
            Rotate
          </button>
        )}
        <button type="button" class="danger" onClick={() => setDialog("revoke")}>
          Revoke
        </button>
      </div>
      <ProblemMessage problem={toggle.problem ?? lift.problem} />
      {dialog === "rotate" && (
        <Dialog title={`Rotate ${key.name}`} onClose={close}>
          <form onSubmit={confirmRotate}>
            <p>
              A new key replaces <KeyNamed record={key} />, with the same scopes, rate limits and credits. Hand it to the
              owner, then let the old one run out.
            </p>
            <div class="field">
              <label for="grace">Grace period</label>
              <select id="grace" name="grace" aria-describedby="grace-hint">
                {GRACE_CHOICES.map(([seconds, label]) => (
                  <option value={String(seconds)}>{label}</option>
                ))}
              </select>
              <p class="hint" id="grace-hint">
                How long the old key keeps working beside the new one.
              </p>
            </div>
            <ProblemMessage problem={rotate.problem} />
            <div class="dialog-actions">
              <button type="button" class="secondary" onClick={close}>
                Cancel
              </button>
              <button type="submit" disabled={rotate.busy}>
                Rotate key
              </button>
            </div>
          </form>
        </Dialog>
      )}
      {dialog === "revoke" && (
        <Dialog title={`Revoke ${key.name}?`} onClose={close}>
          <p>
            Requests made with <KeyNamed record={key} /> (owner {key.ownerId}) are refused from the very next one. This cannot be
            undone.
          </p>
          <ProblemMessage problem={revoke.problem} />
          <div class="dialog-actions">
            <button type="button" class="secondary" onClick={close}>
              Cancel
            </button>
            <button type="button" class="danger" disabled={revoke.busy} onClick={confirmRevoke}>
              Revoke key
            </button>
          </div>
        </Dialog>
      )}
    </div>
  );
}

function EditKey(props: { session: Session; record: KeyRecord; onChanged: () => void }) {
  const [open, setOpen] = useState(false);
  const [problems, setProblems] = useState<FieldProblems>({});
  const [note, setNote] = useState("");
  const save = useAction((body: Parameters<Session["client"]["keys"]["update"]>[1]) => props.session.client.keys.update(props.record.id, body));

  const submit = async (event: Event) => {
    event.preventDefault();
    save.clear();
    setNote("");
    const { body, problems } = updateBody(event.target as HTMLFormElement, props.record);
    setProblems(problems);
    if (!body) return;
    if (Object.keys(body).length === 0) {
      setNote("Nothing changed.");
      return;
    }
    if (await save.run(body)) {
      setOpen(false);
      setNote("Saved.");
      props.onChanged();
    }
  };
  const fieldProblems = { ...problems, ...issuesByField(save.problem?.issues ?? []) };
  return (
    <section aria-labelledby="edit-heading">
      <div class="section-head">
        <h2 id="edit-heading">Settings</h2>
        <button type="button" class="secondary" aria-expanded={open ? "true" : "false"} aria-controls="edit-form" onClick={() => setOpen(!open)}>
          {open ? "Close editor" : "Edit"}
        </button>
      </div>
      <p role="status" class="hint">
        {note}
      </p>
      {open && (
        <form id="edit-form" class="key-form" onSubmit={submit} key={props.record.version}>
          <KeyFields mode="edit" record={props.record} problems={fieldProblems} />
          <div class="form-actions">
            <ProblemMessage problem={save.problem} />
            <button type="submit" disabled={save.busy}>
              Save changes
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
