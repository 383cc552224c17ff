/**
 * A key's start, as the dashboard and the portal show it: in a table cell, or naming the key in a
 * sentence. A key imported by its hash alone has none (DESIGN.md, "Importing keys"): the cell
 * says so, and a sentence names the key by its id instead.
 */
import { NO_START } from "../../client/format.ts";

const HASH_ONLY = "Imported by its hash: keygate never saw this key, so it cannot show its first characters.";

export function StartCell(props: { start: string | null }) {
  if (props.start === null) return <span class="muted" title={HASH_ONLY}>{NO_START}</span>;
  return <code>{props.start}</code>;
}

export function KeyNamed(props: { record: { start: string | null; id: string } }) {
  const { start, id } = props.record;
  if (start === null) {
    return (
      <>
        the key <code>{id}</code>
      </>
    );
  }
  return <code>{start}…</code>;
}
