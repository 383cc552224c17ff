/** Audit entries as a table: when, what, which key, who, and each field's change. */
import type { AuditEntry } from "../../client/index.ts";
import { href, Link } from "../router.tsx";
import { Time } from "./status.tsx";

const short = (value: unknown) => {
  const text = value === null || value === undefined ? "none" : typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
};

function Changes(props: { entry: AuditEntry }) {
  const fields = Object.entries(props.entry.changes);
  if (fields.length === 0) return <span class="muted">no field changed</span>;
  return (
    <ul class="changes">
      {fields.map(([field, change]) => (
        <li>
          <span class="field-name">{field}</span>{" "}
          {props.entry.action === "key.create" ? short(change.to) : `${short(change.from)} → ${short(change.to)}`}
        </li>
      ))}
    </ul>
  );
}

export function AuditTable(props: { entries: AuditEntry[]; caption: string; showKey: boolean }) {
  return (
    <div class="table-scroll">
      <table class="stack">
        <caption class="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            {props.showKey && <th scope="col">Key</th>}
            <th scope="col">Actor</th>
            <th scope="col">Changes</th>
            <th scope="col">Request</th>
          </tr>
        </thead>
        <tbody>
          {props.entries.map((entry) => (
            <tr>
              <td data-label="When">
                <Time iso={entry.at} />
              </td>
              <td data-label="Action">
                <code>{entry.action}</code>
              </td>
              {props.showKey && (
                <td data-label="Key">
                  <Link to={href(entry.targetId.startsWith("whk_") ? `/webhooks/${entry.targetId}` : `/keys/${entry.targetId}`)}>
                    <code>{entry.targetId}</code>
                  </Link>
                </td>
              )}
              <td data-label="Actor">{entry.actor}</td>
              <td data-label="Changes">
                <Changes entry={entry} />
              </td>
              <td data-label="Request">
                <code class="small">{entry.requestId}</code>
                {entry.clientIp && <span class="muted"> from {entry.clientIp}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
