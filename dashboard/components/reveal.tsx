/**
 * A key shown once, as Stripe shows a new secret: a read-only field with a Copy button and a
 * plain warning. keygate stores only the key's hash; once this page is left, it is gone.
 */
import { useLayoutEffect, useRef, useState } from "hono/jsx/dom";

async function copy(field: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(field.value);
    return true;
  } catch {
    // No clipboard API (an insecure origin) or no permission: select the text for Ctrl-C instead.
    field.focus();
    field.select();
    return false;
  }
}

/**
 * `label` and `warning` name what is shown: a key by default ("New key"), a webhook endpoint's
 * signing secret on the webhooks pages.
 */
export function RevealedKey(props: { secret: string; heading: string; children?: unknown; label?: string; warning?: string }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => heading.current?.focus(), []);
  return (
    <section class="reveal" aria-labelledby="reveal-heading">
      <h2 id="reveal-heading" tabindex={-1} ref={heading}>
        {props.heading}
      </h2>
      <p class="warning" id="reveal-warning">
        {props.warning ?? "Copy this key now and keep it somewhere safe. keygate stores only a hash of it, so it will not be shown again."}
      </p>
      <CopyField id="new-key" label={props.label ?? "New key"} value={props.secret} describedBy="reveal-warning" />
      {props.children}
    </section>
  );
}

/** A read-only field with a Copy button: the text selected for Ctrl-C where the clipboard is out of reach. */
export function CopyField(props: { id: string; label: string; value: string; describedBy?: string; hint?: string }) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<boolean | null>(null);
  const described = [props.describedBy, props.hint ? `${props.id}-hint` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <div class="copy-row">
        <input id={props.id} type="text" readonly value={props.value} aria-describedby={described} spellcheck={false} autocomplete="off" ref={field} />
        <button type="button" onClick={async () => field.current && setCopied(await copy(field.current))}>
          Copy
        </button>
      </div>
      {props.hint && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      <p class="hint" role="status">
        {copied === true ? "Copied to the clipboard." : copied === false ? "Selected: press Ctrl-C (⌘-C) to copy." : ""}
      </p>
    </div>
  );
}
