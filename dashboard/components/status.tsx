/** Status badges and times as people read them ("2 hours ago"), with the exact time on hover. */
import { keyStatus, relativeTime, type KeyStatus } from "../../client/format.ts";
import type { KeyRecord } from "../../client/index.ts";

const BADGE: Record<KeyStatus, string> = { active: "ok", disabled: "warn", suspended: "warn", expired: "bad", revoked: "bad" };

export function StatusBadge(props: { record: Pick<KeyRecord, "revokedAt" | "expiresAt" | "enabled"> }) {
  const status = keyStatus(props.record);
  return <span class={`badge ${BADGE[status]}`}>{status}</span>;
}

export function Time(props: { iso: string | null; never?: string }) {
  if (!props.iso) return <span class="muted">{props.never ?? "never"}</span>;
  return (
    <time datetime={props.iso} title={props.iso}>
      {relativeTime(props.iso)}
    </time>
  );
}
