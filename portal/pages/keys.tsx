/**
 * The owner's keys, newest first: start, name, scopes, last used, expiry and status; per usable
 * key, Rotate (with a grace period; the new key shown once) and Revoke (after a confirmation
 * that names the key).
 */
import { useState } from "hono/jsx/dom";
import { relativeTime } from "../../client/format.ts";
import type { CreatedPortalKey, PortalKey } from "../../client/portal.ts";
import { Dialog } from "../../dashboard/components/dialog.tsx";
import { RevealedKey } from "../../dashboard/components/reveal.tsx";
import { StatusBadge, Time } from "../../dashboard/components/status.tsx";
import { KeyNamed, StartCell } from "../../dashboard/components/key-start.tsx";
import { ProblemMessage, useAction, useLoad } from "../../dashboard/data.tsx";
import { keyStatus } from "../../client/format.ts";
import { href, navigate } from "../router.tsx";
import { client } from "../session.ts";

/** A grace period of at most 7 days: what the portal API allows. */
const GRACE_CHOICES: [number, string][] = [
  [0, "None: the old key stops now"],
  [3_600, "1 hour"],
  [86_400, "24 hours"],
  [7 * 86_400, "7 days"],
];

export function KeysPage() {
  const [round, setRound] = useState(0);
  const [rotated, setRotated] = useState<{ successor: CreatedPortalKey; from: PortalKey } | null>(null);
  const list = useLoad(() => client.keys.list({ limit: 100 }), [round]);
  const changed = () => setRound((r) => r + 1);

  return (
    <>
      <div class="page-head">
        <h1 tabindex={-1}>Your API keys</h1>
        <button type="button" onClick={() => navigate(href("/keys/new"))}>
          Create key
        </button>
      </div>
      {rotated && (
        <RevealedKey secret={rotated.successor.key} heading={`The replacement for ${rotated.from.name}`}>
          <p>
            It replaces <KeyNamed record={rotated.from} />, which{" "}
            {rotated.from.expiresAt && Date.parse(rotated.from.expiresAt) > Date.now()
              ? `keeps working until ${new Date(rotated.from.expiresAt).toLocaleString()} (${relativeTime(rotated.from.expiresAt)}).`
              : "has stopped working."}
          </p>
          <p>
            <button type="button" class="secondary" onClick={() => setRotated(null)}>
              Done
            </button>
          </p>
        </RevealedKey>
      )}
      <ProblemMessage problem={list.problem} />
      {list.data && list.data.data.length === 0 && <p class="empty">No keys yet. Create one to get started.</p>}
      {list.data && list.data.data.length > 0 && (
        <div class="table-scroll">
          <table class="keys stack">
            <caption class="visually-hidden">Your API keys, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Start</th>
                <th scope="col">Name</th>
                <th scope="col">Scopes</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((k) => (
                <tr>
                  <td data-label="Start">
                    <StartCell start={k.start} />
                  </td>
                  <td data-label="Name" id={`name-${k.id}`}>
                    {k.name}
                  </td>
                  <td data-label="Scopes">{k.scopes.join(" ") || <span class="muted">none</span>}</td>
                  <td data-label="Last used">
                    <Time iso={k.lastUsedAt} />
                  </td>
                  <td data-label="Expires">
                    <Time iso={k.expiresAt} />
                  </td>
                  <td data-label="Status">
                    <StatusBadge record={k} />
                  </td>
                  <td data-label="Actions">
                    <KeyActions record={k} onChanged={changed} onRotated={(successor) => setRotated({ successor, from: k })} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.loading && <p class="loading">Loading…</p>}
    </>
  );
}

function KeyActions(props: { record: PortalKey; onChanged: () => void; onRotated: (successor: CreatedPortalKey) => void }) {
  const key = props.record;
  const [dialog, setDialog] = useState<"rotate" | "revoke" | null>(null);
  const rotate = useAction((grace: number) => client.keys.rotate(key.id, { gracePeriodSeconds: grace }));
  const revoke = useAction(() => client.keys.revoke(key.id));
  const status = keyStatus(key);
  if (status === "revoked" || status === "expired") return <span class="muted">none</span>;

  const close = () => {
    rotate.clear();
    revoke.clear();
    setDialog(null);
  };
  const confirmRotate = async (event: Event) => {
    event.preventDefault();
    const grace = Number(new FormData(event.target as HTMLFormElement).get("grace"));
    const successor = await rotate.run(grace);
    if (!successor) return;
    setDialog(null);
    props.onRotated(successor);
    props.onChanged();
  };
  const confirmRevoke = async () => {
    if (!(await revoke.run())) return;
    setDialog(null);
    props.onChanged();
  };
  const named = `name-${key.id}`;
  return (
    <div class="actions row-actions">
      <button type="button" class="secondary" aria-describedby={named} onClick={() => setDialog("rotate")}>
        Rotate
      </button>
      <button type="button" class="danger" aria-describedby={named} onClick={() => setDialog("revoke")}>
        Revoke
      </button>
      {dialog === "rotate" && (
        <Dialog title={`Rotate ${key.name}`} onClose={close}>
          <form onSubmit={confirmRotate}>
            <p>
              A new key replaces <KeyNamed record={key} />, with the same scopes, limits and credits. Put it where the old one is
              used, then let the old one run out.
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
            Requests made with <KeyNamed record={key} /> are refused from the very next one. This cannot be undone.
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
