/**
 * A portal link for an owner (POST /admin/portal/sessions): a one-use link into the portal,
 * where the owner manages their own keys. Shown to operators and admins only. The owners page
 * shows this same control for the owner it shows.
 */
import { useState } from "hono/jsx/dom";
import { relativeTime } from "../../client/format.ts";
import type { PortalLink } from "../../client/index.ts";
import { ProblemMessage, useAction } from "../data.tsx";
import type { Session } from "../session.ts";
import { CopyField } from "./reveal.tsx";

export function PortalLinkControl(props: { session: Session; ownerId: string }) {
  const [link, setLink] = useState<PortalLink | null>(null);
  const make = useAction(() => props.session.client.portal.link({ ownerId: props.ownerId }));
  if (!props.session.canWrite) return null;
  return (
    <section aria-labelledby="portal-heading">
      <h2 id="portal-heading">Key holder's portal</h2>
      <p>
        The owner ({props.ownerId}) manages their own keys, usage and what is left of their limits in the portal. A link works
        once, within 10 minutes.
      </p>
      <p class="actions">
        <button type="button" class="secondary" disabled={make.busy} onClick={async () => setLink((await make.run()) ?? null)}>
          Portal link for this owner
        </button>
      </p>
      <ProblemMessage problem={make.problem} />
      {link && (
        <CopyField id="portal-link" label="Portal link" value={link.url} hint={`Opens a session that ends ${relativeTime(link.expiresAt)}. Send it to the owner only.`} />
      )}
    </section>
  );
}
